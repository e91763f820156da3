public import ServiceModel
public import SystemdManager

/// The systemd names that belong to one service, all derived from its UUID alone.
///
/// Not obvious: nothing user-controlled (service name, description) ever reaches a unit name, so a
/// name like `../x\n;y` cannot inject anything; it only appears in `Description=`, which is free text.
public struct ServiceUnit: Sendable, Hashable {
    public let uuid: ServiceUUID

    public init(_ uuid: ServiceUUID) { self.uuid = uuid }

    /// The service of a unit named `svcunit-<uuid>.service` or `svcunit@<uuid>.service`; nil for any other name.
    public init?(unitName: String) {
        for prefix in ["svcunit-", "svcunit@"] where unitName.hasPrefix(prefix) && unitName.hasSuffix(".service") {
            let middle = unitName.dropFirst(prefix.count).dropLast(".service".count)
            if let uuid = ServiceUUID(rawValue: String(middle)), uuid.rawValue == middle { self.uuid = uuid; return }
        }
        return nil
    }

    /// The slice every svcunit service runs in, so `systemctl --user status svcunit.slice` lists them.
    public static let slice = try! UnitName(validating: "svcunit.slice")

    /// `svcunit-<uuid>.service`: the transient unit.
    public var transientUnit: UnitName { try! UnitName(validating: transientUnitName) }
    /// The transient unit's name as text, without the validation a `UnitName` makes (a UUID makes it
    /// valid): for a listing that names a thousand.
    public var transientUnitName: String { "svcunit-\(uuid.rawValue).service" }

    /// `svcunit@<uuid>.service`: the instance of the packaged template, for persistent services.
    public var templateInstance: UnitName { try! UnitName(validating: "svcunit@\(uuid.rawValue).service") }

    /// `svcunit-<uuid>`: the `SyslogIdentifier=` of the service's output, so `journalctl -t` finds it
    /// and lines written just before a fast exit (which journald may not attribute to the unit) are
    /// still matched.
    public var syslogIdentifier: String { "svcunit-\(uuid.rawValue)" }

    /// Which of the service's two units stands for it, from what systemd reports of both: a unit
    /// that runs (or is starting, stopping or failed) wins, the transient unit first; then the
    /// template instance when it is enabled (the service is persistent, even while stopped, and
    /// even when the manager has let the idle instance go); then a loaded transient unit. nil when
    /// neither is in use: the service has no unit now.
    ///
    /// The one rule for `status`, `list`, `start` and `stop`; `instanceEnabled` is false where it is
    /// not known (a batch listing), which changes only which name an inactive service shows.
    public static func standing<Unit: UnitStateFacts>(transient: Unit?, instance: Unit?, instanceEnabled: Bool) -> Unit? {
        let transient = transient.flatMap { $0.isLoaded ? $0 : nil }
        if let transient, transient.activeState != .inactive { return transient }
        if let instance, instanceEnabled || (instance.isLoaded && instance.activeState != .inactive) { return instance }
        return transient
    }
}
