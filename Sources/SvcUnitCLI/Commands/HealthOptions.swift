public import ArgumentParser
import ServiceModel

/// The health supervision options of `create` and `set` (issue 13): `--health-interval`,
/// `--unhealthy-after`, `--on-unhealthy` and `--health-grace`, and `set`'s `--no-health-supervision`.
///
/// Not obvious: any one of them turns supervision on (the others keep their values, or the defaults:
/// every 10 s, unhealthy after 3, restart, no grace); they apply to every kind of service, a user's
/// ZenML class included, because they live in svcunit's own `svcunit.health` object. Supervision
/// needs something to check, so a service without an endpoint monitor is refused (exit 2).
public struct HealthOptions: ParsableArguments, Sendable {
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Check the endpoint's health monitor every SECONDS while the service runs (1-86400); turns health supervision on.",
        valueName: "seconds"))
    public var healthInterval: DurationValue?

    @Option(parsing: .unconditional, help: ArgumentHelp("Consecutive failed checks that make the service unhealthy (1-1000, default 3).", valueName: "n"))
    public var unhealthyAfter: String?

    @Option(help: ArgumentHelp("What an unhealthy service gets: restart (default) or record.", valueName: "action"))
    public var onUnhealthy: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds after the service became active before checks begin (0-86400, default 0).", valueName: "seconds"))
    public var healthGrace: DurationValue?

    public init() {}

    /// Every value checked at parse time (`apply` reads them again).
    public func validate() throws {
        try checkingValues { _ = try apply(to: nil) }
    }

    /// The options given, by name.
    var given: [String] {
        [("--health-interval", healthInterval != nil), ("--unhealthy-after", unhealthyAfter != nil),
         ("--on-unhealthy", onUnhealthy != nil), ("--health-grace", healthGrace != nil)].filter(\.1).map(\.0)
    }

    /// `existing` with the options given applied (each validated); nil in, nil out when none is given.
    /// - Throws: `CLIError.usage` naming the option and the allowed values.
    func apply(to existing: HealthSupervision?) throws(CLIError) -> HealthSupervision? {
        guard !given.isEmpty else { return existing }
        var health = existing ?? HealthSupervision()
        if let healthInterval {
            health.intervalSeconds = try Self.seconds(healthInterval, option: "--health-interval", range: HealthSupervision.intervalRange)
        }
        if let unhealthyAfter {
            guard let n = Int(unhealthyAfter), HealthSupervision.unhealthyAfterRange.contains(n) else {
                throw CLIError.usage("--unhealthy-after \"\(Output.escaped(unhealthyAfter))\" must be a whole number of failed checks, 1 to 1000")
            }
            health.unhealthyAfter = n
        }
        if let onUnhealthy {
            guard let action = HealthSupervision.Action(rawValue: onUnhealthy) else {
                throw CLIError.usage("--on-unhealthy \"\(Output.escaped(onUnhealthy))\" is not an action; give restart or record")
            }
            health.action = action
        }
        if let healthGrace {
            health.graceSeconds = try Self.seconds(healthGrace, option: "--health-grace", range: HealthSupervision.graceRange)
        }
        return health
    }

    /// A duration option in seconds (`30`, `2.5`, `500ms`, `2m` as everywhere else) within `range`.
    static func seconds(_ value: DurationValue, option: String, range: ClosedRange<Double>) throws(CLIError) -> Double {
        let seconds = try value.seconds(option, allowZero: true)
        guard range.contains(seconds) else {
            throw CLIError.usage("\(option) \(Output.escaped(value.text)) must be \(Int(range.lowerBound)) to \(Int(range.upperBound)) seconds")
        }
        return seconds
    }

    /// Refuses supervision of a document with nothing to check: its endpoint has no health monitor.
    static func checkSupervisable(_ document: ServiceDocument) throws(CLIError) {
        guard document.healthSupervision != nil, document.endpoint?.monitor == nil else { return }
        throw CLIError.usage("health supervision needs an endpoint with a health monitor to check; "
                             + "add --port (TCP check) or --health-path (HTTP check)")
    }
}

extension SvcUnit.SetCommand {
    /// `set`'s health options, for every kind of service (svcunit keeps them, not the class): the
    /// four options change supervision, `--no-health-supervision` removes it (not with them). Whether
    /// there is a monitor to check is decided once every option is applied (`--port` may add one).
    func applyHealth(to document: inout ServiceDocument) throws(CLIError) {
        if noHealthSupervision {
            if let first = health.given.first { throw CLIError.usage("--no-health-supervision cannot be combined with \(first)") }
            document.healthSupervision = nil
            return
        }
        document.healthSupervision = try health.apply(to: document.healthSupervision)
    }
}
