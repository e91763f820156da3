import ArgumentParser
import FoundationEssentials
@testable import SvcUnitCLI
import Testing

/// `PlainCommandLine` (`start`, `stop` and `status` read without argument-parser's reflection) must
/// build exactly the command argument-parser builds, and leave every other line to it.
@Suite("svcunit's plain command lines: start, stop, status without reflection")
struct PlainCommandLineTests {
    static let plain: [[String]] = [
        ["start", "web"], ["start", "web", "db", "--timeout", "5"], ["start", "--timeout=2m", "web"],
        ["--root", "/r", "start", "web"], ["--root=/r", "--verbose", "start", "web", "--json"],
        ["start", "web", "--entrypoint", "/usr/bin/svcunit"], ["start", "--verbose", "3f2a", "--root", "rel/dir"],
        ["start", "list"], ["start", "status", "stop"], ["start", "web", "--timeout", "500ms", "--json", "--verbose"],
        ["stop", "web"], ["stop", "web", "--force"], ["stop", "--force", "--timeout", "10", "a", "b"],
        ["--entrypoint=/e", "stop", "--json", "web"],
        ["status", "web"], ["status", "--json", "3f2a"], ["--verbose", "status", "web", "--root", "rel/dir"],
        ["status", "start"], ["--root", "start", "status", "x"],
    ]

    /// A plain line gives the command argument-parser gives: same type, every value the same.
    @Test(arguments: plain)
    func plainLinesAreReadAsArgumentParserReadsThem(arguments: [String]) throws {
        let command = try #require(PlainCommandLine.command(arguments), "\(arguments) is plain")
        let fast = FastParseTests.outcome { command }
        let own = FastParseTests.outcome { try SvcUnit.parse(SvcUnit.hoistingGlobalOptions(arguments)) }
        #expect(fast == own, "\(arguments)")
        #expect(!own.hasPrefix("error"), "\(arguments): \(own)")
    }

    /// Everything else is argument-parser's: help, `--`, unknown or short names, a repeated option,
    /// a missing, empty or dash-led value, a flag with a value, the wrong number of services, a value
    /// `validate()` refuses, and every other verb.
    @Test(arguments: [
        [], ["start"], ["status"], ["status", "a", "b"], ["start", "--help"], ["start", "-h"], ["--help", "start", "web"],
        ["start", "--", "web"], ["start", "web", "--timeout"], ["start", "web", "--timeout", "-5"], ["start", "web", "--timeout="],
        ["start", "web", "--timeout", "0"], ["start", "web", "--timeout", "soon"], ["start", "web", "--timeout", "5", "--timeout", "6"],
        ["start", "web", "--json=true"], ["start", "--verbose=1", "web"], ["start", "web", "--bogus"], ["start", "web", "-t", "5"],
        ["start", ""], ["start", "web", "--root="], ["start", "web", "--root", "--json"], ["status", "web", "--force"],
        ["status", "web", "--timeout", "5"], ["stop", "web", "--force", "--force"], ["start", "web", "--generate-completion-script"],
        ["list"], ["logs", "web"], ["restart", "web"], ["create", "command", "--", "/bin/true"], ["help", "start"], ["--version"],
        ["--root", "/r"], ["--root"], ["--root", "/r", "bogus", "start", "web"], ["bogus", "start", "web"], ["-h"],
    ])
    func otherLinesAreLeftToArgumentParser(arguments: [String]) {
        #expect(PlainCommandLine.command(arguments) == nil, "\(arguments)")
    }

    /// argument-parser stops the process when a command reads a property it did not set: every
    /// property of a command read here holds a value, even with nothing optional given.
    @Test func everyPropertyOfAPlainCommandIsSet() throws {
        #expect(PlainCommandLine.commands.count == 3)
        for name in PlainCommandLine.commands.keys {
            let command = try #require(PlainCommandLine.command([name, "web"]), "\(name)")
            var text = ""
            dump(command, to: &text)
            #expect(text.contains(".value") || text.contains("value:"), "\(name): \(text)")
            #expect(!text.contains("definition"), "\(name) has a property left unset: \(text)")
        }
    }

    /// The reader knows each command's long option and flag names exactly as argument-parser's
    /// definition gives them (its help dump), so a new option cannot be read wrongly: a name it does
    /// not list sends the line to argument-parser, and this test says which list to extend.
    @Test func theReaderKnowsEachCommandsNamesAsArgumentParserDoes() throws {
        struct Dump: Decodable {
            struct Command: Decodable { let arguments: [Argument]? }
            struct Argument: Decodable {
                struct Name: Decodable { let kind: String; let name: String }
                let kind: String
                let names: [Name]?
            }
            let command: Command
        }
        for (name, type) in PlainCommandLine.commands {
            let dump = try JSONDecoder().decode(Dump.self, from: Data(type._dumpHelp().utf8))
            let arguments = dump.command.arguments ?? []
            func longNames(_ kind: String) -> Set<String> {
                Set(arguments.filter { $0.kind == kind }.flatMap { $0.names ?? [] }.filter { $0.kind == "long" }.map { "--" + $0.name })
            }
            #expect(longNames("option") == type.plainOptions.union(SvcUnit.globalOptionNames), "\(name)")
            #expect(longNames("flag").subtracting(["--help"]) == type.plainFlags.union(SvcUnit.globalFlagNames), "\(name)")
            #expect(arguments.filter { $0.kind == "positional" }.count == 1, "\(name) reads one positional argument")
        }
    }
}
