import FoundationEssentials
import OSCalls

/// A service whose code is a user's Python class: a ZenML `LocalDaemonService` subclass named by
/// the document's top-level `type` (`my_pkg.services.HttpDaemon`), as ZenML 0.56 and later write it.
///
/// svcunit never runs such a service in-process: its unit runs the user's interpreter with the
/// runner the package ships (`svcunit_zenml_runner.py`), which loads the document with ZenML's own
/// `BaseService.from_json` and calls `run()`. Not obvious: this one kind stands for every Python
/// class; the class itself is `ServiceDocument.typeName`, and it is never matched against a
/// built-in kind by its last name component (a user's `SleepingDaemon` is not svcunit's).
public enum PythonService: ServiceKind {
    public static let serviceType = ServiceType(
        type: "python", flavor: "zenml", name: "ZenML service",
        description: "A ZenML LocalDaemonService subclass, run by its own Python interpreter")
    public static let className = "PythonService"
    /// ZenML's config fields are the class's own: svcunit's supervision fields are not read from them.
    public static let readsSupervisionFields = false

    /// The runner loads and runs the class; `svcunit entrypoint` has nothing to run.
    public static func run(_ document: ServiceDocument) async throws {
        throw ServiceModelError(
            .invalidField, "\(document.typeName ?? "this Python service") runs in its own Python interpreter, not in svcunit entrypoint",
            fieldPath: "type", hint: "start it with `svcunit start`, which runs svcunit_zenml_runner.py")
    }

    /// Checks that `typeName` is a Python class path (`module.Class`, every part an identifier)
    /// that ZenML can import.
    /// - Throws: `.invalidField` for `__main__.X` (a class defined in a script: neither ZenML nor
    ///   svcunit can import it) and for anything that is not a dotted identifier path.
    public static func validateClassPath(_ typeName: String) throws(ServiceModelError) {
        let parts = typeName.split(separator: ".", omittingEmptySubsequences: false)
        if parts.first == "__main__" {
            throw ServiceModelError(
                .invalidField,
                "type \"\(typeName)\" is a class defined in a script run as __main__; neither ZenML nor svcunit can import it",
                fieldPath: "type", hint: "move the class into a module (e.g. my_services.py) and write the document again")
        }
        guard parts.count >= 2, parts.allSatisfy(isIdentifier) else {
            throw ServiceModelError(
                .invalidField, "type \"\(typeName)\" is not a Python class path such as my_pkg.services.MyService",
                fieldPath: "type")
        }
    }

    private static func isIdentifier(_ part: Substring) -> Bool {
        guard let first = part.unicodeScalars.first, first == "_" || first.properties.isXIDStart else { return false }
        return part.unicodeScalars.dropFirst().allSatisfy { $0 == "_" || $0.properties.isXIDContinue }
    }
}

/// What svcunit keeps for itself in a document: the top-level `svcunit` object, which ZenML ignores
/// on load (and drops when ZenML itself writes the file again).
///
/// For a Python service it holds what the unit needs to run the class as the user would: the
/// interpreter, the working directory and the environment. Not obvious: the environment lives here,
/// in the 0600 document, and never in unit properties, which every local user can read with
/// `systemctl --user show`.
public struct SvcUnitSettings: Sendable, Hashable {
    public static let key = "svcunit"

    /// Absolute path of the Python interpreter, as given (symlinks not resolved: a venv's
    /// `bin/python` is a symlink, and resolving it would leave the venv).
    public var python: String?
    /// Absolute path of the working directory; first on `sys.path`, as with `python -m`.
    public var workdir: String?
    /// Environment variables for the service, in order: the caller's `ZENML_*` and `PYTHONPATH`,
    /// `--pass-env` and `--env` at register time.
    public var environment: [(key: String, value: String)]
    /// What the class's own `_get_daemon_cmd()` adds to the environment (ZenML's local server adds
    /// `ZENML_*` settings there), asked of ZenML at register time.
    public var daemonEnvironment: [(key: String, value: String)]
    /// Periodic health supervision (`health`), for every kind of service; nil when off.
    public var health: HealthSupervision?
    public var unknownFields: UnknownFields

