import ArgumentParser
@testable import Entrypoint
import Foundation
import Testing

/// The entrypoint reads the two command lines svcunit writes for every start of a command service
/// without argument-parser (`EntrypointCommand.runUnitCommandLine`): it must recognise exactly those,
/// read them as argument-parser does, and fail as it does.
@Suite("the entrypoint's own reading of the unit's command lines")
struct EntrypointCommandLineTests {
    @Test func entrypointRecognisesOnlyTheUnitsOwnCommandLines() {
        #expect(EntrypointCommand.UnitCommandLine(["--config-file", "/s/u/service.json"]) == .run(configFile: "/s/u/service.json"))
        #expect(EntrypointCommand.UnitCommandLine(["--await-exec", "--config-file", "/s/u/service.json"]) == .awaitExec)
        // What svcunit writes is what it recognises.
        #expect(EntrypointCommand.UnitCommandLine(EntrypointCommand.UnitCommandLine.runArguments(configFile: "/f")) == .run(configFile: "/f"))
        #expect(EntrypointCommand.UnitCommandLine(EntrypointCommand.UnitCommandLine.awaitExecArguments(configFile: "/f")) == .awaitExec)
        for other in [[], ["--config-file"], ["--config-file=/s/u/service.json"], ["--config-file", "-x"], ["--notify", "--config-file", "/f"],
                      ["--record-exit", "--config-file", "/f"], ["--config-file", "/f", "--record-exit"], ["--await-ready", "--config-file", "/f"],
                      ["--config-file", "/f", "--await-exec"], ["--await-exec", "--config-file", "-f"], ["--help"], ["--config-file", "/f", "--help"]] {
            #expect(EntrypointCommand.UnitCommandLine(other) == nil, "\(other)")
        }
    }

    /// The forms it recognises mean to argument-parser what they mean to it.
    @Test func entrypointReadsItsFormsAsArgumentParserDoes() throws {
        let run = try EntrypointCommand.parse(["--config-file", "/s/u/service.json"])
        #expect(run.configFile == "/s/u/service.json")
        #expect(!run.notify && !run.recordExit && !run.awaitExec && !run.awaitReady)
        let watcher = try EntrypointCommand.parse(["--await-exec", "--config-file", "/s/u/service.json"])
        #expect(watcher.awaitExec && !watcher.notify && !watcher.recordExit && !watcher.awaitReady)
    }

    /// Through the executable: the unit's command line (NOTIFY_SOCKET set, as systemd sets it) runs
    /// a command service's command, and a document it cannot read fails with the entrypoint's one
    /// error line and EX_NOINPUT, as on argument-parser's path.
    @Test func entrypointRunsTheUnitsCommandLine() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let (_, file) = try Self.echoService(in: root, saying: "ran by the entrypoint")
        let notify = ["NOTIFY_SOCKET": root.path + "/no-manager-listens-here"]
        let ran = try Run.svcunit(["entrypoint", "--config-file", file], environment: notify)
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout == "ran by the entrypoint\n")
        let missing = try Run.svcunit(["entrypoint", "--config-file", root.path + "/nosuch/service.json"], environment: notify)
        #expect(missing.status == 66)
        #expect(missing.errorLines.count == 1)
        #expect(missing.errorLines.first?.hasPrefix("svcunit entrypoint: error: cannot read \(root.path)/nosuch/service.json") == true)
        let viaParser = try Run.svcunit(["entrypoint", "--config-file=\(root.path)/nosuch/service.json"], environment: notify)
        #expect(viaParser.status == 66)
        #expect(viaParser.errorLines == missing.errorLines)
        // A document that is not JSON: EX_DATAERR and one line naming the file, on both paths; the
        // file is left as it was.
        let broken = root.path + "/broken.json"
        try Data("{\"type\": ".utf8).write(to: URL(fileURLWithPath: broken))
        let bad = try Run.svcunit(["entrypoint", "--config-file", broken], environment: notify)
        #expect(bad.status == 65)
        #expect(bad.errorLines.count == 1)
        #expect(bad.errorLines.first?.hasPrefix("svcunit entrypoint: error: \(broken): ") == true)
        let badViaParser = try Run.svcunit(["entrypoint", "--config-file=\(broken)"], environment: notify)
        #expect(badViaParser.status == 65)
        #expect(badViaParser.errorLines == bad.errorLines)
        #expect(try Data(contentsOf: URL(fileURLWithPath: broken)) == Data("{\"type\": ".utf8))
    }

    /// `svcunit start` writes the document while the manager forks the unit, holding the service's
    /// lock from before the start until the write is done; the entrypoint reads it under a shared
    /// lock, so it runs what that write says, never the document before it.
    @Test func entrypointReadsTheDocumentOnlyOnceTheServiceLockIsFree() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let (uuid, file) = try Self.echoService(in: root, saying: "the document before")
        let lock = open(root.path + "/" + uuid + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(lock >= 0)
        defer { close(lock) }
        #expect(flock(lock, LOCK_EX) == 0)

        let entrypoint = Process()
        entrypoint.executableURL = Run.binary
        entrypoint.arguments = ["entrypoint", "--config-file", file]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = root.path + "/no-manager-listens-here"
        entrypoint.environment = environment
        let output = Pipe()
        entrypoint.standardOutput = output
        try entrypoint.run()
        // While the lock is held, the entrypoint waits (on a slow machine it may not have begun yet:
        // then this proves nothing, and the output below still must be the document's second version).
        Thread.sleep(forTimeInterval: 0.3)
        #expect(entrypoint.isRunning, "the entrypoint did not wait for the service's lock")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "the document before", with: "the document written under the lock")
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(flock(lock, LOCK_UN) == 0)
        entrypoint.waitUntilExit()
        #expect(entrypoint.terminationStatus == 0)
        let ran = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(ran == "the document written under the lock\n")
    }

    /// A stored command service that echoes `text`: its UUID and its document's path.
    static func echoService(in root: TemporaryRoot, saying text: String) throws -> (uuid: String, file: String) {
        let created = try root.svcunit("create", "command", "--name", "echo", "--", "/bin/echo", text)
        #expect(created.status == 0, "\(created.stderr)")
        let uuid = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (uuid, root.path + "/" + uuid + "/service.json")
    }
}
