import ArgumentParser

/// A `start`, `stop` or `status` command line in its plain form (service names, the command's own
/// long options as `--name value` or `--name=value`, its flags), read without argument-parser.
///
/// Not obvious: argument-parser builds a command by reflecting on its properties (a `Mirror` of
/// each command and option group, and a protocol-conformance lookup for each property's type, each
/// of which scans the executable's 4,384 conformance records): a third of `svcunit start`'s
/// instructions and about 3 ms of its time before the first D-Bus call (BENCHMARKS.md). These three
/// verbs are what start-to-healthy measures and what scripts run in loops. The commands are still
/// defined by argument-parser alone: anything this reader does not know exactly (help, `--`, a name
/// it does not list, a repeated option, a value that begins with `-` or is empty, a wrong number of
/// services, a value `validate()` refuses) makes it answer nil, and `SvcUnit.parse` reads the line,
/// so every message is argument-parser's own. `PlainCommandLineTests` pins that both read every
/// plain form alike and that this reader knows each command's names as argument-parser does.
struct PlainCommandLine {
    /// The arguments that are no option or option value, in order.
    let positionals: [String]
    private let values: [String: String]
    private let flags: Set<String>

    /// The commands read here, by name.
    static let commands: [String: any PlainParsable.Type] = [
        SvcUnit.Start.configuration.commandName!: SvcUnit.Start.self,
        SvcUnit.Stop.configuration.commandName!: SvcUnit.Stop.self,
        SvcUnit.Status.configuration.commandName!: SvcUnit.Status.self,
    ]

    /// The command `arguments` (those after `svcunit`) name, parsed and validated; nil when it is
    /// not one of `commands` or the line is not in its plain form.
    static func command(_ arguments: [String]) -> (any AsyncParsableCommand)? {
        // Global options may come before the verb (`svcunit --root D start web`), as `SvcUnit` allows.
        var index = arguments.startIndex
        while index < arguments.endIndex, !commands.keys.contains(arguments[index]) {
            let argument = arguments[index]
            if SvcUnit.globalFlagNames.contains(argument) || SvcUnit.globalOptionNames.contains(where: { argument.hasPrefix($0 + "=") }) {
                index += 1
            } else if SvcUnit.globalOptionNames.contains(argument) {
                index += 2
            } else {
                return nil
            }
        }
        guard index < arguments.endIndex, let type = commands[arguments[index]] else { return nil }
        var rest = arguments
        rest.remove(at: index)
        guard let line = PlainCommandLine(rest, options: type.plainOptions.union(SvcUnit.globalOptionNames),
                                          flags: type.plainFlags.union(SvcUnit.globalFlagNames))
        else { return nil }
        guard var command = type.init(plain: line), (try? command.validate()) != nil else { return nil }
        return command
    }

    /// Reads `arguments` (the verb taken out); nil at the first thing that is not plain.
    init?(_ arguments: [String], options: Set<String>, flags: Set<String>) {
        var positionals: [String] = [], values: [String: String] = [:], given: Set<String> = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard !argument.isEmpty else { return nil }
            guard argument.hasPrefix("-") else { positionals.append(argument); continue }
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard given.insert(name).inserted else { return nil }
            if flags.contains(name), parts.count == 1 { continue }
            guard options.contains(name) else { return nil }
            let value: String
            if parts.count == 2 {
                value = String(parts[1])
            } else {
                guard index < arguments.endIndex else { return nil }
                value = arguments[index]
                index += 1
            }
            guard !value.isEmpty, !value.hasPrefix("-") else { return nil }
            values[name] = value
        }
        self.positionals = positionals
        self.values = values
        self.flags = given.subtracting(values.keys)
    }

    /// The value of option `name` (`--timeout`), if given.
    func value(_ name: String) -> String? { values[name] }

    /// Whether flag `name` (`--json`) was given.
    func flag(_ name: String) -> Bool { flags.contains(name) }
}

/// A command `PlainCommandLine` reads: the long names of its own options and flags, and how its
/// properties are set from a plain line.
///
/// Not obvious: `init(plain:)` must set every property (argument-parser stops the process when a
/// command reads a property it did not set) and run the `validate()` of its option groups, as
/// argument-parser would (`command(_:)` runs the command's own); a nil makes `SvcUnit.parse` read
/// the line instead.
protocol PlainParsable: AsyncParsableCommand {
    static var plainOptions: Set<String> { get }
    static var plainFlags: Set<String> { get }
    init?(plain line: PlainCommandLine)
}

extension GlobalOptions {
    /// `--root`, `--entrypoint` and `--verbose` from a plain line; nil where `validate()` refuses them.
    init?(plain line: PlainCommandLine) {
        self.init()
        root = line.value("--root")
        entrypoint = line.value("--entrypoint")
        verbose = line.flag("--verbose")
        guard (try? validate()) != nil else { return nil }
    }
}

extension ServiceSelection {
    static let plainOptions: Set<String> = ["--timeout"]
    static let plainFlags: Set<String> = ["--json"]

    /// The services, `--timeout` and `--json` from a plain line; nil where `validate()` refuses them.
    init?(plain line: PlainCommandLine) {
        self.init()
        services = line.positionals
        timeout = line.value("--timeout").map(DurationValue.init) ?? Self.defaultTimeout
        json = line.flag("--json")
        guard (try? validate()) != nil else { return nil }
    }
}

extension SvcUnit.Start: PlainParsable {
    static var plainOptions: Set<String> { ServiceSelection.plainOptions }
    static var plainFlags: Set<String> { ServiceSelection.plainFlags }

    init?(plain line: PlainCommandLine) {
        guard let global = GlobalOptions(plain: line), let selection = ServiceSelection(plain: line) else { return nil }
        self.init()
        self.global = global
        self.selection = selection
    }
}

extension SvcUnit.Stop: PlainParsable {
    static var plainOptions: Set<String> { ServiceSelection.plainOptions }
    static var plainFlags: Set<String> { ServiceSelection.plainFlags.union(["--force"]) }

    init?(plain line: PlainCommandLine) {
        guard let global = GlobalOptions(plain: line), let selection = ServiceSelection(plain: line) else { return nil }
        self.init()
        self.global = global
        self.selection = selection
        self.force = line.flag("--force")
    }
}

extension SvcUnit.Status: PlainParsable {
    static var plainOptions: Set<String> { [] }
    static var plainFlags: Set<String> { ["--json"] }

    init?(plain line: PlainCommandLine) {
        guard line.positionals.count == 1, let global = GlobalOptions(plain: line) else { return nil }
        self.init()
        self.global = global
        self.service = line.positionals[0]
        self.json = line.flag("--json")
    }
}
