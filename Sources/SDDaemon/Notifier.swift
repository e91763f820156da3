internal import CSystemd
import Glibc

/// Tells the service manager about this service's state (`sd_notify(3)`): readiness and a status line.
///
/// The only libsystemd call the entrypoint makes, kept in its own module so the entrypoint links no
/// sd-bus. Not obvious: a notification from a process other than the unit's main process is only
/// accepted with `NotifyAccess=all` (the svcunit@ template sets it), and outside a `Type=notify`
/// unit (`$NOTIFY_SOCKET` unset) every call is a no-op that returns false.
public enum Notifier {
    /// Whether `$NOTIFY_SOCKET` is set, i.e. systemd waits for `READY=1` from this unit.
    public static var isExpected: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends `READY=1` and, if given, `STATUS=<status>` (shown by `systemctl --user status`).
    /// - Returns: true when the manager received it.
    @discardableResult
    public static func ready(status: String? = nil) -> Bool {
        send("READY=1" + (status.map { "\nSTATUS=" + oneLine($0) } ?? ""))
    }

    /// Sends only `STATUS=<status>`.
    @discardableResult
    public static func status(_ status: String) -> Bool { send("STATUS=" + oneLine(status)) }

    /// Waits (at most `timeout`) until the manager has processed every notification this process sent
    /// (`sd_notify_barrier(3)`). A helper that notifies and exits at once needs it: the manager maps a
    /// notification to its unit by the sender's PID, which a process that is gone no longer has.
    @discardableResult
    public static func barrier(timeout: Duration = .seconds(5)) -> Bool {
        let (seconds, attoseconds) = timeout.components
        return sd_notify_barrier(0, UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)) >= 0
    }

    private static func send(_ state: String) -> Bool {
        state.withCString { sd_notify(0, $0) } > 0
    }

    private static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" ? " " : $0 })
    }
}
