public import ServiceModel
import FoundationEssentials

/// Runs an arbitrary command as a service: `config.command` is the argv, `config.environment`
/// extra environment variables, `config.working_directory` the directory to run in.
///
/// `{port}` in any argv element or environment value is replaced by the endpoint's chosen port,
/// so a server can be told where to listen (`["python", "-m", "http.server", "{port}"]`).
/// Not obvious: `run` replaces the current process with the command (`execvp`), so the process
/// systemd supervises *is* the command, and its exit status and signals are the service's.
public enum CommandService: ServiceKind {
    public static let serviceType = ServiceType(
        type: "daemon", flavor: "command", name: "command", description: "Runs a command as a local daemon")
    public static let className = "CommandService"

    /// The placeholder replaced by the endpoint's port.
    public static let portPlaceholder = "{port}"

    /// The command service's `config` fields.
    public struct Config: FlavorConfig, Hashable {
        public var command: [String]
        /// Extra environment variables, in document order.
        public var environment: [EnvironmentVariable]
        public var workingDirectory: String?

        public init(command: [String], environment: [EnvironmentVariable] = [], workingDirectory: String? = nil) {
            self.command = command
            self.environment = environment
            self.workingDirectory = workingDirectory
        }

        public func encodeFields() -> [(key: String, value: JSONValue)] {
            [
                ("command", .array(command.map(JSONValue.string))),
                ("environment", .object(JSONObject(environment.map { (key: $0.name, value: JSONValue.string($0.value)) }))),
                ("working_directory", workingDirectory.map(JSONValue.string) ?? .null),
            ]
        }
    }

    /// One `NAME=value` pair.
    public struct EnvironmentVariable: Hashable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public static func decodeConfig(_ reader: inout FieldReader) throws(ServiceModelError) -> any FlavorConfig {
        guard let command = try reader.optionalStringArray("command") else {
            throw reader.missing("command", expected: "an array of strings (the argv)")
        }
        guard let program = command.first, !program.isEmpty else {
            throw reader.invalid("command", "is empty; expected the program and its arguments")
        }
        _ = program
        var environment: [EnvironmentVariable] = []
        for (name, value) in try reader.optionalStringMap("environment") ?? [] {
            if name.isEmpty || name.contains("=") || name.contains("\0") {
                throw reader.invalid("environment", "has an invalid variable name \"\(name)\"")
            }
            environment.append(EnvironmentVariable(name: name, value: value))
        }
        let workingDirectory = try reader.optionalString("working_directory")
        if let workingDirectory, !workingDirectory.hasPrefix("/") {
            throw reader.invalid("working_directory", "is \"\(workingDirectory)\", expected an absolute path")
        }
        return Config(command: command, environment: environment, workingDirectory: workingDirectory)
    }

    /// What `run` executes: argv and environment with `{port}` substituted.
    public struct Invocation: Equatable, Sendable {
        public var argv: [String]
        public var environment: [EnvironmentVariable]
        public var workingDirectory: String?
    }

    /// Substitutes `{port}` in argv and environment values.
    /// - Throws: `.invalidField` naming `config.command` or `config.environment` when `{port}` is
    ///   used but the service has no endpoint port yet.
    public static func invocation(for document: ServiceDocument) throws(ServiceModelError) -> Invocation {
        guard let config = document.flavorConfig(as: Config.self) else {
            throw ServiceModelError(.invalidField, "service \(document) has no command config", fieldPath: "config.command")
        }
        let port = document.endpoint?.status.port
        func substitute(_ text: String, field: String) throws(ServiceModelError) -> String {
            let pieces = Self.pieces(of: text, around: portPlaceholder)
            if pieces.count == 1 { return text }
            guard let port else {
                throw ServiceModelError(
                    .invalidField, "field `\(field)` uses {port} but the service has no endpoint port",
                    fieldPath: field, hint: "add an endpoint to the service")
            }
            // Appended, not `joined(separator:)`, an unspecialized generic with run-time lookups too.
            var result = pieces[0]
            for piece in pieces.dropFirst() { result += port.description + piece }
            return result
        }
        var argv: [String] = []
        for argument in config.command { argv.append(try substitute(argument, field: "config.command")) }
        var environment: [EnvironmentVariable] = []
        for variable in config.environment {
            environment.append(EnvironmentVariable(
                name: variable.name, value: try substitute(variable.value, field: "config.environment.\(variable.name)")))
        }
        return Invocation(argv: argv, environment: environment, workingDirectory: config.workingDirectory)
    }

    /// The parts of `text` between occurrences of `placeholder` (one part when there is none),
    /// compared byte by byte in UTF-8: an ASCII placeholder cannot match inside a multi-byte
    /// character. Not `contains`/`replacing`: those generic algorithms cost the entrypoint, on
    /// every start, about an eighth of its instructions in run-time type lookups (callgrind).
    static func pieces(of text: String, around placeholder: String) -> [String] {
        let bytes = Array(text.utf8), needle = Array(placeholder.utf8)
        var pieces: [String] = []
        var start = 0, index = 0
        while !needle.isEmpty, index + needle.count <= bytes.count {
            if bytes[index ..< index + needle.count].elementsEqual(needle) {
                pieces.append(String(decoding: bytes[start ..< index], as: UTF8.self))
                index += needle.count
                start = index
            } else {
                index += 1
            }
        }
        pieces.append(String(decoding: bytes[start...], as: UTF8.self))
        return pieces
    }

    /// Replaces this process with the command. Returns only by throwing.
    public static func run(_ document: ServiceDocument) async throws {
        let invocation = try invocation(for: document)
        try Exec.replaceProcess(invocation)
    }

    /// Replaces this process with the command, first starting `watcher` (an argv) with the read end
    /// of a close-on-exec pipe on descriptor 3: it reads end of file once the exec has succeeded, a
    /// byte if it failed (`awaitExec` there tells which). Returns only by throwing.
    public static func exec(_ document: ServiceDocument, watcher: [String]) throws(ServiceModelError) -> Never {
        let invocation = try invocation(for: document)
        try Exec.replaceProcess(invocation, watcher: watcher)
    }

    /// In the watcher started by `exec(_:watcher:)`: true once the command runs, false if its exec failed.
    public static func awaitExec() -> Bool { ExecWatch.awaitExec() }
}
