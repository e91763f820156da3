import Dispatch
import OSCalls
import SystemPackage
import Synchronization

/// Ctrl-C (SIGINT): svcunit exits with status 130 (128 + SIGINT, the shell's convention) and one
/// line, instead of dying of the signal, so scripts and `$?` see a documented status and stdout is
/// flushed.
///
/// Not obvious: systemd carries on with a job svcunit already queued (a start or stop), so the line
/// says where to look; `logs -f` takes Ctrl-C itself (`handOver`) and ends cleanly with 0.
enum Interrupts {
    /// What a command that takes SIGINT itself does instead (`logs -f` ends its follow).
    private static let commandHandler = Mutex<(@Sendable () -> Void)?>(nil)

    // Kept alive for the life of the process; created once, by `install()` on the main task.
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?

    /// From now on SIGINT runs `handler` instead of exiting 130. Not obvious: with two dispatch
    /// sources for SIGINT only one fired (seen: `logs -f` never ended), so a command must not make
    /// a SIGINT source of its own.
    static func handOver(_ handler: @escaping @Sendable () -> Void) { commandHandler.withLock { $0 = handler } }

    /// Replaces SIGINT's default action (death by the signal) with an exit 130.
    static func install() {
        guard source == nil else { return }
        Signals.ignore(.interrupt)
        let source = DispatchSource.makeSignalSource(signal: Signal.interrupt.rawValue, queue: .global())
        source.setEventHandler {
            if let handler = commandHandler.withLock({ $0 }) { return handler() }
            let clear = Terminal.isTerminal(.standardError) ? "\r\u{1B}[K" : ""
            let line = clear + "svcunit: error: interrupted (SIGINT); a start or stop already sent to systemd goes on: "
                + "see `svcunit status SERVICE`\n"
            try? FileDescriptor.standardError.writeAll(bytes: Array(line.utf8))
            CurrentProcess.exit(130)  // exit, not _exit: stdout's buffer is flushed
        }
        source.resume()
        Self.source = source
    }
}
