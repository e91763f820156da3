// Signal handling for the sleeper, and the exec for the command service (Foundation's Process
// always forks; a service must *become* the command so systemd sees its real exit status). The
// calls themselves are OSCalls'.
import Dispatch
import FoundationEssentials
import OSCalls
import ServiceModel
import SystemPackage

enum Termination {
    /// Exits the process with status 0 on SIGTERM; returns the source so it can be cancelled.
    static func exitOnTerminate() -> any DispatchSourceSignal {
        Signals.ignore(.terminate)  // let the dispatch source receive it instead of the default action
        let source = DispatchSource.makeSignalSource(signal: Signal.terminate.rawValue, queue: .global())
        source.setEventHandler {
            Output.line("received SIGTERM, exiting")
            CurrentProcess.exit(0)
        }
        source.resume()
        return source
    }
}

/// Lines for the journal. A service's stdout is a pipe to journald, where `print` would buffer
/// until exit; a direct write(2) per line shows each line as it happens.
enum Output {
    static func line(_ text: String) {
        try? FileDescriptor.standardOutput.writeAll(bytes: Array((text + "\n").utf8))
    }
}

enum Exec {
    /// Replaces this process with the command.
    /// - Parameter watcher: the argv of a helper that learns whether the exec succeeded (see
    ///   `ExecWatch`); nil for none.
    static func replaceProcess(_ invocation: CommandService.Invocation, watcher: [String]? = nil) throws(ServiceModelError) -> Never {
        let watch = try watcher.map { (argv: [String]) throws(ServiceModelError) -> ExecWatch in try ExecWatch.start(argv) }
        do throws(ServiceModelError) {
            try execute(invocation)
        } catch {
            watch?.execFailed()
            throw error
        }
    }

    private static func execute(_ invocation: CommandService.Invocation) throws(ServiceModelError) -> Never {
        for variable in invocation.environment {
            CurrentProcess.setEnvironment(variable.name, variable.value)
        }
        if let directory = invocation.workingDirectory {
            do { try CurrentProcess.changeDirectory(to: directory) } catch {
                throw ServiceModelError(.ioFailure, "cannot change to working_directory \(directory): \(error.text)",
                                        fieldPath: "config.working_directory")
            }
        }
        // `replace` starts the command as a fresh process would: ignored dispositions and the
        // blocked-signal mask survive exec, and the Swift runtime and Dispatch block or ignore some
        // (seen: python's http.server kept running through SIGTERM).
        let reason = CurrentProcess.replace(with: invocation.argv).text
        throw ServiceModelError(
            .ioFailure, "cannot execute \(invocation.argv[0]): \(reason)", fieldPath: "config.command",
            hint: "check that the program exists and is executable (PATH is searched)")
    }
}

/// Makes the exec observable: a pipe whose write end this process keeps, close-on-exec, and a helper
/// that holds the read end. A successful `execve` closes the write end, so the helper reads end of
/// file; a failed one makes this process write a byte first. The helper can then report "the command
/// runs" (systemd's READY=1) as a fact, not after a guess of how long an exec takes.
///
/// Not obvious: the helper is spawned before the exec, and must not be this process's child: after
/// the exec the command would be its parent and never reap it. So it is started as this process's
/// sibling (`ProcessID.spawnSibling`): the service manager is its parent and reaps it. The exec
/// waits only for the helper's own exec, not for its start-up, which overlaps with the command's
/// (a `/bin/sh` that started it in the background cost the exec a further 1.3 ms).
struct ExecWatch {
    /// This process's end: close-on-exec.
    let writeEnd: FileDescriptor

    /// The descriptor the helper finds the read end on.
    static let helperDescriptor: Int32 = 3

    static func start(_ argv: [String]) throws(ServiceModelError) -> ExecWatch {
        let ends: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        do { ends = try FileDescriptor.pipe(options: .closeOnExec) } catch { throw failure("create a pipe", error) }
        // Moved above the standard descriptors, so the dup2 onto 3 is a real copy (which clears close-on-exec).
        let readEnd: FileDescriptor
        do { readEnd = try ends.readEnd.duplicate(atLeast: 10) } catch {
            ends.readEnd.closeQuietly()
            ends.writeEnd.closeQuietly()
            throw failure("duplicate a descriptor", error)
        }
        ends.readEnd.closeQuietly()
        defer { readEnd.closeQuietly() }
        do {
            _ = try ProcessID.spawnSibling(argv, moving: (readEnd, helperDescriptor))
        } catch {
            ends.writeEnd.closeQuietly()
            throw failure("start \(argv[0])", error)
        }
        return ExecWatch(writeEnd: ends.writeEnd)
    }

    /// The exec failed (or was never tried): tell the helper, so it reports nothing.
    func execFailed() {
        try? writeEnd.writeAll(bytes: [0x21])
        writeEnd.closeQuietly()
    }

    /// In the helper: waits until the command runs (true) or its exec failed (false).
    static func awaitExec(descriptor: Int32 = helperDescriptor) -> Bool {
        (try? FileDescriptor(rawValue: descriptor).readToEnd(limit: 1))?.isEmpty ?? false
    }

    private static func failure(_ action: String, _ error: Errno) -> ServiceModelError {
        ServiceModelError(.ioFailure, "cannot \(action) to watch the command's exec: \(error.text)",
                          hint: "the system may be out of processes or file descriptors")
    }
}
