public import ArgumentParser
import Foundation

/// The `svcunit` root command: configuration and the list of subcommands, nothing else.
///
/// Not obvious: `main()` is replaced so that every failure ends in a documented exit code (see
/// `ExitCodes`) and domain errors are printed as one `svcunit: error: …` line; argument-parser's
/// default would exit 64 for usage errors and print domain errors with its own prefix.
public struct SvcUnit: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "svcunit",
        abstract: "Run ZenML-style local daemon services as systemd user units.",
        discussion: """
            svcunit reads and writes ZenML's service.json documents (the services schema of \
            zenml.services), so services described by ZenML load unchanged.

            EXIT STATUS
            \(ExitCodes.table)
            """,
        version: "0.1.0",
        subcommands: [
            Inspect.self
        ]
    )

    public init() {}

    /// Parses `CommandLine.arguments`, runs the command and exits with its documented exit code.
    public static func main() async {
        let status = await run(arguments: Array(CommandLine.arguments.dropFirst()))
        Foundation.exit(status)
    }

    /// Parses and runs `arguments` in-process and returns the exit status instead of exiting.
    /// Errors are printed to standard error.
    public static func run(arguments: [String]) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return ExitCodes.ok.rawValue
        } catch {
            return report(error)
        }
    }

    /// Prints `error` the way svcunit documents and returns its exit status.
    static func report(_ error: any Error) -> Int32 {
        if let domain = ExitCodes.domainStatus(for: error) {
            Self.printError("svcunit: error: \(ExitCodes.oneLine(error))")
            return domain.rawValue
        }
        // Help, version, usage errors and `ExitCode`s thrown by commands.
        let message = fullMessage(for: error)
        let code = exitCode(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return 0
        }
        if !message.isEmpty {
            let text = message.hasPrefix("Error: ") ? "svcunit: error: " + message.dropFirst("Error: ".count) : message
            Self.printError(String(text))
        }
        return code == .validationFailure ? ExitCodes.usage.rawValue : code.rawValue
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}
