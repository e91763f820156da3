import Foundation
import SystemdTestSupport
import Testing

/// The real ZenML for these tests: the venv interpreter `scripts/test` installs zenml 0.98.0 into
/// (`SVCUNIT_TEST_ZENML_PYTHON`), and this directory's `python/` with the project's own service
/// classes and the scripts that make ZenML write, start, query and stop documents.
enum ZenML {
    static let environment = ProcessInfo.processInfo.environment
    static let python: String? = environment["SVCUNIT_TEST_ZENML_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python").path

    /// Runs when a user manager is there and either zenml is installed or live tests are required
    /// (then a missing venv fails the test instead of skipping it).
    static var shouldRun: Bool { LiveSystemd.shouldRun && (python != nil || LiveSystemd.isRequired) }

    static func requirePython() throws -> String {
        try #require(python, "SVCUNIT_TEST_ZENML_PYTHON is not set: run the tests with scripts/test, which installs zenml")
    }
}

/// One finished program run.
struct Ran: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// The last stdout line as a JSON object.
    func object() throws -> [String: Any] {
        let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(self)")
    }
}

/// A ZenML root (`root_runtime_path`) that is also the svcunit store, so documents are registered in
/// place, plus a private ZenML config directory. Everything it started is deleted by `cleanUp()`.
final class ZenMLStore: @unchecked Sendable {
    let root: String
    let config: String
    let python: String

    init() throws {
        python = try ZenML.requirePython()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("svcunit-zenml-\(UUID().uuidString.prefix(8))").path
        root = base + "/services"
        config = base + "/zenml-config"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// What a ZenML user's shell has: their config path, no analytics, no colours.
    var zenmlEnvironment: [String: String] {
        ["ZENML_CONFIG_PATH": config, "ZENML_ANALYTICS_OPT_IN": "false", "ZENML_LOGGING_COLORS_DISABLED": "true"]
    }

    /// Runs `executable` with the test's environment plus `environment`, in `directory`.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    directory: String? = nil) throws -> Ran {
        var env = ProcessInfo.processInfo.environment
        for name in ["SVCUNIT_ROOT", "SVCUNIT_ENTRYPOINT", "VIRTUAL_ENV", "PYTHONPATH"] { env[name] = nil }
        env["NO_COLOR"] = "1"
        env.merge(environment) { _, new in new }
        let ran = try TestProcess.run(executable, arguments, environment: env, directory: directory)
        return Ran(status: ran.status, stdout: ran.stdout, stderr: ran.stderr)
    }

    /// The built `svcunit` beside the test bundle.
    static var svcunitBinary: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("svcunit").path
    }

    /// `svcunit --root <root> ARGS` from the scripts directory, with the ZenML user's environment.
    func svcunit(_ arguments: String..., environment: [String: String] = [:], directory: String? = nil) throws -> Ran {
        try Self.run(Self.svcunitBinary, ["--root", root] + arguments,
                     environment: zenmlEnvironment.merging(environment) { _, new in new }, directory: directory ?? ZenML.scripts)
    }

    /// `python SCRIPT ARGS` with the venv interpreter, from the scripts directory.
    func script(_ name: String, _ arguments: String...) throws -> Ran {
        try Self.run(python, ["\(ZenML.scripts)/\(name)"] + arguments, environment: zenmlEnvironment, directory: ZenML.scripts)
    }

    /// A document written by ZenML's own code for `className` in svcunit_test_services:
    /// (uuid, config file, port).
    func write(_ className: String, name: String, _ extra: String...) throws -> (uuid: String, file: String, port: Int?) {
        let ran = try Self.run(python, ["\(ZenML.scripts)/write_zenml_document.py", "--root", root,
                                        "--class", "svcunit_test_services.\(className)", "--name", name] + extra,
                               environment: zenmlEnvironment, directory: ZenML.scripts)
        #expect(ran.status == 0, "\(ran)")
        let o = try ran.object()
        return (try #require(o["uuid"] as? String), try #require(o["config_file"] as? String), o["port"] as? Int)
    }

    /// `register` in place with the venv interpreter and the scripts directory as working directory.
    func register(_ file: String, _ extra: String...) throws -> Ran {
        try Self.run(Self.svcunitBinary, ["--root", root, "register", file, "--python", python, "--workdir", ZenML.scripts] + extra,
                     environment: zenmlEnvironment, directory: ZenML.scripts)
    }

    func status(_ uuid: String) throws -> [String: Any] {
        let ran = try svcunit("status", uuid, "--json")
        return try #require(try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any], "\(ran)")
    }

    func document(_ uuid: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(uuid)/service.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func cleanUp() {
        let uuids = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { UUID(uuidString: $0) != nil }
        for uuid in uuids {
            // A leaked ZenML daemon a test left behind: only ever one whose PID file is in this root.
            if let text = try? String(contentsOfFile: "\(root)/\(uuid)/service.pid", encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), cmdline.contains(root) {
                kill(pid, SIGKILL)
            }
        }
        if !uuids.isEmpty {
            _ = try? Self.run(Self.svcunitBinary, ["--root", root, "delete", "--force", "--timeout", "30"] + uuids)
        }
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: root).deletingLastPathComponent().path)
    }
}

/// The process's argv from /proc, or `nil` once it is gone.
func commandLine(_ pid: Int) -> [String]? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
    return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}

/// Whether a process is gone: no longer in /proc, a zombie waiting for its parent (`Z`), or dead
/// and being reaped by it right now (`X`: the parent's `waitid` has taken the zombie and the kernel
/// is releasing it; seen once in CI when a read raced the user manager's reap).
func isGone(_ pid: Int) -> Bool {
    guard let stat = processStat(pid), let state = stat.split(separator: ")").last?.dropFirst().first else { return true }
    return state == "Z" || state == "X"
}

/// `/proc/PID/stat`, or nil once the process is gone: what a failed `isGone` shows.
func processStat(_ pid: Int) -> String? {
    try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
}

/// Polls `condition` every 50 ms until it holds or `limit` passes (generous limits: they only
/// bound a failing test).
func eventually(_ limit: Duration = .seconds(60), _ condition: () throws -> Bool) rethrows -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try condition()
}
