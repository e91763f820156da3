import Foundation
import SystemdManager
import SystemdTestSupport
import Testing

/// Runs the built `svcunit` executable (it sits next to the test bundle) and captures its output.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String

    static var binary: URL {
        if let override = ProcessInfo.processInfo.environment["SVCUNIT_BINARY"] { return URL(fileURLWithPath: override) }
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return runner.deletingLastPathComponent().appendingPathComponent("svcunit")
    }

    static func svcunit(_ arguments: String...) throws -> Run { try svcunit(arguments) }

    /// - Parameters:
    ///   - environment: set on top of the test's environment (NO_COLOR is always set; SVCUNIT_* removed).
    ///   - removing: variables to remove.
    static func svcunit(_ arguments: [String], environment: [String: String] = [:], removing: [String] = []) throws -> Run {
        var env = ProcessInfo.processInfo.environment
        env["SVCUNIT_ROOT"] = nil
        env["SVCUNIT_ENTRYPOINT"] = nil
        env["NO_COLOR"] = "1"
        for name in removing { env[name] = nil }
        env.merge(environment) { _, new in new }
        let ran = try TestProcess.run(binary.path, arguments, environment: env)
        return Run(status: ran.status, stdout: ran.stdout, stderr: ran.stderr)
    }

    /// The stderr lines.
    var errorLines: [Substring] { stderr.split(separator: "\n") }
    /// The stdout lines.
    var lines: [Substring] { stdout.split(separator: "\n") }

    /// stdout parsed as one JSON object.
    func object() throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(value as? [String: Any], "not a JSON object: \(stdout)")
    }

    /// stdout parsed as one JSON array of objects.
    func array() throws -> [[String: Any]] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(value as? [[String: Any]], "not a JSON array of objects: \(stdout)")
    }

    /// stdout parsed as JSON Lines.
    func jsonLines() throws -> [[String: Any]] {
        try lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "bad JSON line \(line)")
        }
    }
}

/// A private service store for one test: `mkdtemp` (mode 0700), removed by `cleanUp()`.
final class TemporaryRoot: @unchecked Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "svcunit-cli-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    /// `svcunit ARGS --root <this root>`: the root is placed after the subcommand words.
    func svcunit(_ arguments: String..., environment: [String: String] = [:], removing: [String] = []) throws -> Run {
        try Run.svcunit(["--root", path] + arguments, environment: environment, removing: removing)
    }

    /// Service directories in the store.
    var storedUUIDs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { UUID(uuidString: $0) != nil }.sorted()
    }

    /// Stops and deletes every service this root holds (force), then removes the directory.
    func cleanUp() {
        let uuids = storedUUIDs
        if !uuids.isEmpty, LiveSystemd.isReachable {
            _ = try? Run.svcunit(["--root", path, "delete", "--force", "--timeout", "20"] + uuids)
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Creates `/bin/sleep 300` named `name` and returns its UUID.
    func createSleep(_ name: String) throws -> String {
        let run = try svcunit("create", "command", "--name", name, "--", "/bin/sleep", "300")
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
