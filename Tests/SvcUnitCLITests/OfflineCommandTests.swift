import Foundation
import Testing

/// Commands that must work without systemd: create, register, lookups, list of stored files,
/// option validation, help, completions, and the "no user manager" error.
@Suite("svcunit without systemd (built binary)")
struct OfflineCommandTests {
    /// An environment in which no user manager can be found.
    static let noManager = ["XDG_RUNTIME_DIR": "/nonexistent-svcunit-runtime"]
    static let noManagerRemoving = ["DBUS_SESSION_BUS_ADDRESS"]

    @Test func createCommandPrintsUUIDAndStoresTheDocument() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try root.svcunit("create", "command", "--name", "web", "--description", "a web server",
                                   "--health-path", "/health", "--health-status", "204", "--head", "--health-timeout", "3",
                                   "--port", "18080", "--no-allocate-port", "--env", "MODE=prod", "--env", "EMPTY=",
                                   "--workdir", "/tmp", "--restart", "on-failure", "--restart-delay", "2",
                                   "--stop-timeout", "15", "--memory-max", "256M", "--cpu-quota", "50%", "--silent",
                                   "--", "/usr/bin/python3", "-m", "http.server", "{port}")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr == "")
        let uuid = run.stdout.trimmingCharacters(in: .newlines)
        #expect(UUID(uuidString: uuid) != nil)
        #expect(root.storedUUIDs == [uuid])
        let file = root.path + "/\(uuid)/service.json"
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        #expect(doc["uuid"] as? String == uuid)
        #expect(doc["admin_state"] as? String == "inactive")
        let type = try #require(doc["service_type"] as? [String: Any])
        #expect(type["type"] as? String == "daemon")
        #expect(type["flavor"] as? String == "command")
        let config = try #require(doc["config"] as? [String: Any])
        #expect(config["name"] as? String == "web")
        #expect(config["description"] as? String == "a web server")
        #expect(config["command"] as? [String] == ["/usr/bin/python3", "-m", "http.server", "{port}"])
        #expect(config["environment"] as? [String: String] == ["MODE": "prod", "EMPTY": ""])
        #expect(config["working_directory"] as? String == "/tmp")
        #expect(config["restart"] as? String == "on-failure")
        #expect(config["restart_delay"] as? Int == 2)
        #expect(config["stop_timeout"] as? Int == 15)
        #expect(config["memory_max"] as? Int == 256 * 1024 * 1024)
        #expect(config["cpu_quota"] as? Int == 50)
        #expect(config["silent_daemon"] as? Bool == true)
        #expect(config["root_runtime_path"] as? String == root.path)
        let endpoint = try #require(doc["endpoint"] as? [String: Any])
        let endpointConfig = try #require(endpoint["config"] as? [String: Any])
        #expect(endpointConfig["protocol"] as? String == "http")
        #expect(endpointConfig["port"] as? Int == 18080)
        #expect(endpointConfig["allocate_port"] as? Bool == false)
        let monitor = try #require(endpoint["monitor"] as? [String: Any])
        #expect((monitor["type"] as? String)?.hasSuffix("HTTPEndpointHealthMonitor") == true)
        let monitorConfig = try #require(monitor["config"] as? [String: Any])
        #expect(monitorConfig["healthcheck_uri_path"] as? String == "/health")
        #expect(monitorConfig["use_head_request"] as? Bool == true)
        #expect(monitorConfig["http_status_code"] as? Int == 204)
        #expect(monitorConfig["http_timeout"] as? Int == 3)
    }

    @Test func createJSONPrintsTheWholeDocument() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try root.svcunit("create", "command", "--json", "--port", "9000", "--", "/bin/sleep", "300")
        #expect(run.status == 0, "\(run.stderr)")
        let doc = try run.object()
        let uuid = try #require(doc["uuid"] as? String)
        #expect(root.storedUUIDs == [uuid])
        #expect((doc["config"] as? [String: Any])?["name"] as? String == "CommandService")
        let endpoint = try #require(doc["endpoint"] as? [String: Any])
        #expect((endpoint["config"] as? [String: Any])?["protocol"] as? String == "tcp")
        let monitor = try #require(endpoint["monitor"] as? [String: Any])
        #expect((monitor["type"] as? String)?.hasSuffix("TCPEndpointHealthMonitor") == true, "a port alone gets a TCP monitor")
        // The stored file is the same document.
        let stored = try String(contentsOfFile: root.path + "/\(uuid)/service.json", encoding: .utf8)
        let storedDoc = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? NSDictionary)
        #expect(storedDoc == (doc as NSDictionary))
    }

    @Test func httpsHealthPathKeepsHTTPS() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try root.svcunit("create", "command", "--json", "--protocol", "https", "--health-path", "ready", "--", "/bin/true")
        #expect(run.status == 0, "\(run.stderr)")
        let endpoint = try #require(try run.object()["endpoint"] as? [String: Any])
        #expect((endpoint["config"] as? [String: Any])?["protocol"] as? String == "https")
        #expect(((endpoint["monitor"] as? [String: Any])?["type"] as? String)?.hasSuffix("HTTPEndpointHealthMonitor") == true)
    }

    @Test func createSleeper() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try root.svcunit("create", "sleeper", "--wake-up-after", "2.5", "--name", "nap", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let doc = try run.object()
        #expect((doc["config"] as? [String: Any])?["wake_up_after"] as? Double == 2.5)
        #expect((doc["service_type"] as? [String: Any])?["flavor"] as? String == "sleeping")
        let missing = try root.svcunit("create", "sleeper")
        #expect(missing.status == 2)
        let negative = try root.svcunit("create", "sleeper", "--wake-up-after", "-3")
        #expect(negative.status == 2)
        #expect(root.storedUUIDs.count == 1)
    }

    @Test(arguments: [
        (["--port", "0"], "--port 0 is not a TCP port"),
        (["--port", "70000"], "--port 70000 is not a TCP port"),
        (["--health-path", "http://evil/"], "--health-path \"http://evil/\" is an absolute URL"),
        (["--health-path", "//evil/x"], "--health-path \"//evil/x\" starts with //"),
        (["--env", "NOEQUALS"], "--env \"NOEQUALS\" must be NAME=value"),
        (["--env", "1BAD=x"], "--env \"1BAD=x\": \"1BAD\" is not a valid variable name"),
        (["--env", "BAD-NAME=x"], "--env \"BAD-NAME=x\": \"BAD-NAME\" is not a valid variable name"),
        (["--stop-timeout", "86401"], "--stop-timeout 86401 is more than one day"),
        (["--restart-delay", "2d"], "--restart-delay 2d is more than one day"),
        (["--health-path", "/", "--health-timeout", "100000"], "--health-timeout 100000 is more than one day"),
        (["--health-path", "/", "--health-timeout", "1.5"], "--health-timeout 1.5 must be a whole number of seconds, at least 1"),
        (["--health-path", "/", "--health-timeout", "500ms"], "--health-timeout 500ms must be a whole number of seconds, at least 1"),
        (["--stop-timeout", "0"], "--stop-timeout 0 must be more than 0 seconds"),
        (["--stop-timeout", "soon"], "--stop-timeout \"soon\" is not a duration"),
        (["--restart", "sometimes"], "--restart \"sometimes\" is not a restart policy"),
        (["--protocol", "udp"], "--protocol \"udp\" is not a protocol"),
        (["--protocol", "tcp", "--health-path", "/"], "--health-path needs --protocol http or https"),
        (["--head"], "--head needs --health-path"),
        (["--health-path", "/", "--health-status", "42"], "--health-status 42 is not an HTTP status"),
        (["--memory-max", "lots"], "--memory-max \"lots\" is not a size"),
        (["--cpu-quota", "0"], "--cpu-quota \"0\" must be a percentage"),
        (["--no-allocate-port"], "--no-allocate-port needs --port"),
        (["--workdir", "/nonexistent/dir"], "--workdir /nonexistent/dir is not a directory"),
        (["--name", ""], "--name must be a non-empty single line"),
        // Negative numbers are values, not options (argument-parser would say "Missing value").
        (["--port", "-1"], "--port -1 is not a TCP port"),
        (["--stop-timeout", "-1"], "--stop-timeout -1 must be more than 0 seconds"),
        (["--memory-max", "-5"], "--memory-max \"-5\" is not a size"),
    ])
    func invalidCreateOptionsExit2WithOneLineAndStoreNothing(options: [String], words: String) throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try Run.svcunit(["create", "command", "--root", root.path] + options + ["--", "/bin/sleep", "1"])
        #expect(run.status == 2, "\(options): \(run.stderr)")
        #expect(run.stdout == "")
        #expect(run.errorLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("svcunit: error: \(words)"), "\(run.stderr)")
        #expect(root.storedUUIDs.isEmpty)
    }

    /// Negative numbers for the other commands' numeric options are read as values and refused by
    /// name, before anything is looked up.
    @Test(arguments: [
        (["logs", "anything", "-n", "-5"], "-n -5 must be 0 or more"),
        (["start", "anything", "--timeout", "-1"], "--timeout -1 must be more than 0 seconds"),
        (["create", "sleeper", "--wake-up-after", "-3"], "--wake-up-after \"-3\" must be a number of seconds, 0 or more"),
    ])
    func negativeNumbersAreValuesThatAreRefused(arguments: [String], words: String) throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try Run.svcunit(arguments + ["--root", root.path])
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.errorLines == ["svcunit: error: \(words)"], "\(run.stderr)")
        #expect(root.storedUUIDs.isEmpty)
    }

    @Test func emptyArgvAndPortPlaceholderWithoutEndpoint() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let empty = try root.svcunit("create", "command")
        #expect(empty.status == 2)
        #expect(empty.errorLines == ["svcunit: error: no command given; put it after --, e.g. svcunit create command -- /bin/sleep 300"])
        let placeholder = try root.svcunit("create", "command", "--", "/srv/server", "{port}")
        #expect(placeholder.status == 2)
        #expect(placeholder.stderr.contains("uses {port} but the service has no endpoint"))
        #expect(root.storedUUIDs.isEmpty)
    }

    @Test func duplicateNameIsRefused() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        _ = try root.createSleep("dup")
        let again = try root.svcunit("create", "command", "--name", "dup", "--", "/bin/true")
        #expect(again.status == 1)
        #expect(again.errorLines.count == 1)
        #expect(again.stderr.contains("a service named \"dup\" already exists"))
        #expect(root.storedUUIDs.count == 1)
    }

    @Test func registerValidatesAndRefusesDuplicates() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try root.svcunit("register", fixturePath("zenml-sleeper"))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c\n")
        #expect(root.storedUUIDs == ["8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c"])
        let again = try root.svcunit("register", fixturePath("zenml-sleeper"))
        #expect(again.status == 1)
        #expect(again.errorLines.count == 1)
        #expect(again.stderr.hasPrefix("svcunit: error: service 8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c is already stored in \(root.path)"))
        let missing = try root.svcunit("register", "/nonexistent/service.json")
        #expect(missing.status == 3)
        #expect(missing.errorLines == ["svcunit: error: /nonexistent/service.json: no such file"])
        let bad = try temporaryFile("{\"uuid\": 1")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let invalid = try root.svcunit("register", bad)
        #expect(invalid.status == 5)
        #expect(invalid.errorLines.count == 1)
        #expect(root.storedUUIDs.count == 1)
    }

    /// Register of a Python service records what its unit needs (no Python asked with --no-check);
    /// options that only make sense for Python services are refused for svcunit's own kinds.
    @Test func registerOfAPythonServiceRecordsInterpreterWorkdirAndEnvironment() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let venv = root.path + "/venv"
        try FileManager.default.createDirectory(atPath: venv + "/bin", withIntermediateDirectories: true)
        // A venv's python is a symlink: it is recorded as given, not resolved (that would leave the venv).
        try FileManager.default.createSymbolicLink(atPath: venv + "/bin/python", withDestinationPath: "/bin/sh")
        let run = try root.svcunit("register", fixturePath("zenml-no-service-type"), "--no-check", "--workdir", "/tmp",
                                   "--env", "A=1", "--env", "B=x=y", "--pass-env", "HOME",
                                   environment: ["VIRTUAL_ENV": venv, "ZENML_CONFIG_PATH": "/cfg", "PYTHONPATH": "src"])
        #expect(run.status == 0, "\(run.stderr)")
        let uuid = "0b6f2b4e-5a1d-4c3e-9f8a-7d6c5b4a3921"
        let text = try String(contentsOfFile: "\(root.path)/\(uuid)/service.json", encoding: .utf8)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let settings = try #require(doc["svcunit"] as? [String: Any], "\(text)")
        #expect(settings["python"] as? String == venv + "/bin/python")
        #expect(settings["workdir"] as? String == "/tmp")
        let env = try #require(settings["env"] as? [String: String])
        #expect(env == ["ZENML_CONFIG_PATH": "/cfg", "PYTHONPATH": "src", "A": "1", "B": "x=y",
                        "HOME": ProcessInfo.processInfo.environment["HOME"] ?? ""])
        #expect(doc["service_type"] == nil)

        let refused: [([String], Int32, String)] = [
            (["register", fixturePath("zenml-sleeper"), "--python", "/bin/sh"], 2, "apply to Python services only"),
            (["register", fixturePath("zenml-no-service-type"), "--env", "1X=y"], 2, "--env \"1X=y\""),
            (["register", fixturePath("zenml-no-service-type"), "--pass-env", "NO_SUCH_VARIABLE_HERE", "--no-check"], 2, "is not set"),
            (["register", fixturePath("zenml-no-service-type"), "--python", "/nonexistent/python"], 5, "/nonexistent/python"),
            (["register", fixturePath("zenml-no-service-type"), "--workdir", "/nonexistent", "--python", "/bin/sh"], 5, "/nonexistent"),
            // Checked before anything else happens (with --adopt, before a daemon is stopped).
            (["register", fixturePath("zenml-no-service-type"), "--adopt", "--timeout", "0"], 2, "--timeout 0"),
        ]
        let other = try TemporaryRoot()
        defer { other.cleanUp() }
        let fresh = other.path + "/store"  // a refused register creates no store
        for (arguments, status, words) in refused {
            let ran = try Run.svcunit(["--root", fresh] + arguments)
            #expect(ran.status == status, "\(arguments): \(ran.stderr)")
            // The first line says it (a usage error adds argument-parser's usage lines after it).
            #expect(ran.errorLines.first?.hasPrefix("svcunit: error: ") == true && ran.errorLines.first?.contains(words) == true,
                    "\(arguments): \(ran.stderr)")
            if status == 5 { #expect(ran.errorLines.count == 1, "\(arguments): \(ran.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: fresh), "nothing stored, no store made: \(arguments)")
        }
    }

    /// Registers a copy of the sleeper fixture under `uuid` with `name`.
    func register(_ root: TemporaryRoot, uuid: String, name: String) throws {
        let text = try String(contentsOfFile: fixturePath("zenml-sleeper"), encoding: .utf8)
        var doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        doc["uuid"] = uuid
        var config = try #require(doc["config"] as? [String: Any])
        config["name"] = name
        doc["config"] = config
        let path = try temporaryFile(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try root.svcunit("register", path)
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test func lookupByPrefixAndNameAndItsErrors() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let first = "abcd0000-0000-4000-8000-000000000001"
        let second = "abcd1111-0000-4000-8000-000000000002"
        let third = "ef010000-0000-4000-8000-000000000003"
        try register(root, uuid: first, name: "alpha")
        try register(root, uuid: second, name: "twin")
        try register(root, uuid: third, name: "twin")
        // A name that is also a UUID prefix of two services. Every UUID here is fixed: a random one
        // starting with "ef" or "abc" would make the prefixes below ambiguous (1 run in 256 did).
        let named = "12340000-0000-4000-8000-000000000004"
        try register(root, uuid: named, name: "abcd")
        let env = Self.noManager
        func status(_ identifier: String) throws -> Run {
            try root.svcunit("status", identifier, environment: env, removing: Self.noManagerRemoving)
        }
        // Resolution succeeds (then the missing manager gives exit 6, proving the lookup passed).
        for identifier in ["alpha", "abcd0", "ABCD1111", "ef", first, "abcd", named] {
            let run = try status(identifier)
            #expect(run.status == 6, "\(identifier): \(run.stderr)")
        }
        // `abcd` resolved above to the service of that name although it is also a prefix of two
        // UUIDs; a prefix that is no name is still ambiguous.
        let prefix = try status("abc")
        #expect(prefix.status == 2)
        #expect(prefix.errorLines.count == 1)
        #expect(prefix.stderr.hasPrefix("svcunit: error: \"abc\" is ambiguous: it matches 2 services: "))
        #expect(prefix.stderr.contains("\(first) (alpha)"))
        #expect(prefix.stderr.contains("\(second) (twin)"))
        let twins = try status("twin")
        #expect(twins.status == 2)
        #expect(twins.errorLines == ["svcunit: error: \"twin\" is ambiguous: it matches 2 services: \(second) (twin), \(third) (twin); give more of the UUID"])
        let none = try root.svcunit("stop", "nosuch", environment: env, removing: Self.noManagerRemoving)
        #expect(none.status == 3)
        #expect(none.errorLines == ["svcunit: error: no service named or with a UUID starting with \"nosuch\" in \(root.path)"])
        let unknownUUID = try root.svcunit("delete", "00000000-0000-4000-8000-000000000000", environment: env, removing: Self.noManagerRemoving)
        #expect(unknownUUID.status == 3)
        #expect(unknownUUID.errorLines == ["svcunit: error: no service 00000000-0000-4000-8000-000000000000 in \(root.path)"])
        // Several services: the first unknown one stops the command before anything is done.
        let mixed = try root.svcunit("start", "alpha", "nosuch", environment: env, removing: Self.noManagerRemoving)
        #expect(mixed.status == 3)
        let ambiguousAmongMany = try root.svcunit("delete", "alpha", "twin", environment: env, removing: Self.noManagerRemoving)
        #expect(ambiguousAmongMany.status == 2)
        #expect(root.storedUUIDs.count == 4)
    }

    @Test func noUserManagerIsOneLineWithWhatToCheck() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("s")
        // Started once (status.runtime_path is set), so delete needs systemd too; one never started does not (see ChangeCommandTests).
        try markStarted(root, uuid)
        for command in [["status", uuid], ["start", uuid], ["stop", uuid], ["delete", uuid], ["restart", uuid]] {
            let run = try Run.svcunit(["--root", root.path] + command, environment: Self.noManager, removing: Self.noManagerRemoving)
            #expect(run.status == 6, "\(command): \(run.stderr)")
            #expect(run.stdout == "")
            #expect(run.errorLines.count == 1, "\(run.stderr)")
            // What to do leads; the raw errno text of what was tried comes last, in parentheses.
            // delete asks systemd per service (one never started needs no manager), so its line names the service.
            let prefix = command[0] == "delete" ? "svcunit: error: \(uuid) (s): " : "svcunit: error: "
            #expect(run.stderr.hasPrefix(prefix + "no systemd user manager is reachable: log in"), "\(run.stderr)")
            for hint in ["systemctl --user status", "XDG_RUNTIME_DIR", "loginctl enable-linger"] {
                #expect(run.stderr.contains(hint), "\(hint) missing: \(run.stderr)")
            }
            #expect(run.stderr.hasSuffix("(tried /nonexistent-svcunit-runtime/bus: No such file or directory)\n"), "\(run.stderr)")
        }
        #expect(root.storedUUIDs == [uuid], "a failed delete keeps the service")
    }

    @Test func listWithoutManagerShowsUnknownStatesAndInvalidFiles() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let good = try root.createSleep("good")
        let broken = "11111111-2222-4333-8444-555555555555"
        try FileManager.default.createDirectory(atPath: root.path + "/" + broken, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        try "{ not json".write(toFile: root.path + "/\(broken)/service.json", atomically: true, encoding: .utf8)
        let run = try root.svcunit("list", "--json", environment: Self.noManager, removing: Self.noManagerRemoving)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.errorLines.count == 1)
        #expect(run.stderr.hasPrefix("svcunit: warning: cannot read service states from systemd"))
        let rows = try run.array()
        #expect(rows.count == 2)
        let goodRow = try #require(rows.first { $0["uuid"] as? String == good })
        #expect(goodRow["name"] as? String == "good")
        #expect(goodRow["type"] as? String == "daemon")
        #expect(goodRow["flavor"] as? String == "command")
        #expect(goodRow["state"] as? String == "unknown")
        #expect(goodRow["error"] is NSNull)
        let badRow = try #require(rows.first { $0["uuid"] as? String == broken })
        #expect(badRow["state"] as? String == "invalid")
        #expect((badRow["error"] as? String)?.contains("\(broken)/service.json") == true)
        let table = try root.svcunit("list", environment: Self.noManager, removing: Self.noManagerRemoving)
        #expect(table.status == 0)
        #expect(table.lines.first?.hasPrefix("UUID") == true)
        #expect(table.stdout.contains("invalid"))
        #expect(table.stdout.contains("unknown"))
    }

    /// `list` keeps each document's row in `<root>/.list-cache` (ServiceSummaryCache); a document
    /// edited in place, one that breaks and one that is mended each show as they now are.
    @Test func listShowsDocumentsAsTheyAreNotAsCached() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let good = try root.createSleep("good")
        let other = try root.createSleep("other")
        func list() throws -> [String: [String: Any]] {
            let run = try root.svcunit("list", "--json", environment: Self.noManager, removing: Self.noManagerRemoving)
            #expect(run.status == 0, "\(run.stderr)")
            return Dictionary(uniqueKeysWithValues: try run.array().map { ($0["uuid"] as! String, $0) })
        }
        _ = try list()
        // Files changed within the racy window (0.1 s) are not kept: wait it out.
        Thread.sleep(forTimeInterval: 0.3)
        _ = try list()
        let cache = try String(contentsOfFile: root.path + "/.list-cache", encoding: .utf8)
        #expect(cache.contains(good) && cache.contains(other), "\(cache)")

        let goodFile = root.path + "/\(good)/service.json", otherFile = root.path + "/\(other)/service.json"
        let text = try String(contentsOfFile: goodFile, encoding: .utf8)
        try text.replacingOccurrences(of: "\"good\"", with: "\"gold\"").write(toFile: goodFile, atomically: false, encoding: .utf8)
        let saved = try String(contentsOfFile: otherFile, encoding: .utf8)
        try "{ broken".write(toFile: otherFile, atomically: false, encoding: .utf8)
        var rows = try list()
        #expect(rows[good]?["name"] as? String == "gold", "same size, same inode, edited in place")
        #expect(rows[other]?["state"] as? String == "invalid")

        Thread.sleep(forTimeInterval: 0.3)
        _ = try list()  // now the broken file is kept as broken
        try saved.write(toFile: otherFile, atomically: true, encoding: .utf8)
        rows = try list()
        #expect(rows[other]?["state"] as? String == "unknown")
        #expect(rows[other]?["name"] as? String == "other")

        // A damaged cache is rebuilt, never shown.
        try "svcunit list cache 1\tnonsense\n\(good)\t1\t2\t3\t4\t5\tok\tfake\tt\tf\t-\t-\t-\t.\n"
            .write(toFile: root.path + "/.list-cache", atomically: true, encoding: .utf8)
        rows = try list()
        #expect(rows[good]?["name"] as? String == "gold")
    }

    /// Name lookups and create's name check see a document as it is now, also when `list`'s
    /// cache still holds its old name.
    @Test func namesAreLookedUpAsTheyAreNotAsListCachedThem() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let alpha = try root.createSleep("alpha")
        _ = try root.createSleep("other")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try root.svcunit("list", environment: Self.noManager, removing: Self.noManagerRemoving).status == 0)
        let cache = try String(contentsOfFile: root.path + "/.list-cache", encoding: .utf8)
        #expect(cache.contains("\talpha\t") && cache.contains("\tother\t"), "\(cache)")

        let file = root.path + "/\(alpha)/service.json"
        try (try String(contentsOfFile: file, encoding: .utf8)).replacingOccurrences(of: "\"alpha\"", with: "\"gamma\"")
            .write(toFile: file, atomically: false, encoding: .utf8)
        let old = try root.svcunit("inspect", "alpha")
        #expect(old.status == 3, "the old name is gone: \(old.stderr)")
        #expect(try root.svcunit("inspect", "gamma").status == 0)
        let duplicate = try root.svcunit("create", "command", "--name", "gamma", "--", "/bin/true")
        #expect(duplicate.status == 1 && duplicate.stderr.contains(alpha), "\(duplicate.stderr)")
        #expect(try root.svcunit("create", "command", "--name", "alpha", "--", "/bin/true").status == 0, "the old name is free")
    }

    @Test func listOfAnEmptyOrMissingStore() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let missing = try Run.svcunit(["list", "--json", "--root", root.path + "/nothing-here"], environment: Self.noManager,
                                      removing: Self.noManagerRemoving)
        #expect(missing.status == 0)
        #expect(try missing.array().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: root.path + "/nothing-here"), "list does not create the store")
        let empty = try root.svcunit("list")
        #expect(empty.stdout == "no services\n")
    }

    @Test func rootFromEnvironmentAndAfterTheSubcommand() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let viaEnv = try Run.svcunit(["create", "sleeper", "--wake-up-after", "1"], environment: ["SVCUNIT_ROOT": root.path])
        #expect(viaEnv.status == 0, "\(viaEnv.stderr)")
        let after = try Run.svcunit(["create", "sleeper", "--wake-up-after", "1", "--root", root.path])
        #expect(after.status == 0)
        let equals = try Run.svcunit(["--root=\(root.path)", "create", "sleeper", "--wake-up-after", "1"])
        #expect(equals.status == 0)
        #expect(root.storedUUIDs.count == 3)
    }

    @Test func badTimeoutsAndTimesAreUsageErrors() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("t")
        let timeout = try root.svcunit("start", uuid, "--timeout", "100000")
        #expect(timeout.status == 2)
        #expect(timeout.errorLines == ["svcunit: error: --timeout 100000 is more than one day (86400 s); that is surely not meant"])
        let since = try root.svcunit("logs", uuid, "--since", "yesterday-ish")
        #expect(since.status == 2)
        #expect(since.stderr.hasPrefix("svcunit: error: --since \"yesterday-ish\" is not a time"))
        let noService = try root.svcunit("start")
        #expect(noService.status == 2)
    }

    /// The rules `logs` and `health` check while parsing (issue 14 item 6): each bad combination or
    /// value is exit 2 with one line that names it, before the service is looked up (the name given
    /// does not exist), and nothing is stored.
    @Test(arguments: [
        (["logs", "anything", "--since", "now", "--until", "-1h"], "--since now is after --until -1h"),
        (["logs", "anything", "--json", "-o", "cat"], "--json and -o cat contradict each other"),
        (["logs", "anything", "--until-stopped"], "--until-stopped goes with -f"),
        (["logs", "anything", "--until", "soon"], "--until \"soon\" is not a time"),
        (["health", "anything", "-n", "0"], "-n 0 must be at least 1"),
        (["health", "anything", "--since", "soon"], "--since \"soon\" is not a time"),
    ])
    func logAndHealthRangesAreRefusedWhileParsing(arguments: [String], words: String) throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try Run.svcunit(arguments + ["--root", root.path])
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.stderr.hasPrefix("svcunit: error: \(words)"), "\(arguments): \(run.stderr)")
        #expect(root.storedUUIDs.isEmpty)
    }

    @Test func timeoutHelpSaysItsDefaultOnce() throws {
        for command in ["start", "stop", "restart", "delete", "enable", "disable"] {
            let help = try Run.svcunit([command, "--help"])
            let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(words.contains("--timeout <seconds> Seconds to wait for each service. (default: 30)"), "\(command): \(help.stdout)")
            #expect(!words.contains("(default 30)"), "\(command)")
        }
    }

    @Test func inspectTakesAServiceAsWellAsAFile() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("web")
        let file = root.path + "/\(uuid)/service.json"
        let byFile = try Run.svcunit(["inspect", file, "--json"])
        #expect(byFile.status == 0, "\(byFile.stderr)")
        for service in ["web", uuid, String(uuid.prefix(6))] {
            let run = try root.svcunit("inspect", service, "--json")
            #expect(run.status == 0, "\(service): \(run.stderr)")
            #expect(run.stdout == byFile.stdout, "\(service)")
        }
        let text = try root.svcunit("inspect", "web")
        #expect(text.lines.first == "service:     web", "\(text.stdout)")
        let missing = try root.svcunit("inspect", "nosuch")
        #expect(missing.status == 3)
        #expect(missing.errorLines == ["svcunit: error: no file or stored service \"nosuch\" (stored services are in \(root.path))"])
        let missingFile = try root.svcunit("inspect", "./nosuch.json")
        #expect(missingFile.status == 3)
        #expect(missingFile.errorLines == ["svcunit: error: ./nosuch.json: no such file"])
        // A file named with a trailing slash is not that file (stat says ENOTDIR): no such file, exit 3.
        let slashed = try Run.svcunit(["inspect", file + "/"])
        #expect(slashed.status == 3)
        #expect(slashed.errorLines == ["svcunit: error: \(file)/: no such file"])
    }

    @Test func entrypointOverrideMustBeExecutable() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("e")
        let run = try root.svcunit("start", uuid, "--entrypoint", "/nonexistent/svcunit-entrypoint")
        #expect(run.status == 2)
        #expect(run.errorLines == ["svcunit: error: entrypoint /nonexistent/svcunit-entrypoint is not an executable file (from --entrypoint or SVCUNIT_ENTRYPOINT)"])
    }

    /// The entrypoint is parsed as a root command of its own (main dispatches it first) but names
    /// itself as svcunit's subcommand, and a bad command line is a usage error (EX_USAGE).
    @Test func entrypointNamesItselfAsSvcunitsSubcommand() throws {
        let help = try Run.svcunit(["entrypoint", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: svcunit entrypoint --config-file <config-file>"))
        let missing = try Run.svcunit(["entrypoint", "--record-exit"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("Missing expected argument '--config-file <config-file>'"))
        #expect(missing.stderr.contains("Usage: svcunit entrypoint --config-file"))
    }

    @Test(arguments: ["create command", "create sleeper", "register", "start", "stop", "restart", "status", "list", "logs", "delete"])
    func everySubcommandHelpHasExamples(command: String) throws {
        let run = try Run.svcunit(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("EXAMPLES"), "\(command)")
        #expect(run.stdout.contains("svcunit \(command.split(separator: " ")[0])"), "\(command)")
        #expect(run.stdout.contains("--root"), "\(command)")
    }

    @Test func rootHelpListsExitCodes() throws {
        let run = try Run.svcunit("--help")
        #expect(run.status == 0)
        for line in ["0  success", "1  the operation failed", "2  usage error", "3  not found", "4  timed out", "5  bad service document",
                     "6  no systemd user manager reachable", "130  interrupted"] {
            #expect(run.stdout.contains(line), "\(line)")
        }
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScripts(shell: String) throws {
        let run = try Run.svcunit("--generate-completion-script", shell)
        #expect(run.status == 0)
        #expect(run.stdout.contains("svcunit"))
        #expect(run.stdout.contains("create"))
        #expect(run.stdout.contains("health-path"))
    }

    @Test func logsWithoutJournaldSaysSoAndExits0() throws {
        guard !FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") else { return }  // journald runs here
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("l")
        let run = try root.svcunit("logs", uuid, "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("svcunit: warning: journald is not running"))
    }
}
