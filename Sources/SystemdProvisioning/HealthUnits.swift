import FoundationEssentials
public import ServiceModel
public import SystemdManager

/// The two systemd units that supervise a service's health (issue 13): a timer and the oneshot
/// check service it triggers, both derived from the service's UUID alone.
///
/// Not obvious, and verified against the 252 manager: the service's own unit `Wants=` the timer,
/// and the timer `BindsTo=` and is `After=` it. So the timer starts once the service is up (after
/// its start job: READY for a notify unit), is stopped with it (stop, failure, deletion) and
/// restarted with it (`RestartUnit` propagates to bound units). An automatic restart
/// (`Restart=on-failure`) first stops the timer, because the unit passes through `deactivating`, and
/// its restart job then pulls the timer in again through `Wants=`: no restart loses the timer. The
/// transient timer and check are created as *auxiliary* units of the service's `StartTransientUnit`
/// (loaded, not started), which is what lets the service's unit name them at creation.
public struct HealthUnits: Sendable, Hashable {
    public let uuid: ServiceUUID

    public init(_ uuid: ServiceUUID) { self.uuid = uuid }

    /// `svcunit-health-<uuid>.timer`: the transient timer of a service run as `svcunit-<uuid>.service`.
    public var timer: UnitName { try! UnitName(validating: "svcunit-health-\(uuid.rawValue).timer") }
    /// `svcunit-health-<uuid>.service`: the oneshot check the timer triggers (same name, as systemd pairs them).
    public var check: UnitName { try! UnitName(validating: "svcunit-health-\(uuid.rawValue).service") }
    /// `svcunit-health@<uuid>.timer`: the instance of the packaged timer template, for an enabled service.
    public var templateTimer: UnitName { try! UnitName(validating: "svcunit-health@\(uuid.rawValue).timer") }
    /// `svcunit-health@<uuid>.service`: the instance of the packaged check template.
    public var templateCheck: UnitName { try! UnitName(validating: "svcunit-health@\(uuid.rawValue).service") }

    /// The timer of whichever unit runs the service: the template's for `svcunit@<uuid>.service`.
    public func timer(for serviceUnit: UnitName) -> UnitName {
        serviceUnit == ServiceUnit(uuid).templateInstance ? templateTimer : timer
    }

    /// The hidden subcommand a check unit runs: `svcunit health-check --root ROOT UUID`.
    public static let checkCommand = "health-check"

    /// `SyslogIdentifier=` of the check's own output and of its journal records.
    public static let syslogIdentifier = "svcunit-health"

    /// The `svcunit` executable that check units run: this process when it is `svcunit` (the CLI, which
    /// links sd-bus, sd-journal and the monitors already), else a `svcunit` beside this executable or
    /// beside the entrypoint (test runners, benchmarks), else the packaged `/usr/bin/svcunit`.
    public static func executable(entrypoint: String? = nil) -> String {
        let me = selfExecutable()
        if let me, me.hasSuffix("/svcunit") { return me }
        let beside = [me, entrypoint].compactMap { $0 }.map { PathText.directory(of: $0) + "/svcunit" }
        return beside.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/svcunit"
    }

    /// `/proc/self/exe`, resolved.
    static func selfExecutable() -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    // MARK: - Transient units

    /// What the service's own unit adds when it is supervised: `Wants=` its timer.
    public func serviceUnitProperties(_ document: ServiceDocument) -> [UnitProperty] {
        document.healthSupervision == nil ? [] : [.dependency("Wants", [timer])]
    }

    /// The timer and the check as auxiliary units of the service's `StartTransientUnit`; empty when the
    /// service is not supervised.
    /// - Throws: `ServiceModelError` `.unsafePath` when the executable or the store path would not
    ///   survive systemd's transient unit file.
    public func auxiliaryUnits(_ document: ServiceDocument, root: String, executable: String) throws(ServiceModelError) -> [(UnitName, [UnitProperty])] {
        guard let health = document.healthSupervision else { return [] }
        try SystemdProvisioner.checkRoundTrips(executable, what: "the svcunit executable path")
        try SystemdProvisioner.checkRoundTrips(root, what: "the store path")
        let service = ServiceUnit(uuid).transientUnit
        let interval = Self.duration(health.intervalSeconds)
        let first = health.graceSeconds > 0 ? Self.duration(health.graceSeconds) : interval
        // Descriptions name the service as its own unit does (control characters made spaces).
        let timerProperties: [UnitProperty] = [
            .description("health checks every \(HealthSupervision.seconds(health.intervalSeconds)) of \(SystemdProvisioner.describe(document))"),
            .dependency("BindsTo", [service]),
            .dependency("After", [service]),
            // The first check after the grace (or one interval), then one interval after each check
            // ended, so checks never overlap however long one takes.
            .timersMonotonic([(.active, first), (.unitInactive, interval)]),
            .timerAccuracy(Self.accuracy(health.intervalSeconds)),
        ]
        let checkProperties: [UnitProperty] = [
            .description("health check of \(SystemdProvisioner.describe(document))"),
            .type(.oneshot),
            .execStart(argv: [executable, Self.checkCommand, "--root", root, uuid.rawValue]),
            .slice(ServiceUnit.slice),
            .syslogIdentifier(Self.syslogIdentifier),
            // A check that fails (svcunit itself broken) must not linger as a failed unit.
            .collectMode(inactiveOrFailed: true),
            .startTimeout(.seconds(120)),
            // The timer paces the checks. systemd's default start limit (five starts in ten
            // seconds) refused every other check at a one-second interval ("start-limit-hit").
            .startLimitInterval(.zero),
        ]
        return [(timer, timerProperties), (check, checkProperties)]
    }

    /// How late the timer may fire: a tenth of the interval, between 100 ms and 1 s.
    static func accuracy(_ interval: Double) -> Duration {
        duration(min(1, max(0.1, interval / 10)))
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
}

extension SystemdProvisioner {
    /// Before a supervised service's unit is created: a timer or check of an earlier run that is still
    /// loaded (a check that was running when its service stopped) would make `StartTransientUnit` fail
    /// with `UnitExists`. Stop what is left and wait (up to 10 s) until systemd has collected it.
    /// - Throws: `SystemdError` `.unitExists` naming the unit that stays loaded and how to clear it, so
    ///   the start fails with that instead of a `UnitExists` that would seem to be about the service.
    func clearHealthUnits(_ units: HealthUnits) async throws(SystemdError) {
        for name in [units.timer, units.check] {
            guard let status = try? await manager.unitStatus(name), status.isLoaded else { continue }
            if !status.activeState.isFinal { _ = try? await manager.stopUnit(name) }
            if status.activeState == .failed { try? await manager.resetFailedUnit(name) }
            let since = ContinuousClock.now
            let deadline = since + .seconds(10)
            while true {
                guard let again = try? await manager.unitStatus(name), again.isLoaded else { break }
                if ContinuousClock.now >= deadline {
                    throw SystemdError(code: .unitExists, message: "\(name) of an earlier run is still loaded (\(again.activeState.rawValue))",
                                       unit: name, hint: "systemctl --user stop \(name); systemctl --user reset-failed \(name)")
                }
                await Backoff.sleep(since: since, until: deadline)
            }
        }
    }
}
