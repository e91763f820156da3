// Signals: their numbers by name, and this process's dispositions.
import Glibc

/// A POSIX signal number, named the way svcunit reports it (`TERM`, `KILL`, …).
public struct Signal: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let hangup = Signal(rawValue: SIGHUP)
    public static let interrupt = Signal(rawValue: SIGINT)
    public static let kill = Signal(rawValue: SIGKILL)
    public static let pipe = Signal(rawValue: SIGPIPE)
    public static let terminate = Signal(rawValue: SIGTERM)
    public static let stop = Signal(rawValue: SIGSTOP)
    public static let segmentationFault = Signal(rawValue: SIGSEGV)
}

/// This process's signal dispositions. Not obvious: Dispatch's signal sources need the signal
/// ignored first (`ignore`), or its default action (ending the process) runs before them.
public enum Signals {
    public static func ignore(_ signal: Signal) { Glibc.signal(signal.rawValue, SIG_IGN) }

    /// The standard signals a process can catch or ignore (1–31 but SIGKILL and SIGSTOP).
    static var catchable: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in 1 ..< 32 where number != SIGKILL && number != SIGSTOP { sigaddset(&set, Int32(number)) }
        return set
    }

    /// Every catchable signal back to its default action, none blocked: how a fresh process starts.
    static func resetAll() {
        for number in 1 ..< 32 where number != SIGKILL && number != SIGSTOP {
            Glibc.signal(Int32(number), SIG_DFL)
        }
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
    }

    /// Runs `body` with `signal` blocked on the calling thread (e.g. SIGPIPE around a library that
    /// writes to a socket with write(2)); one raised meanwhile is taken off again before the old
    /// mask returns. A signal the thread had blocked already stays as it was.
    public static func withBlocked<T>(_ signal: Signal, _ body: () throws -> T) rethrows -> T {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal.rawValue)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &old)
        defer {
            if sigismember(&old, signal.rawValue) == 0 {
                var pending = sigset_t()
                sigpending(&pending)
                if sigismember(&pending, signal.rawValue) == 1 {
                    var now = timespec()
                    _ = sigtimedwait(&set, nil, &now)
                }
                pthread_sigmask(SIG_SETMASK, &old, nil)
            }
        }
        return try body()
    }
}
