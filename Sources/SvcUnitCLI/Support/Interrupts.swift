import Dispatch
import Glibc
import Synchronization

/// Ctrl-C (SIGINT): svcunit exits with status 130 (128 + SIGINT, the shell's convention) and one
/// line, instead of dying of the signal, so scripts and `$?` see a documented status and stdout is
/// flushed.
///
/// Not obvious: systemd carries on with a job svcunit already queued (a start or stop), so the line
/// says where to look; `logs -f` takes Ctrl-C itself (`handledByCommand`) and ends cleanly with 0.
enum Interrupts {
    /// Set by a command that handles SIGINT on its own.
    static let handledByCommand = Atomic<Bool>(false)

    // Kept alive for the life of the process; created once, by `install()` on the main task.
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?

    /// Called by a command that takes SIGINT itself from now on.
    static func handOver() { handledByCommand.store(true, ordering: .releasing) }

    /// Replaces SIGINT's default action (death by the signal) with an exit 130.
    static func install() {
        guard source == nil else { return }
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            if handledByCommand.load(ordering: .acquiring) { return }
            let clear = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
            let line = clear + "svcunit: error: interrupted (SIGINT); a start or stop already sent to systemd goes on: "
                + "see `svcunit status SERVICE`\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            exit(130)  // exit, not _exit: stdout's buffer is flushed
        }
        source.resume()
        Self.source = source
    }
}
