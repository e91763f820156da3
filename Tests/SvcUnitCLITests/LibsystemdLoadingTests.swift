import Foundation
import SystemdTestSupport
import Testing

/// libsystemd is opened the first time a command talks to systemd, never at start-up (CSystemd):
/// `--version`, `create` and `inspect` load neither it nor the six libraries it pulls in. The
/// loader's own trace (`LD_DEBUG=files`) is the witness, and a mount namespace in which
/// libsystemd.so.0 is an empty file shows what a user without it gets.
@Suite("libsystemd loaded on demand (built binary)")
struct LibsystemdLoadingTests {
    /// Whether the loader's trace shows libsystemd.so.0 being opened.
    static func loadsLibsystemd(_ run: Run) -> Bool {
        run.stderr.split(separator: "\n").contains { $0.contains("file=libsystemd.so.0") }
    }

    @Test func commandsThatDoNotTalkToSystemdDoNotLoadIt() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let trace = ["LD_DEBUG": "files"]

        let version = try Run.svcunit(["--version"], environment: trace)
        #expect(version.status == 0, "\(version.stderr)")
        #expect(!Self.loadsLibsystemd(version), "--version loaded libsystemd: \(version.stderr)")

        let create = try root.svcunit("create", "sleeper", "--name", "nap", "--wake-up-after", "1", environment: trace)
        #expect(create.status == 0, "\(create.stderr)")
        #expect(!Self.loadsLibsystemd(create), "create loaded libsystemd: \(create.stderr)")
        let uuid = try #require(root.storedUUIDs.first)

        let inspect = try Run.svcunit(["inspect", root.path + "/\(uuid)/service.json"], environment: trace)
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(!Self.loadsLibsystemd(inspect), "inspect loaded libsystemd: \(inspect.stderr)")

        // The witness works: a command that must ask the user manager opens libsystemd (and then
        // finds no manager in this environment).
        let status = try root.svcunit("status", uuid, environment: trace.merging(OfflineCommandTests.noManager) { $1 },
                                      removing: OfflineCommandTests.noManagerRemoving)
        #expect(status.status == 6, "\(status.stderr)")
        #expect(Self.loadsLibsystemd(status), "status did not open libsystemd: \(status.stderr)")
    }

    /// In a mount namespace where libsystemd.so.0 is an empty file: the commands that need systemd
    /// fail with one line that names the library and the package, and lose nothing; the others work.
    @Test(.enabled(if: getuid() == 0, "needs root for a private mount namespace"))
    func withoutLibsystemdOnlyWhatNeedsItFails() throws {
        let library = URL(fileURLWithPath: "/lib/x86_64-linux-gnu/libsystemd.so.0").resolvingSymlinksInPath().path
        #expect(FileManager.default.fileExists(atPath: library), "libsystemd.so.0 is installed: \(library)")
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        /// `svcunit ARGS` with libsystemd.so.0 hidden behind /dev/null in a private mount namespace.
        func withoutLibsystemd(_ arguments: String...) throws -> Run {
            let script = "mount --bind /dev/null \"$1\" && shift && exec \"$@\""
            var env = ProcessInfo.processInfo.environment
            env["NO_COLOR"] = "1"
            // Where a user manager's socket would be, so that svcunit gets as far as opening libsystemd
            // whether or not this test runs beside one.
            env["XDG_RUNTIME_DIR"] = root.path
            env["DBUS_SESSION_BUS_ADDRESS"] = nil
            let ran = try TestProcess.run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
                                                               library, Run.binary.path, "--root", root.path] + arguments,
                                          environment: env)
            return Run(status: ran.status, stdout: ran.stdout, stderr: ran.stderr)
        }

        let create = try withoutLibsystemd("create", "sleeper", "--name", "nap", "--wake-up-after", "1")
        #expect(create.status == 0, "\(create.stderr)")
        let uuid = try #require(root.storedUUIDs.first, "create stored the service")
        let file = root.path + "/\(uuid)/service.json"
        let stored = try Data(contentsOf: URL(fileURLWithPath: file))

        let start = try withoutLibsystemd("start", uuid)
        #expect(start.status == 6, "exit 6, no user manager reachable: \(start)")
        #expect(start.errorLines.count == 1, "one line: \(start.stderr)")
        let line = String(start.errorLines.first ?? "")
        #expect(line.hasPrefix("svcunit: error: cannot talk to systemd: cannot load libsystemd: "), "\(line)")
        #expect(line.contains("libsystemd.so.0") && line.contains("install the libsystemd0 package"), "\(line)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == stored, "the failed start changed nothing")

        let logs = try withoutLibsystemd("logs", uuid)
        #expect(logs.status == 1, "\(logs)")
        let errors = logs.errorLines.filter { $0.hasPrefix("svcunit: error: ") }
        #expect(errors.count == 1 && errors[0].contains("cannot load libsystemd: ") && errors[0].contains("libsystemd0"), "\(logs.stderr)")

        let version = try withoutLibsystemd("--version")
        #expect(version.status == 0 && !version.stdout.isEmpty, "\(version)")
    }
}
