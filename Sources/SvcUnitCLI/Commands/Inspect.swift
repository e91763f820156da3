public import ArgumentParser
import FoundationEssentials
import ServiceKinds
import ServiceModel

extension SvcUnit {
    /// `svcunit inspect FILE|SERVICE [--json]`: loads a service.json and shows what svcunit understands of it.
    ///
    /// Useful to check a document before starting it, and to normalise one (`--json` prints it the
    /// way svcunit would write it, unknown fields included). Not obvious: nothing is started or
    /// probed; the states shown are the ones recorded in the file. An argument that names an existing
    /// file (or has a `/`) is a file; anything else is a stored service (UUID, unique prefix or name).
    public struct Inspect: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "inspect",
            _superCommandName: SvcUnit.toolName,
            abstract: "Show a service document (service.json) as svcunit reads it.",
            discussion: """
                Takes a file path or a stored service (UUID, unique UUID prefix, or name). Exits 3 if \
                neither exists and 5 if it is not a valid service document.

                EXAMPLES
                  svcunit inspect web
                  svcunit inspect ./service.json --json
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("A service.json file, or a stored service: UUID, unique UUID prefix, or name.",
                                     valueName: "file-or-service"))
        public var file: String

        @Flag(name: .long, help: "Print the normalised JSON document instead of a summary.")
        public var json = false

        public init() {}

        public func run() async throws {
            let file = try path()
            let data = try Self.read(file)
            let registry = BuiltinKinds.registry()
            let document: ServiceDocument
            do { document = try registry.decode(data: data) } catch { throw error.inFile(file) }
            if json {
                print(document.formatted(), terminator: "")
            } else {
                print(Self.summary(document), terminator: "")
            }
        }

        /// The file to read: the argument itself when it is a path, else the stored service's file.
        func path() throws -> String {
            if file.contains("/") || FileManager.default.fileExists(atPath: file) { return file }
            let context = CommandContext(global)
            do {
                let target = try context.lookup().resolve(file)
                return try context.store(create: false).file(for: target.uuid)
            } catch let error as CLIError where error.status == .notFound {
                throw ServiceModelError(.fileNotFound, "no file or stored service \"\(file)\" (stored services are in \(context.root))",
                                        filePath: file)
            }
        }

        static func read(_ path: String) throws -> Data {
            guard let size = Paths.size(path) else {
                throw ServiceModelError(.fileNotFound, "\(path): no such file", filePath: path)
            }
            if Paths.isDirectory(path) {
                throw CLIError("\(path): is a directory, expected a service.json file", status: .badInput)
            }
            if size > ServiceDocument.maximumSize {
                throw ServiceModelError(.documentTooLarge, "\(path) is larger than \(ServiceDocument.maximumSize >> 20) MiB; not reading it",
                                        filePath: path, hint: "a service.json is a few KiB: check what wrote this file")
            }
            do {
                return try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw CLIError("\(path): cannot read: \(SystemErrorText.of(error))", status: .failure)
            }
        }

        /// Keeps a multi-line message on its summary line.
        static func oneLine(_ text: String) -> String {
            text.split(whereSeparator: \.isNewline).joined(separator: " | ")
        }

        /// The human summary: one `label: value` line per fact.
        static func summary(_ document: ServiceDocument) -> String {
            var lines: [(String, String)] = []
            let type = document.serviceType
            lines.append(("service", document.config.name))
            if document.isPython {
                lines.append(("class", "\(document.typeName ?? "") (Python, run by its own interpreter)"))
                if let settings = document.svcunit {
                    lines.append(("python", settings.python ?? "not registered"))
                    if let workdir = settings.workdir { lines.append(("workdir", workdir)) }
                    // Names only: values may be secrets, and stay in the 0600 file.
                    let names = (settings.environment + settings.daemonEnvironment).map(\.key)
                    if !names.isEmpty { lines.append(("environment", names.joined(separator: " "))) }
                } else {
                    lines.append(("python", "not registered (svcunit register FILE records it)"))
                }
            } else {
                lines.append(("class", document.kind.className))
                lines.append(("type", type.type))
                lines.append(("flavor", type.flavor))
                if !type.name.isEmpty { lines.append(("type name", type.name + (type.description.isEmpty ? "" : " (\(type.description))"))) }
            }
            lines.append(("uuid", document.uuid.rawValue))
            lines.append(("admin state", document.adminState.rawValue))
            lines.append(("state", "\(document.status.state) (last: \(document.status.lastState))"))
            if !document.status.lastError.isEmpty { lines.append(("last error", oneLine(document.status.lastError))) }
            for (key, value) in document.config.flavor.encodeFields() where value != .null {
                lines.append((key.replacing("_", with: " "), JSONText.formatCompact(value)))
            }
            let config = document.config
            if let restart = config.restart { lines.append(("restart", restart.rawValue)) }
            if let delay = config.restartDelay { lines.append(("restart delay", "\(JSONText.formatCompact(.number(delay))) s")) }
            if let timeout = config.stopTimeout { lines.append(("stop timeout", "\(JSONText.formatCompact(.number(timeout))) s")) }
            if let memory = config.memoryMax { lines.append(("memory max", "\(memory) bytes")) }
            if let quota = config.cpuQuota { lines.append(("cpu quota", "\(JSONText.formatCompact(.number(quota)))%")) }
            if let file = document.status.configFile { lines.append(("config file", file)) }
            if let endpoint = document.endpoint {
                var where_ = endpoint.status.uri ?? "not started (\(endpoint.config.protocol))"
                if let port = endpoint.config.port { where_ += ", preferred port \(port)" }
                if !endpoint.config.allocatePort { where_ += ", allocate_port false" }
                lines.append(("endpoint", where_))
                lines.append(("endpoint state", "\(endpoint.status.state) (admin: \(endpoint.adminState))"))
                if !endpoint.status.lastError.isEmpty { lines.append(("endpoint error", oneLine(endpoint.status.lastError))) }
                lines.append(("monitor", endpoint.monitor?.summary ?? "none"))
            } else {
                lines.append(("endpoint", "none"))
            }
            if let health = document.healthSupervision { lines.append(("supervision", health.summary)) }
            return Output.fields(lines.map { ($0.0, Output.escaped($0.1)) })
        }
    }
}
