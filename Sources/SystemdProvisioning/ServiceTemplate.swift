import FoundationEssentials
import SystemdManager
import OSCalls

/// The `svcunit@.service` template that makes a service persistent, and where it is looked for.
///
/// The package ships this text as `units/svcunit@.service` (a test keeps the two identical); svcunit
/// writes it to the user's unit directory itself only when no installed copy is found (a build
/// run from the source tree). Not obvious: the instance reads `$SVCUNIT_ROOT/<uuid>/service.json`;
/// `svcunit enable` adds a drop-in with the store it was given and the entrypoint it runs with.
public enum ServiceTemplate {
    public static let fileName = "svcunit@.service"
    /// The packaged executable units run (`svcunit entrypoint …`: one binary for the CLI and the units).
    public static let installedEntrypoint = "/usr/bin/svcunit"

    /// The template's text for an entrypoint at `entrypoint`.
    public static func text(entrypoint: String = installedEntrypoint) -> String {
        """
        # A svcunit service made persistent: `svcunit enable UUID` enables svcunit@UUID.service so the
        # service comes back after logout or reboot (with `loginctl enable-linger`), without any svcunit
        # process around. The instance name is the service's UUID; its JSON lives in
        # $SVCUNIT_ROOT/<uuid>/service.json (svcunit enable writes a drop-in when --root is not the default).
        [Unit]
        Description=svcunit service %i
        Documentation=man:svcunit(1)

        [Service]
        # Readiness in systemd's terms: the entrypoint reports READY=1 (and a STATUS= line) only once the
        # endpoint's health monitor passes, so `systemctl --user start svcunit@UUID` blocks until healthy.
        # For the command flavor, which execs its command, a short-lived helper in this cgroup probes and
        # notifies; hence NotifyAccess=all.
        Type=notify
        NotifyAccess=all
        Slice=svcunit.slice
        Environment=SVCUNIT_ROOT=%h/.local/share/svcunit
        ExecStart=\(entrypoint) entrypoint --notify --config-file ${SVCUNIT_ROOT}/%i/service.json
        ExecStopPost=-\(entrypoint) entrypoint --record-exit --config-file ${SVCUNIT_ROOT}/%i/service.json
        SyslogIdentifier=svcunit-%i
        TimeoutStartSec=120
        TimeoutStopSec=10

        [Install]
        WantedBy=default.target

        """
    }

    /// The drop-in `svcunit enable` writes for one instance: the store and the entrypoint in use.
    public static func dropIn(root: String, entrypoint: String) -> String {
        """
        # Written by `svcunit enable`; removed by `svcunit disable`.
        [Service]
        Environment=\(quoted("SVCUNIT_ROOT=" + root))
        ExecStart=
        ExecStart=\(entrypoint) entrypoint --notify --config-file ${SVCUNIT_ROOT}/%i/service.json
        ExecStopPost=
        ExecStopPost=-\(entrypoint) entrypoint --record-exit --config-file ${SVCUNIT_ROOT}/%i/service.json

        """
    }

    /// systemd's quoting for one `Environment=` assignment.
    static func quoted(_ s: String) -> String {
        "\"" + s.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    /// `$XDG_CONFIG_HOME/systemd/user`, or `~/.config/systemd/user`: where user units are written.
    public static func userUnitDirectory(environment: [String: String]? = nil) -> String {
        let environment = environment ?? CurrentProcess.environmentVariables
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path) + "/.config")
        return config + "/systemd/user"
    }

    /// The drop-in directory `svcunit enable` writes for the service's template instance.
    public static func dropInDirectory(for unit: ServiceUnit, environment: [String: String]? = nil) -> String {
        "\(userUnitDirectory(environment: environment))/\(unit.templateInstance.rawValue).d"
    }

    /// Where an installed template may be (the user manager's search path, most specific first).
    public static func installedCopies(environment: [String: String]? = nil) -> [String] {
        let environment = environment ?? CurrentProcess.environmentVariables
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
        return [userUnitDirectory(environment: environment), "/etc/systemd/user", dataHome + "/systemd/user",
                "/usr/local/lib/systemd/user", "/usr/lib/systemd/user"].map { $0 + "/" + fileName }
    }
}
