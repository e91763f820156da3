import Foundation
import SystemdTestSupport
import Testing

/// Issue 8, case 4: bad input. Each one gives one `svcunit: error:` line, a documented exit code,
/// and leaves the store byte-for-byte unchanged (a snapshot of every file, mode and byte).
struct BadDocument: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: @Sendable (_ valid: [String: Any]) throws -> Data
    /// A word the error line must contain (field path, problem).
    let mentions: String?

    var testDescription: String { name }

    static func json(_ object: Any) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

    /// A valid document with one change at a key path.
    static func changing(_ name: String, _ path: [String], to value: Any?, mentions: String?) -> BadDocument {
        nonisolated(unsafe) let value = value
        return BadDocument(name: name, bytes: { valid in
            try json(set(valid, path[...], value))
        }, mentions: mentions)
    }

    static func set(_ object: [String: Any], _ path: ArraySlice<String>, _ value: Any?) -> [String: Any] {
        var object = object
        guard let key = path.first else { return object }
        if path.count == 1 { object[key] = value } else {
            object[key] = set(object[key] as? [String: Any] ?? [:], path.dropFirst(), value)
        }
        return object
    }

    static let all: [BadDocument] = [
        BadDocument(name: "empty", bytes: { _ in Data() }, mentions: "empty"),
        BadDocument(name: "whitespace only", bytes: { _ in Data(" \n\t \n".utf8) }, mentions: "empty"),
        BadDocument(name: "malformed", bytes: { _ in Data("{\"uuid\": }".utf8) }, mentions: "line 1"),
        BadDocument(name: "truncated", bytes: { valid in let d = try json(valid); return d.prefix(d.count / 2) }, mentions: nil),
        BadDocument(name: "not an object", bytes: { _ in Data("[1, 2, 3]".utf8) }, mentions: nil),
        BadDocument(name: "invalid UTF-8", bytes: { valid in
            var d = try json(set(valid, ["config", "name"], "XXXX"))
            let range = d.range(of: Data("XXXX".utf8))!
            d.replaceSubrange(range, with: [0xFF, 0xFE, 0xC0, 0x80])
            return d
        }, mentions: "UTF-8"),
        BadDocument(name: "nested 100000 deep", bytes: { _ in Data(String(repeating: "[", count: 100_000).utf8) }, mentions: "nesting"),
        changing("uuid is a number", ["uuid"], to: 5, mentions: "uuid"),
        changing("uuid is not a UUID", ["uuid"], to: "not-a-uuid", mentions: "uuid"),
        changing("uuid path traversal", ["uuid"], to: "../../etc/passwd", mentions: "uuid"),
        changing("config is an array", ["config"], to: [1], mentions: "config"),
        changing("command is a string", ["config", "command"], to: "/bin/sleep 300", mentions: "config.command"),
        changing("command is empty", ["config", "command"], to: [String](), mentions: "config.command"),
        changing("port is a string", ["endpoint", "config", "port"], to: "80", mentions: "endpoint.config.port"),
        changing("port 0", ["endpoint", "config", "port"], to: 0, mentions: "endpoint.config.port"),
        changing("port 65536", ["endpoint", "config", "port"], to: 65536, mentions: "endpoint.config.port"),
        changing("port -1", ["endpoint", "config", "port"], to: -1, mentions: "endpoint.config.port"),
        changing("allocate_port is a string", ["endpoint", "config", "allocate_port"], to: "no", mentions: "allocate_port"),
        changing("unknown service flavor", ["service_type", "flavor"], to: "no-such-flavor", mentions: "no-such-flavor"),
        changing("unknown service type", ["service_type", "type"], to: "evil", mentions: "evil"),
        BadDocument(name: "unknown svcunit class, no service_type", bytes: { valid in
            var v = valid
            v["service_type"] = nil
            v["type"] = "svcunit.Backdoor"
            return try json(v)
        }, mentions: "svcunit.Backdoor"),
        BadDocument(name: "__main__ class, no service_type", bytes: { valid in
            var v = valid
            v["service_type"] = nil
            v["type"] = "__main__.Backdoor"
            return try json(v)
        }, mentions: "__main__.Backdoor"),
        changing("health path //host", ["endpoint", "monitor", "config", "healthcheck_uri_path"], to: "//evil.example/", mentions: "healthcheck_uri_path"),
        changing("health path absolute URL", ["endpoint", "monitor", "config", "healthcheck_uri_path"], to: "http://other:1/", mentions: "healthcheck_uri_path"),
        changing("stop_timeout negative", ["config", "stop_timeout"], to: -1, mentions: "stop_timeout"),
        changing("stop_timeout 1e300", ["config", "stop_timeout"], to: 1e300, mentions: "stop_timeout"),
        changing("restart_delay 1e300", ["config", "restart_delay"], to: 1e300, mentions: "restart_delay"),
        changing("memory_max negative", ["config", "memory_max"], to: -5, mentions: "memory_max"),
        changing("http_timeout 0", ["endpoint", "monitor", "config", "http_timeout"], to: 0, mentions: "http_timeout"),
        BadDocument(name: "stop_timeout NaN", bytes: { valid in
            let text = String(decoding: try json(set(valid, ["config", "stop_timeout"], 12345.5)), as: UTF8.self)
            return Data(text.replacingOccurrences(of: "12345.5", with: "NaN").utf8)
        }, mentions: "stop_timeout"),
        BadDocument(name: "environment name injection", bytes: { valid in
            try json(set(valid, ["config", "environment"], ["A=B\nC": "x"]))
        }, mentions: "environment"),
    ]
}

