public import ArgumentParser
import SystemdProvisioning

/// `SERVICE... [--timeout S]`: the services a batch command acts on, and how long to wait for each.
///
/// Shared by start, stop, restart, delete, enable and disable as an `@OptionGroup`, so they parse,
/// validate and resolve services the same way. Not obvious: resolving happens before systemd is
/// contacted, so a misspelt name fails with exit 2 or 3 even when no user manager is reachable.
public struct ServiceSelection: ParsableArguments {
    @Argument(help: ArgumentHelp("Services: UUID, unique UUID prefix, or name.", valueName: "service"))
    public var services: [String]

    // argument-parser appends "(default: 30)" itself.
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for each service.", valueName: "seconds"))
    public var timeout = ServiceSelection.defaultTimeout

    @Flag(help: "Print one JSON array: per service uuid, name, ok, and message or error (its facts as fields).")
    public var json = false

    public init() {}

    /// `--timeout`'s default (also `PlainCommandLine`'s).
    static let defaultTimeout = DurationValue("30")

    public func validate() throws {
        if services.isEmpty { throw ValidationError("name at least one service") }
        try checkingValues { _ = try timeout.seconds("--timeout") }
    }
}

extension Batch {
    /// Resolves `selection`, connects to the user manager, and runs `operation` for each service
    /// concurrently, reporting each outcome on its own line (see `run(_:verb:_:)`).
    /// - Parameter allowingMissing: full UUIDs without a stored entry are acted on too (`stop` and
    ///   `delete --force` of a unit whose document is gone); the operation reports "no service" itself.
    static func run(
        _ global: GlobalOptions, _ selection: ServiceSelection, verb: String, allowingMissing: Bool = false,
        _ operation: @escaping @Sendable (ServiceLookup.Candidate, SystemdServices, Duration) async throws -> String
    ) async throws {
        let context = CommandContext(global)
        let timeout = try selection.timeout.duration("--timeout")
        let targets = try context.lookup().resolveAll(selection.services, allowingMissing: allowingMissing)
        let systemd = try await context.services(store: try context.store(create: false))
        try await run(targets, verb: verb, json: selection.json, root: global.root) { target in try await operation(target, systemd, timeout) }
    }
}
