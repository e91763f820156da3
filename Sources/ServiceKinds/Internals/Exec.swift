// The only file in ServiceKinds that calls the C library: signal handling for the sleeper and
// execvp for the command service (Foundation's Process always forks; a service must *become*
// the command so systemd sees its real exit status).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import FoundationEssentials
import ServiceModel

enum Signals {
    /// Exits the process with status 0 on SIGTERM; returns the source so it can be cancelled.
    static func exitOnTerminate() -> any DispatchSourceSignal {
        signal(SIGTERM, SIG_IGN)  // let the dispatch source receive it instead of the default action
        let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        source.setEventHandler {
            Output.line("received SIGTERM, exiting")
            exit(0)
        }
        source.resume()
        return source
    }
}

/// Lines for the journal. A service's stdout is a pipe to journald, where `print` would buffer
/// until exit; a direct write(2) per line shows each line as it happens.
enum Output {
    static func line(_ text: String) {
        var bytes = Array((text + "\n").utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 { if errno == EINTR { continue } else { return } }
            bytes = bytes.dropFirst(written)
        }
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
            setenv(variable.name, variable.value, 1)
        }
        if let directory = invocation.workingDirectory, chdir(directory) != 0 {
            throw ServiceModelError(
                .ioFailure, "cannot change to working_directory \(directory): \(String(cString: strerror(errno)))",
                fieldPath: "config.working_directory")
        }
        // Ignored dispositions and the blocked-signal mask survive exec, and the Swift runtime and
        // Dispatch block or ignore some (seen: python's http.server kept running through SIGTERM).
        // The command must start as a fresh process would.
        for number in 1 ..< 32 where number != SIGKILL && number != SIGSTOP {
            signal(Int32(number), SIG_DFL)
        }
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        var cArguments: [UnsafeMutablePointer<CChar>?] = invocation.argv.map { strdup($0) }
        cArguments.append(nil)
        execvp(invocation.argv[0], &cArguments)
        let reason = String(cString: strerror(errno))
        for pointer in cArguments { free(pointer) }
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
/// Not obvious: the helper is spawned (a fresh process, not a fork of this threaded one) before the
/// exec, and must not stay this process's child: after the exec the command would be its parent and
/// never reap it. So `/bin/sh` starts it in the background and exits at once (reaped here); the
/// helper is re-parented to the service manager, which reaps it. The exec waits only for that shell,
/// not for the helper's own start-up, which overlaps with the command's.
struct ExecWatch {
    /// This process's end: close-on-exec.
    let writeEnd: Int32

    /// The descriptor the helper finds the read end on.
    static let helperDescriptor: Int32 = 3

    static func start(_ argv: [String]) throws(ServiceModelError) -> ExecWatch {
        var ends: [Int32] = [-1, -1]
        // pipe2 is not in Swift's Glibc; nothing else in this process forks or execs meanwhile.
        guard pipe(&ends) == 0 else { throw failure("create a pipe", errno) }
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        // Moved above the standard descriptors, so dup2 onto 3 is a real dup (which clears close-on-exec).
        let readEnd = fcntl(ends[0], F_DUPFD_CLOEXEC, 10)
        close(ends[0])
        defer { close(readEnd) }
        guard readEnd >= 0 else {
            close(ends[1])
            throw failure("duplicate a descriptor", errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, helperDescriptor)
        let shell = ["/bin/sh", "-c", "\"$0\" \"$@\" &"] + argv
        var cArguments: [UnsafeMutablePointer<CChar>?] = shell.map { strdup($0) }
        cArguments.append(nil)
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, shell[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else {
            close(ends[1])
            throw failure("start \(argv[0])", spawned)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return ExecWatch(writeEnd: ends[1])
    }

    /// The exec failed (or was never tried): tell the helper, so it reports nothing.
    func execFailed() {
        var byte: UInt8 = 0x21
        _ = write(writeEnd, &byte, 1)
        close(writeEnd)
    }

    /// In the helper: waits until the command runs (true) or its exec failed (false).
    static func awaitExec(descriptor: Int32 = helperDescriptor) -> Bool {
        var byte: UInt8 = 0
        while true {
            let count = read(descriptor, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            return count == 0
        }
    }

    private static func failure(_ action: String, _ code: Int32) -> ServiceModelError {
        ServiceModelError(.ioFailure, "cannot \(action) to watch the command's exec: \(String(cString: strerror(code)))",
                          hint: "the system may be out of processes or file descriptors")
    }
}
