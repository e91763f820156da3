// The svcunit executable: the CLI (everything lives in SvcUnitCLI so tests can run commands
// in-process) and, as the hidden `entrypoint` subcommand, what every unit runs. The entrypoint is
// dispatched first so a unit's start and ExecStopPost pay for nothing of the CLI's set-up.
// Synchronous on purpose: see `CurrentProcess.runToExit`.
import Entrypoint
import OSCalls
import SvcUnitCLI

if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "entrypoint" {
    let arguments = Array(CommandLine.arguments.dropFirst(2))
    EntrypointCommand.runUnitCommandLine(arguments)  // returns unless it is the unit's own command line
    CurrentProcess.runToExit { () async -> Int32 in await EntrypointCommand.run(arguments: arguments) }
} else {
    CurrentProcess.runToExit { await SvcUnit.mainStatus() }
}
