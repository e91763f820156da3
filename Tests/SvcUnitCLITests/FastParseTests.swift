import ArgumentParser
@testable import SvcUnitCLI
import Testing

/// `SvcUnit.parse` (a leaf subcommand parsed as a root of its own; no completion-script check
/// where the command line cannot ask for one) must read every command line as argument-parser's
/// own `parseAsRoot` does.
@Suite("svcunit's parse: leaf subcommands as roots, no completion-script check")
struct FastParseTests {
    /// What a parse produced, comparable: the command's type and every parsed value, or the
    /// message and exit code argument-parser gives for the error.
    static func outcome(_ parse: () throws -> any ParsableCommand) -> String {
        do {
            let command = try parse()
            var text = "\(type(of: command)): "
            dump(command, to: &text)
            return text
        } catch {
            return "error \(SvcUnit.exitCode(for: error).rawValue): \(SvcUnit.fullMessage(for: error))"
        }
    }

    static let ordinary: [[String]] = [
        ["start", "web"], ["start", "web", "--timeout", "5", "--verbose"], ["stop", "web", "--force"], ["status", "a", "--json"],
        ["list", "--json"], ["logs", "web", "-n", "5", "--follow"], ["create", "command", "--name", "x", "--", "/bin/true", "--help"],
        ["create", "sleeper", "--name", "s", "--wake-up-after", "5"], ["set", "web", "--port", "8080"], ["delete", "--force", "web"],
        ["inspect", "f.json"], ["start", "--root", "/r", "--verbose", "web"], ["start", "list"], ["status", "help"],
        ["create", "command", "--root", "/r", "--port", "8080", "--", "/bin/sleep", "1"], ["create", "sleeper", "--name", "start", "--wake-up-after", "5"],
        ["stop", "--", "--force"], ["health", "web", "--json"], ["health-check", "web"], ["disable", "web"],
    ]

    /// Every subcommand without subcommands of its own takes the leaf path (it names `svcunit` as
    /// its super command), below the root or a group; a group itself, an unknown name and none do not.
    @Test func everyLeafSubcommandIsParsedAsARootOfItsOwn() throws {
        func leaves(_ commands: [any ParsableCommand.Type], _ path: [String]) -> [([String], any ParsableCommand.Type)] {
            commands.flatMap { command in
                command.configuration.subcommands.isEmpty ? [(path + [command._commandName], command)]
                    : leaves(command.configuration.subcommands, path + [command._commandName])
            }
        }
        let all = leaves(SvcUnit.configuration.subcommands, [])
        #expect(all.count >= 16)
        for (path, leaf) in all {
            let found = SvcUnit.leafSubcommand(of: path + ["web", "--json"])
            #expect(found.map { ObjectIdentifier($0.command) } == ObjectIdentifier(leaf), "\(path)")
            #expect(found?.depth == path.count, "\(path)")
        }
        #expect(SvcUnit.leafSubcommand(of: ["create"]) == nil, "create has subcommands")
        #expect(SvcUnit.leafSubcommand(of: ["create", "bogus"]) == nil)
        #expect(SvcUnit.leafSubcommand(of: ["bogus", "start"]) == nil)
        #expect(SvcUnit.leafSubcommand(of: []) == nil)
        // What the leaf path parses is the leaf itself, as under the root.
        #expect(try SvcUnit.Start.parseAsRoot(["web", "--timeout", "5"]) is SvcUnit.Start)
    }

    /// Global options before a subcommand move behind it; before a name that is no command (or a
    /// group without its subcommand) they are left out, so the one error line names what is wrong,
    /// not `--root`.
    @Test func globalOptionsBeforeTheSubcommand() {
        #expect(SvcUnit.hoistingGlobalOptions(["--root", "/r", "--verbose", "create", "command", "--name", "x"])
                == ["create", "command", "--root", "/r", "--verbose", "--name", "x"])
        #expect(SvcUnit.hoistingGlobalOptions(["--root=/r", "list", "--json"]) == ["list", "--root=/r", "--json"])
        for (arguments, words) in [(["--root", "/r", "bogus"], "Unexpected argument 'bogus'"),
                                   (["--root", "/r", "create", "bogus"], "Unexpected argument 'bogus'")] {
            let outcome = Self.outcome { try SvcUnit.parse(SvcUnit.hoistingGlobalOptions(arguments)) }
            #expect(outcome.hasPrefix("error ") && outcome.contains(words) && !outcome.contains("--root"), "\(arguments): \(outcome)")
        }
    }

    /// A group `parse` passes over has nothing of its own to parse: no property, so no option,
    /// argument or flag (and argument-parser would have nothing to validate).
    @Test func theGroupsPassedOverParseNothing() {
        #expect(!SvcUnit.groups.isEmpty)
        for group in SvcUnit.groups {
            #expect(!group.configuration.subcommands.isEmpty, "\(group) groups subcommands")
            #expect(Mirror(reflecting: group.init()).children.isEmpty, "\(group) has properties")
        }
    }

    /// The point of `parse`: an ordinary command line is parsed once, by the tree without the check.
    @Test(arguments: ordinary)
    func ordinaryCommandLinesAreParsedWithoutTheCompletionCheck(arguments: [String]) throws {
        let command = try SvcUnit.ParsingRoot.parseAsRoot(arguments)
        #expect(!(command is SvcUnit.ParsingRoot))
        #expect(String(reflecting: type(of: command)).hasPrefix("SvcUnitCLI.SvcUnit."), "\(type(of: command))")
    }

    /// `parse` tells argument-parser's help command by its name: no command of svcunit's may take it.
    @Test func noSvcunitCommandIsNamedHelp() {
        func names(_ commands: [any ParsableCommand.Type]) -> [String] {
            commands.flatMap { [$0._commandName] + names($0.configuration.subcommands) }
        }
        let all = names(SvcUnit.configuration.subcommands)
        #expect(all.count > 16)
        #expect(!all.contains("help"))
    }

    @Test(arguments: ordinary + [
        // errors, help and version: parsed again by SvcUnit, so the message is argument-parser's own
        ["start"], ["bogus"], ["status", "a", "b"], ["create", "sleeper", "--name", "s"], ["start", "--no-such-flag", "x"], ["status", "--timeout"], ["--help"], ["-h"], ["start", "--help"],
        ["help"], ["help", "start"], ["--version"], [], ["create"], ["logs", "web", "-n", "many"],
        // the completion script: argument-parser's check runs as before
        ["--generate-completion-script", "bash"], ["--generate-completion-script"], ["start", "--generate-completion-script=zsh"],
    ])
    func parseReadsAsArgumentParserDoes(arguments: [String]) {
        let fast = Self.outcome { try SvcUnit.parse(arguments) }
        let own = Self.outcome { try SvcUnit.parseAsRoot(arguments) }
        #expect(fast == own, "\(arguments)")
        // A parsed command is one of svcunit's, never the tree used only for parsing.
        #expect(!fast.contains("ParsingRoot"), "\(arguments)")
    }
}
