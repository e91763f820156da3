import FoundationEssentials
public import ServiceModel
import SystemdManager

/// Health supervision of a persistent service (`svcunit enable`): the `svcunit-health@.timer` and
/// `svcunit-health@.service` templates shipped in `units/`, and the per-service drop-ins `enable` writes.
///
/// The same shape as the transient units (see `HealthUnits`): the instance `svcunit@<uuid>.service`
/// `Wants=` its timer through a drop-in (only a supervised service gets it), the timer `BindsTo=` and
/// is `After=` the instance. Unit files, unlike transient units, survive `daemon-reexec` and a reboot
/// as they are. Not obvious: the interval lives in the timer instance's drop-in, so a changed
/// `svcunit set --health-interval` reaches an enabled service when `svcunit enable` runs again.
public enum HealthTemplates {
    public static let timerFileName = "svcunit-health@.timer"
    public static let checkFileName = "svcunit-health@.service"
    public static let installedExecutable = "/usr/bin/svcunit"
    /// The drop-in file name `enable` writes into each directory.
    static let dropInName = "50-svcunit.conf"
    /// The drop-in beside `ServiceTemplate`'s own in `svcunit@<uuid>.service.d`.
    static let instanceDropInName = "60-svcunit-health.conf"

    /// `svcunit-health@.timer` as shipped.
    public static func timerText() -> String {
        """
        # Health checks of a persistent svcunit service (svcunit create/set --health-interval, then
        # svcunit enable): svcunit enable makes svcunit@UUID.service want svcunit-health@UUID.timer and
        # writes the service's interval and grace into a drop-in of the timer instance. The timer is bound
        # to the service: it starts after it, stops with it and is restarted with it.
        [Unit]
        Description=svcunit health checks of service %i
        Documentation=man:svcunit(1)
        BindsTo=svcunit@%i.service
        After=svcunit@%i.service

        [Timer]
        # The first check one interval after the service is up, then one interval after each check ended.
        OnActiveSec=10s
        OnUnitInactiveSec=10s
        AccuracySec=1s

        """
    }

    /// `svcunit-health@.service` as shipped, running `executable`.
    public static func checkText(executable: String = installedExecutable) -> String {
        """
        # One health check of a persistent svcunit service, triggered by svcunit-health@UUID.timer: runs the
        # service's own endpoint monitor, writes one journal record (SVCUNIT_HEALTH=ok|fail) and restarts
        # svcunit@UUID.service after the configured number of failures in a row (or only records it).
        [Unit]
        Description=svcunit health check of service %i
        Documentation=man:svcunit(1)
        # The timer paces the checks; systemd's default start limit (five in ten seconds) would refuse
        # every other one at a one-second interval.
        StartLimitIntervalSec=0

        [Service]
        Type=oneshot
        Slice=svcunit.slice
        Environment=SVCUNIT_ROOT=%h/.local/share/svcunit
        ExecStart=\(executable) health-check %i
        SyslogIdentifier=svcunit-health
        TimeoutStartSec=120

        """
    }

    /// The timer instance's drop-in: the service's own interval and grace (an empty `OnActiveSec=` first
    /// resets the template's triggers).
    static func timerDropIn(_ health: HealthSupervision) -> String {
        let first = health.graceSeconds > 0 ? health.graceSeconds : health.intervalSeconds
        return """
            # Written by `svcunit enable`; removed by `svcunit disable`.
            [Timer]
            OnActiveSec=
            OnActiveSec=\(microseconds(first))us
            OnUnitInactiveSec=\(microseconds(health.intervalSeconds))us
            AccuracySec=\(microseconds(min(1, max(0.1, health.intervalSeconds / 10))))us

            """
    }

    /// The check instance's drop-in: the store and the executable in use.
    static func checkDropIn(root: String, executable: String) -> String {
        """
        # Written by `svcunit enable`; removed by `svcunit disable`.
        [Service]
        Environment=\(ServiceTemplate.quoted("SVCUNIT_ROOT=" + root))
        ExecStart=
        ExecStart=\(executable) health-check %i

        """
    }

    /// The service instance's drop-in that pulls in the timer.
    static let instanceDropIn = """
        # Written by `svcunit enable` for a service under health supervision; removed by `svcunit disable`.
        [Unit]
        Wants=svcunit-health@%i.timer

        """

    static func microseconds(_ seconds: Double) -> Int64 { Int64((seconds * 1_000_000).rounded()) }

    /// The drop-in directories of the service's timer and check instances.
    public static func dropInDirectories(for uuid: ServiceUUID, environment: [String: String]) -> [String] {
        let directory = ServiceTemplate.userUnitDirectory(environment: environment)
        let units = HealthUnits(uuid)
        return [units.templateTimer, units.templateCheck].map { "\(directory)/\($0.rawValue).d" }
    }

    /// Writes what an enabled service's health supervision needs (nothing, and removes any earlier
    /// drop-ins, when it is not supervised): the templates themselves when no installed copy exists
    /// (a build run from the source tree), and the three drop-ins. The caller reloads the manager.
    static func write(_ document: ServiceDocument, root: String, executable: String, environment: [String: String]) throws {
        remove(document.uuid, environment: environment)
        guard let health = document.healthSupervision else { return }
        let directory = ServiceTemplate.userUnitDirectory(environment: environment)
        let installed = ServiceTemplate.installedCopies(environment: environment).map { PathText.directory(of: $0) }
        for (name, text) in [(timerFileName, timerText()), (checkFileName, checkText(executable: executable))]
        where !installed.contains(where: { FileManager.default.fileExists(atPath: $0 + "/" + name) }) {
            try writeFile(directory + "/" + name, text)
        }
        let timerDirectory = dropInDirectories(for: document.uuid, environment: environment)[0]
        let checkDirectory = dropInDirectories(for: document.uuid, environment: environment)[1]
        try writeFile(timerDirectory + "/" + dropInName, timerDropIn(health))
        try writeFile(checkDirectory + "/" + dropInName, checkDropIn(root: root, executable: executable))
        try writeFile(ServiceTemplate.dropInDirectory(for: ServiceUnit(document.uuid), environment: environment) + "/" + instanceDropInName,
                      instanceDropIn)
    }

    /// Removes the service's health drop-ins (best effort: what is not there is already gone).
    static func remove(_ uuid: ServiceUUID, environment: [String: String]) {
        for directory in dropInDirectories(for: uuid, environment: environment) { try? FileManager.default.removeItem(atPath: directory) }
        try? FileManager.default.removeItem(atPath: ServiceTemplate.dropInDirectory(for: ServiceUnit(uuid), environment: environment)
                                            + "/" + instanceDropInName)
    }

    private static func writeFile(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: PathText.directory(of: path), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        try Data(utf8: text).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