    public init(python: String? = nil, workdir: String? = nil, environment: [(key: String, value: String)] = [],
                daemonEnvironment: [(key: String, value: String)] = [], unknownFields: UnknownFields = UnknownFields()) {
        self.python = python
        self.workdir = workdir
        self.environment = environment
        self.daemonEnvironment = daemonEnvironment
        self.health = nil
        self.unknownFields = unknownFields
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        python = try reader.optionalString("python")
        workdir = try reader.optionalString("workdir")
        for (key, path) in [("python", python), ("workdir", workdir)] {
            if let path, !path.hasPrefix("/") { throw reader.invalid(key, "is \(path.debugDescription), expected an absolute path") }
        }
        environment = try reader.optionalStringMap("env") ?? []
        daemonEnvironment = try reader.optionalStringMap("daemon_env") ?? []
        for (name, _) in environment + daemonEnvironment where !Self.isEnvironmentName(name) {
            throw reader.invalid("env", "has the variable name \(name.debugDescription); expected letters, digits and _ (not starting with a digit)")
        }
        if var healthReader = try reader.optionalObject(HealthSupervision.key) {
            health = try HealthSupervision(reading: &healthReader)
        } else {
            health = nil
        }
        unknownFields = UnknownFields(from: reader)
    }

    /// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first | 0x20 >= UInt8(ascii: "a") && first | 0x20 <= UInt8(ascii: "z")) else {
            return false
        }
        return name.utf8.allSatisfy { c in
            c == UInt8(ascii: "_") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z"))
        }
    }

    public static func == (lhs: SvcUnitSettings, rhs: SvcUnitSettings) -> Bool {
        lhs.json == rhs.json
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(JSONText.formatCompact(json)) }

    var json: JSONValue {
        var known: [(key: String, value: JSONValue)] = []
        if let python { known.append(("python", .string(python))) }
        if let workdir { known.append(("workdir", .string(workdir))) }
        if !environment.isEmpty { known.append(("env", .object(JSONObject(environment.map { ($0.key, JSONValue.string($0.value)) })))) }
        if !daemonEnvironment.isEmpty {
            known.append(("daemon_env", .object(JSONObject(daemonEnvironment.map { ($0.key, JSONValue.string($0.value)) }))))
        }
        if let health { known.append((HealthSupervision.key, health.json)) }
        return unknownFields.object(known: known)
    }
}

// MARK: - The runner

extension PythonService {
    /// The runner's file name; the package installs it as `/usr/lib/svcunit/svcunit_zenml_runner.py`.
    public static let runnerFileName = "svcunit_zenml_runner.py"

    /// Where the runner is: `$SVCUNIT_PYTHON_RUNNER`, else beside the running executable or in
    /// `../lib/svcunit/` from it, else `/usr/lib/svcunit/` for an installed executable (under
    /// `/usr/`), else this source tree's `python/` (builds that run from `.build/`), else
    /// `/usr/lib/svcunit/`. `nil` when none exists.
    public static func runnerPath(environment: [String: String]? = nil) -> String? {
        let environment = environment ?? CurrentProcess.environmentVariables
        if let given = environment["SVCUNIT_PYTHON_RUNNER"], !given.isEmpty { return given }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        let sourceTree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("python")
        let installed = "/usr/lib/svcunit/\(runnerFileName)"
        let beside: String = directory.appendingPathComponent(runnerFileName).path
        let packaged: String = directory.deletingLastPathComponent().appendingPathComponent("lib/svcunit/\(runnerFileName)").path
        let source: String = sourceTree.appendingPathComponent(runnerFileName).path
        let candidates = executable.hasPrefix("/usr/")
            ? [beside, packaged, installed, source] : [beside, packaged, source, installed]
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }

    /// The argv that runs `document`'s class: its interpreter, unbuffered, with the runner.
    /// - Throws: `.invalidField` (field `svcunit.python`) naming the service and what to run when
    ///   no interpreter is recorded or it is not executable, and when the runner is missing.
    public static func command(for document: ServiceDocument, configFile: String, runner: String?) throws(ServiceModelError) -> [String] {
        let who = document.label
        guard let python = document.svcunit?.python else {
            throw ServiceModelError(
                .invalidField, "\(who) is a Python service with no interpreter recorded", fieldPath: "svcunit.python",
                hint: "register it with `svcunit register --python PATH \(configFile)`")
        }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ServiceModelError(
                .invalidField, "\(who): Python interpreter \(python) is not an executable file", fieldPath: "svcunit.python",
                hint: "re-register with `svcunit register --python PATH \(configFile)`")
        }
        guard let runner, FileManager.default.isReadableFile(atPath: runner) else {
            throw ServiceModelError(
                .provisioningFailed, "\(who): svcunit's Python runner \(runner ?? runnerFileName) is missing",
                hint: "reinstall svcunit, or point SVCUNIT_PYTHON_RUNNER at \(runnerFileName)")
        }
        return [python, "-u", runner, "run", "--config-file", configFile]
    }
}