@Suite("Bad input")
struct BadInputTests {
    /// A valid document as `create --json` writes it (with an HTTP endpoint), as a dictionary.
    static func validDocument() async throws -> [String: Any] {
        let text = try await withStore { store in
            let run = try await store.svcunit("create", "command", "--json", "--name", "base", "--port", "18080",
                                              "--health-path", "/health", "--", "/bin/sleep", "300")
            guard run.status == 0 else { throw TestFailure("\(run)") }
            return run.stdout
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// `register` and `inspect` of each bad document: exit 5, one line naming the problem, the store unchanged.
    @Test(arguments: BadDocument.all)
    func registerAndInspectRefuseBadDocuments(_ bad: BadDocument) async throws {
        try await withStore { store in
            // A store with one service in it, so "unchanged" means something.
            _ = try await store.create(["--name", "existing"], ["/bin/sleep", "300"])
            let file = "\(CLI.scratch)/bad-\(UUID().uuidString).json"
            try bad.bytes(try await Self.validDocument()).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let before = Snapshot(store.path)
            for command in [["--root", store.path, "register", file], ["inspect", file], ["inspect", file, "--json"]] {
                let run = try await CLI.run(command)
                #expect(run.status == 5, "\(bad.name) \(command): \(run)")
                expectOneErrorLine(run, bad.name)
                if let word = bad.mentions {
                    #expect(run.stderr.contains(word), "\(bad.name) \(command) should mention \(word): \(run)")
                }
                #expect(run.stdout.isEmpty, "\(run)")
            }
            #expect(Snapshot(store.path) == before, "\(bad.name) changed the store")
        }
    }

    /// The same documents planted as `<root>/<uuid>/service.json` and read by `status` (and
    /// `start`): exit 5, one line, nothing written, no unit started.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"), arguments: BadDocument.all)
    func plantedBadDocumentsAreRefusedByStatusAndStart(_ bad: BadDocument) async throws {
        try await live { try await withStore { store in
            let uuid = UUID().uuidString.lowercased()
            var valid = try await Self.validDocument()
            valid["uuid"] = uuid
            try FileManager.default.createDirectory(atPath: "\(store.path)/\(uuid)", withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            try bad.bytes(valid).write(to: URL(fileURLWithPath: store.file(uuid)))
            chmod(store.file(uuid), 0o600)
            let before = Snapshot(store.path)
            for command in ["status", "start"] {
                let run = try await store.svcunit(command, uuid)
                #expect(run.status == 5, "\(bad.name) \(command): \(run)")
                expectOneErrorLine(run, bad.name)
            }
            #expect(Snapshot(store.path) == before, "\(bad.name) changed the store")
            #expect(await Witness.units(uuid).isEmpty)
        } }
    }

    /// A file whose `uuid` is not its directory's: refused (exit 5), never acted on.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func uuidThatDoesNotMatchItsDirectory() async throws {
        try await live { try await withStore { store in
            let directoryUUID = UUID().uuidString.lowercased(), fileUUID = UUID().uuidString.lowercased()
            var valid = try await Self.validDocument()
            valid["uuid"] = fileUUID
            try FileManager.default.createDirectory(atPath: "\(store.path)/\(directoryUUID)", withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            try BadDocument.json(valid).write(to: URL(fileURLWithPath: store.file(directoryUUID)))
            chmod(store.file(directoryUUID), 0o600)
            let before = Snapshot(store.path)
            for command in ["status", "start", "stop"] {
                let run = try await store.svcunit(command, directoryUUID)
                #expect(run.status == 5, "\(command): \(run)")
                expectOneErrorLine(run)
                #expect(run.stderr.contains(fileUUID) && run.stderr.contains(directoryUUID), "\(run)")
            }
            #expect(Snapshot(store.path) == before)
            let left = await Witness.units(directoryUUID) + Witness.units(fileUUID)
            #expect(left.isEmpty)
        } }
    }

    /// A 100 MB service.json: refused with exit 5 and one line, store unchanged.
    @Test func hugeDocumentIsRefused() async throws {
        try await withStore { store in
            var valid = try await Self.validDocument()
            valid["config"] = BadDocument.set(valid["config"] as! [String: Any], ["description"], String(repeating: "a", count: 100 << 20))
            let file = "\(CLI.scratch)/huge-\(UUID().uuidString).json"
            try BadDocument.json(valid).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let before = Snapshot(store.path)
            let register = try await store.svcunit("register", file)
            #expect(!register.signaled, "\(register)")
            #expect(Snapshot(store.path) == before || register.status == 0, "a refused register leaves the store unchanged")
            #expect(register.status == 5, "\(register.stderr)")
            expectOneErrorLine(register)
            #expect(Snapshot(store.path) == before)
        }
    }

    // MARK: - Command-line values

    /// Bad option values for `create command`: exit 2, one line naming the option, store unchanged.
    @Test(arguments: [
        (["--port", "0"], "--port"), (["--port", "65536"], "--port"), (["--port", "-1"], "--port -1 is not a TCP port"), (["--port=-1"], "--port -1 is not a TCP port"),
        (["--port", "99999999999999999999"], "port"),
        (["--health-path", "//evil.example/"], "--health-path"), (["--health-path", "http://other:1/"], "--health-path"),
        (["--health-path", "/a b"], "--health-path"), (["--health-path", "/x\n/y"], "--health-path"),
        (["--stop-timeout", "1e300"], "--stop-timeout"), (["--stop-timeout", "-1"], "--stop-timeout -1 must be more than 0"), (["--stop-timeout", "nan"], "--stop-timeout"),
        (["--stop-timeout", "inf"], "--stop-timeout"), (["--stop-timeout", "0"], "--stop-timeout"),
        (["--restart-delay", "1e9"], "--restart-delay"), (["--restart", "sometimes"], "--restart"),
        (["--health-path", "/", "--health-timeout", "0"], "--health-timeout"),
        (["--health-path", "/", "--health-timeout", "1e300"], "--health-timeout"),
        (["--health-path", "/", "--health-status", "99"], "--health-status"),
        (["--memory-max", "-5"], "--memory-max \"-5\" is not a size"), (["--memory-max", "99999999T"], "--memory-max"),
        (["--cpu-quota", "0"], "--cpu-quota"), (["--cpu-quota", "-5"], "--cpu-quota \"-5\" must be a percentage"),
        (["--restart-delay", "-2"], "--restart-delay"), (["--health-path", "/", "--health-timeout", "-1"], "--health-timeout"),
        (["--port", "--name", "x"], "The value '--name' is invalid for '--port <port>'"), (["--cpu-quota", "nan"], "--cpu-quota"),
        (["--name", "a\nb"], "--name"), (["--name", ""], "--name"),
        (["--env", "A=B", "--env", "1BAD=x"], "--env"), (["--env", "A\nB=x"], "--env"), (["--env", "NOEQUALS"], "--env"),
        (["--workdir", "/nonexistent/dir"], "--workdir"),
    ] as [([String], String)])
    func badCreateOptionsAreUsageErrors(options: [String], mentions: String) async throws {
        try await withStore { store in
            _ = try await store.create(["--name", "existing"], ["/bin/sleep", "300"])
            let before = Snapshot(store.path)
            let run = try await CLI.run(["--root", store.path, "create", "command"] + options + ["--", "/bin/sleep", "300"])
            #expect(run.status == 2, "\(options): \(run)")
            expectOneErrorLine(run, "\(options)")
            #expect(run.stderr.contains(mentions), "\(options): \(run)")
            #expect(Snapshot(store.path) == before, "\(options) changed the store")
        }
    }

    /// Absurd `--timeout` values for start/stop/delete: exit 2, nothing touched (checked before any work).
    @Test(arguments: ["-1", "nan", "inf", "1e300", "abc", ""])
    func absurdCommandTimeoutsAreUsageErrors(_ value: String) async throws {
        try await withStore { store in
            let uuid = try await store.create(["--name", "t"], ["/bin/sleep", "300"])
            let before = Snapshot(store.path)
            for command in ["start", "stop", "delete"] {
                let run = try await store.svcunit(command, uuid, "--timeout", value)
                #expect(run.status == 2, "\(command) --timeout \(value.debugDescription): \(run)")
                expectOneErrorLine(run)
                // A negative number is the option's value, not another option (F6, fixed).
                #expect(!run.stderr.contains("Missing value"), "\(command) --timeout \(value.debugDescription): \(run)")
            }
            #expect(Snapshot(store.path) == before)
        }
    }

    /// A busy port with `--no-allocate-port`: start fails (exit 1) with one line naming the port;
    /// no unit, no process.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func busyPortWithoutAllocationFailsTheStart() async throws {
        try await live { try await withStore { store in
            var port = 0
            var listener: Listener?
            while listener == nil { port = Int.random(in: 20000 ... 60000); listener = try? Listener(port: port) }
            defer { listener?.close() }
            let m = marker()
            let uuid = try await store.create(["--name", "busy", "--port", String(port), "--no-allocate-port"], ["/bin/sleep", m])
            let run = try await store.svcunit("start", uuid, "--timeout", "60")
            #expect(run.status == 1, "\(run)")
            expectOneErrorLine(run)
            #expect(run.stderr.contains(String(port)), "\(run)")
            #expect(await Witness.units(uuid).isEmpty, "no unit was started")
            #expect(Witness.processes(m).isEmpty)
        } }
    }

    /// Hostile names and descriptions (`../`, newlines, `;`, unit-file syntax, unicode): the unit is
    /// still `svcunit-<uuid>.service`, its Description is one line, and nothing lands outside the store.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func unitNameInjectionIsImpossible() async throws {
        try await live { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(
                ["--name", "../../x; rm -rf ~ [Service] 服务-ü-🚀", "--description", "line1\n[Service]\nExecStart=/bin/evil; $(reboot)"],
                ["/bin/sleep", m])
            // And a registered document with a newline and a NUL-ish control character in its name.
            var valid = try await Self.validDocument()
            let other = UUID().uuidString.lowercased()
            valid["uuid"] = other
            valid["endpoint"] = NSNull()
            valid["config"] = BadDocument.set(BadDocument.set(valid["config"] as! [String: Any], ["name"], "a\nExecStart=/bin/evil\u{1}"),
                                              ["command"], ["/bin/sleep", m])
            let file = "\(CLI.scratch)/inject-\(other).json"
            try BadDocument.json(valid).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let register = try await store.svcunit("register", file)
            #expect(register.status == 0, "\(register)")

            for id in [uuid, other] {
                let start = try await store.svcunit("start", id)
                #expect(start.status == 0, "\(start)")
                #expect(await Witness.units(id) == ["svcunit-\(id).service"])
                let description = await Witness.show(id, "Description")
                #expect(!description.contains("\n") && description.contains(id), "\(description.debugDescription)")
                #expect(await Witness.show(id, "Id") == "svcunit-\(id).service")
                #expect(await Witness.show(id, "ExecStart").contains("--config-file \(store.file(id))"))
            }
            #expect(Set(store.uuids) == Set([uuid, other]), "only the two service directories exist")
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.path).filter { !$0.hasPrefix(".") }.sorted() == [uuid, other].sorted())
        } }
    }

    /// argv with spaces, quotes, `$(...)`, backticks, `;`, globs, an empty word and unicode reaches
    /// the process verbatim (/proc/PID/cmdline), and no shell ever interprets it.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func argvPassesThroughVerbatim() async throws {
        try await live { try await withStore { store in
            let m = marker()
            let pwned = "\(CLI.scratch)/pwned-\(UUID().uuidString)"
            let argv = ["/usr/bin/python3", "-c", "import time; time.sleep(300)", m,
                        "two words", "\"double\"", "'single'", "$(touch \(pwned))", "`touch \(pwned)`", "a;touch \(pwned)",
                        "$HOME", "${HOME}", "$$", "*", "", "\\n", "%n %h", "ü 🚀", "--", "|| true"]
            let uuid = try await store.create(["--name", "argv"], argv)
            let start = try await store.svcunit("start", uuid)
            #expect(start.status == 0, "\(start)")
            let pid = try #require(await Witness.mainPID(uuid))
            #expect(Witness.commandLine(pid) == argv)
            #expect(!FileManager.default.fileExists(atPath: pwned), "a shell ran")
            let stored = try #require((try store.document(uuid)["config"] as? [String: Any])?["command"] as? [String])
            #expect(stored == argv)
        } }
    }

    /// A health path without a leading slash is normalised to `/path` on the endpoint's own host:
    /// the service becomes healthy only if `GET /health` (a file the server serves) is what is probed.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func healthPathWithoutLeadingSlashProbesThatPath() async throws {
        try await live { try await withStore { store in
            let docroot = "\(CLI.scratch)/docroot-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: docroot, withIntermediateDirectories: true)
            try "ok".write(toFile: docroot + "/health", atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: docroot) }
            let uuid = try await store.create(["--name", "noslash", "--health-path", "health", "--protocol", "http", "--workdir", docroot],
                                              ["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"])
            let start = try await store.svcunit("start", uuid, "--timeout", "20")
            #expect(start.status == 0, "\(start)")
            let status = try await store.status(uuid)
            let endpoint = try #require(status["endpoint"] as? [String: Any])
            #expect(endpoint["healthy"] as? Bool == true)
            #expect((endpoint["monitor"] as? String)?.contains("GET /health") == true, "\(endpoint)")
            // A path the server does not serve is unhealthy: the probe really goes to that path.
            let missing = try await store.create(["--name", "missing", "--health-path", "nothing-here", "--protocol", "http", "--workdir", docroot],
                                                 ["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"])
            let bad = try await store.svcunit("start", missing, "--timeout", "20")
            #expect(bad.status == 4, "\(bad)")
            #expect(bad.stderr.contains("/nothing-here") && bad.stderr.contains("404"), "\(bad)")
        } }
    }
}

