public import ServiceModel
public import SystemdManager

/// The systemd names that belong to one service, all derived from its UUID alone.
///
/// Not obvious: nothing user-controlled (service name, description) ever reaches a unit name, so a
/// name like `../x\n;y` cannot inject anything; it only appears in `Description=`, which is free text.
public struct ServiceUnit: Sendable, Hashable {
    public let uuid: ServiceUUID

    public init(_ uuid: ServiceUUID) { self.uuid = uuid }

    /// The slice every svcunit service runs in, so `systemctl --user status svcunit.slice` lists them.
    public static let slice = try! UnitName(validating: "svcunit.slice")

    /// `svcunit-<uuid>.service`: the transient unit.
    public var transientUnit: UnitName { try! UnitName(validating: "svcunit-\(uuid.rawValue).service") }

    /// `svcunit@<uuid>.service`: the instance of the packaged template, for persistent services.
    public var templateInstance: UnitName { try! UnitName(validating: "svcunit@\(uuid.rawValue).service") }

    /// `svcunit-<uuid>`: the `SyslogIdentifier=` of the service's output, so `journalctl -t` finds it
    /// and lines written just before a fast exit (which journald may not attribute to the unit) are
    /// still matched.
    public var syslogIdentifier: String { "svcunit-\(uuid.rawValue)" }
}
