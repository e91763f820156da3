public import SDBus

/// One property of a transient unit, typed both ways: a systemd property name and a D-Bus value of
/// exactly the signature systemd expects for it.
///
/// Build them with the static factories (`.execStart(argv:)`, `.restart(.onFailure)`, …); each names
/// its systemd.exec / systemd.service / systemd.resource-control setting. Not obvious: systemd checks
/// the whole list before applying any, so one bad property fails the whole `StartTransientUnit` with
/// `PropertyReadOnly` or `InvalidArgs` and nothing is created.
public struct UnitProperty: Sendable, Hashable {
    public var name: String
    public var value: BusValue

    public init(name: String, value: BusValue) {
        self.name = name
        self.value = value
    }

    /// `Description=` (systemd.unit).
    public static func description(_ text: String) -> UnitProperty { .init(name: "Description", value: .string(text)) }

    /// `ExecStart=` as `a(sasb)`: the program, its full argv (argv[0] included), and whether a failing
    /// exit is ignored. No shell is involved, and argv is passed verbatim: systemd would expand
    /// `$VAR` in it, so every `$` is sent as `$$`.
    ///
    /// Not obvious: the `ExecStartEx=` form (with a no-expansion flag) would be simpler, but systemd
    /// 252 writes it into the transient unit file in a form it cannot parse back, so it vanishes at
    /// the next daemon-reload and a later restart finds no command (seen: `Unknown key 'ExecStartEx'`).
    public static func execStart(argv: [String], path: String? = nil, ignoreFailure: Bool = false) -> UnitProperty {
        exec("ExecStart", argv: argv, path: path, ignoreFailure: ignoreFailure)
    }

    /// `ExecStopPost=` as `a(sasb)`: runs after every run of the service, with `$SERVICE_RESULT`,
    /// `$EXIT_CODE` and `$EXIT_STATUS` describing how it ended (systemd.exec). argv as in `execStart`.
    public static func execStopPost(argv: [String], path: String? = nil, ignoreFailure: Bool = false) -> UnitProperty {
        exec("ExecStopPost", argv: argv, path: path, ignoreFailure: ignoreFailure)
    }

    private static func exec(_ name: String, argv: [String], path: String?, ignoreFailure: Bool) -> UnitProperty {
        // systemd expands `$VAR` in argv; `$$` is its escape for one literal `$`.
        return .init(name: name, value: .array(of: "(sasb)", [
            .structure([.string(path ?? argv.first ?? ""), .stringArray(argv.map { $0.replacingAll("$", with: "$$") }), .bool(ignoreFailure)]),
        ]))
    }

    /// `Type=` (systemd.service).
    public static func type(_ type: ServiceStartType) -> UnitProperty { .init(name: "Type", value: .string(type.rawValue)) }
    /// `Slice=` (systemd.resource-control).
    public static func slice(_ slice: UnitName) -> UnitProperty { .init(name: "Slice", value: .string(slice.rawValue)) }
    /// `SyslogIdentifier=` (systemd.exec): tags stdout/stderr lines in the journal.
    public static func syslogIdentifier(_ id: String) -> UnitProperty { .init(name: "SyslogIdentifier", value: .string(id)) }
    /// `StandardOutput=` (systemd.exec).
    public static func standardOutput(_ t: OutputTarget) -> UnitProperty { .init(name: "StandardOutput", value: .string(t.rawValue)) }
    /// `StandardError=` (systemd.exec).
    public static func standardError(_ t: OutputTarget) -> UnitProperty { .init(name: "StandardError", value: .string(t.rawValue)) }
    /// `Environment=` (systemd.exec) as `KEY=VALUE` strings. Visible to anyone who can read the
    /// unit's properties; keep secrets out of it.
    public static func environment(_ env: [String: String]) -> UnitProperty {
        .init(name: "Environment", value: .stringArray(env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }))
    }
    /// `Restart=` (systemd.service).
    public static func restart(_ policy: UnitRestart) -> UnitProperty { .init(name: "Restart", value: .string(policy.rawValue)) }
    /// `RestartSec=` (systemd.service), as `RestartUSec`.
    public static func restartDelay(_ d: Duration) -> UnitProperty { .init(name: "RestartUSec", value: .uint64(d.microseconds)) }
    /// `TimeoutStartSec=` (systemd.service); nil means infinity.
    public static func startTimeout(_ d: Duration?) -> UnitProperty { .init(name: "TimeoutStartUSec", value: .uint64(d?.microseconds ?? .max)) }
    /// `TimeoutStopSec=` (systemd.service); after it, systemd sends SIGKILL. nil means infinity.
    public static func stopTimeout(_ d: Duration?) -> UnitProperty { .init(name: "TimeoutStopUSec", value: .uint64(d?.microseconds ?? .max)) }
    /// `MemoryMax=` in bytes (systemd.resource-control); needs the memory controller delegated.
    public static func memoryMax(bytes: UInt64) -> UnitProperty { .init(name: "MemoryMax", value: .uint64(bytes)) }
    /// `CPUQuota=` in percent of one CPU (systemd.resource-control), as `CPUQuotaPerSecUSec`.
    public static func cpuQuota(percent: Double) -> UnitProperty {
        .init(name: "CPUQuotaPerSecUSec", value: .uint64(UInt64(max(1, (percent * 10_000).rounded()))))
    }
    /// `StartLimitIntervalSec=` (systemd.unit), as `StartLimitIntervalUSec`; zero turns the unit's
    /// start rate limit off (by default five starts in ten seconds, then `start-limit-hit`).
    public static func startLimitInterval(_ d: Duration) -> UnitProperty { .init(name: "StartLimitIntervalUSec", value: .uint64(d.microseconds)) }
    /// `CollectMode=` (systemd.unit): `inactive-or-failed` unloads failed units at once.
    public static func collectMode(inactiveOrFailed: Bool) -> UnitProperty {
        .init(name: "CollectMode", value: .string(inactiveOrFailed ? "inactive-or-failed" : "inactive"))
    }
    /// `NotifyAccess=` (systemd.service): `none`, `main`, `exec` or `all`.
    public static func notifyAccess(_ s: String) -> UnitProperty { .init(name: "NotifyAccess", value: .string(s)) }
    /// A dependency such as `Wants=`, `After=`, `PartOf=` (systemd.unit).
    public static func dependency(_ kind: String, _ units: [UnitName]) -> UnitProperty {
        .init(name: kind, value: .stringArray(units.map(\.rawValue)))
    }

    /// The `(sv)` struct as `StartTransientUnit` takes it.
    var busValue: BusValue { .structure([.string(name), .variant(value)]) }
}

extension Duration {
    /// Whole microseconds, saturating; systemd's `…USec` properties use them.
    public var microseconds: UInt64 {
        let (s, atto) = components
        if s < 0 { return 0 }
        let (m, overflow) = UInt64(s).multipliedReportingOverflow(by: 1_000_000)
        if overflow { return .max }
        return m &+ UInt64(atto / 1_000_000_000_000)
    }
}
