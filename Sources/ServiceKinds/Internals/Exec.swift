// The only file in ServiceKinds that calls the C library: signal handling for the sleeper and
// execvp for the command service (Foundation's Process always forks; a service must *become*
// the command so systemd sees its real exit status).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
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
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

enum Exec {
    static func replaceProcess(_ invocation: CommandService.Invocation) throws(ServiceModelError) -> Never {
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
