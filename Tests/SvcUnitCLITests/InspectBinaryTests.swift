import Foundation
import Testing

/// The ServiceModel fixtures, shared with this target through the source tree.
func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ServiceModelTests/Fixtures/\(name).json").path
}

/// Writes `text` to a temporary file and returns its path.
func temporaryFile(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "svcunit-cli-" + UUID().uuidString + ".json"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("svcunit inspect (built binary)", .serialized)
struct InspectBinaryTests {
    @Test func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: Run.binary.path), "build the svcunit product first (looked at \(Run.binary.path))")
    }

    @Test func summaryOfAZenMLDocument() throws {
        let run = try Run.svcunit("inspect", fixturePath("zenml-sleeper"))
        #expect(run.status == 0)
        #expect(run.stderr == "")
        for expected in [
            "service:        sleeper-1", "class:          SleepingDaemon", "type:           daemon", "flavor:         sleeping",
            "uuid:           8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c", "admin state:    active", "state:          active (last: pending_startup)",
            "endpoint:       http://localhost:8237/", "monitor:        HTTP GET /health expecting 200 within 5 s",
        ] {
            #expect(run.stdout.contains(expected), "missing \(expected) in\n\(run.stdout)")
        }
    }

    @Test func jsonPrintsTheNormalisedDocument() throws {
        let run = try Run.svcunit("inspect", "--json", fixturePath("zenml-sleeper"))
        #expect(run.status == 0)
        #expect(run.stdout == (try String(contentsOfFile: fixturePath("zenml-sleeper"), encoding: .utf8)))
        let noType = try Run.svcunit("inspect", fixturePath("zenml-no-service-type"), "--json")
        #expect(noType.status == 0)
        // A ZenML 0.98 document of the user's own class keeps ZenML's shape: no service_type added.
        #expect(!noType.stdout.contains("\"service_type\""), "\(noType.stdout)")
        #expect(noType.stdout.contains("\"type\": \"my_project.services.SleepingDaemon\""))
        #expect(noType.stdout.contains("\"name\": \"SleepingDaemon\""))
    }

    @Test func missingFileExits3WithOneLine() throws {
        let run = try Run.svcunit("inspect", "/nonexistent/service.json")
        #expect(run.status == 3)
        #expect(run.stdout == "")
        #expect(run.errorLines == ["svcunit: error: /nonexistent/service.json: no such file"])
    }

    @Test(arguments: [
        ("{\n  \"uuid\" 1\n}", "line 2, column 10"),
        ("{\"uuid\": \"8f14e45f-ceea-467f-a0e6", "truncated JSON"),
        ("", "the document is empty"),
        ("[]", "the document must be an object"),
        (#"{"uuid": "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c", "service_type": {"type": "model-serving", "flavor": "seldon"}}"#, "flavor 'seldon'"),
        (#"{"type": "svcunit.Unknown", "uuid": "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c"}"#, "names no built-in svcunit service class"),
        (#"{"type": "__main__.Unknown", "uuid": "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c"}"#, "move the class into a module"),
        (#"{"type": "Unknown", "uuid": "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c"}"#, "not a Python class path"),
        (#"{"uuid": "nope", "service_type": {"type": "daemon", "flavor": "sleeping"}, "config": {"wake_up_after": 1}}"#, "\"nope\", which is not a UUID"),
        (#"{"uuid": "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c", "service_type": {"type": "daemon", "flavor": "sleeping"}, "config": {"wake_up_after": 1}, "endpoint": {"config": {"port": "80"}}}"#, "`endpoint.config.port`"),
    ])
    func badDocumentsExit5WithOneClearLine(text: String, words: String) throws {
        let path = try temporaryFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Run.svcunit("inspect", path)
        #expect(run.status == 5)
        #expect(run.stdout == "")
        #expect(run.errorLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("svcunit: error: \(path): "), "\(run.stderr)")
        #expect(run.stderr.contains(words), "\(run.stderr)")
    }

    @Test func directoryIsBadInput() throws {
        let run = try Run.svcunit("inspect", NSTemporaryDirectory())
        #expect(run.status == 5)
        #expect(run.errorLines.count == 1)
        #expect(run.stderr.contains("is a directory"))
    }

    @Test func usageErrorsExit2() throws {
        let run = try Run.svcunit("inspect")
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("svcunit: error: Missing expected argument '<file-or-service>'"), "\(run.stderr)")
        let unknown = try Run.svcunit("inspect", "--frobnicate", "x")
        #expect(unknown.status == 2)
    }

    @Test func versionAndHelp() throws {
        let version = try Run.svcunit("--version")
        #expect(version.status == 0)
        #expect(version.stdout == "0.1.0\n")
        let help = try Run.svcunit("--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("inspect"))
        #expect(help.stdout.contains("EXIT STATUS"))
        #expect(help.stdout.contains("5  bad service document"))
    }
}
