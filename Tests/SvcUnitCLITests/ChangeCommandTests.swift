import Foundation
import SystemdTestSupport
import Testing

/// `set`, `edit`, and removing leftovers (`delete --force` of an entry whose document does not load,
/// `delete` without a user manager, `list`'s warnings), through the built binary with no user
/// manager reachable: none of these needs one for a service that is not running.
@Suite("set, edit and leftovers without systemd (built binary)")
struct ChangeCommandTests {
    static let env = OfflineCommandTests.noManager
    static let removing = OfflineCommandTests.noManagerRemoving

    func svcunit(_ root: TemporaryRoot, _ arguments: String..., environment: [String: String] = [:]) throws -> Run {
        try Run.svcunit(["--root", root.path] + arguments, environment: Self.env.merging(environment) { _, new in new },
                        removing: Self.removing)
    }

    // MARK: set

    @Test func setChangesWhatIsGivenAndKeepsTheUUID() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let created = try svcunit(root, "create", "command", "--name", "web", "--description", "kept", "--port", "18080",
                                  "--env", "KEEP=1", "--env", "DROP=2", "--", "/bin/sleep", "300")
        #expect(created.status == 0, "\(created.stderr)")
        let uuid = created.stdout.trimmingCharacters(in: .newlines)

        let set = try svcunit(root, "set", "web", "--port", "19090", "--health-path", "/health", "--health-status", "204",
                              "--env", "KEEP=one", "--env", "NEW=x", "--unset-env", "DROP", "--workdir", "/tmp",
                              "--restart", "on-failure", "--memory-max", "64M", "--", "/bin/sleep", "400")
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout == "changed web (\(uuid.prefix(8)))\n")
        #expect(set.stderr == "")
        #expect(root.storedUUIDs == [uuid], "the same UUID, no second entry")
        let doc = try document(root, uuid)
        #expect(doc["uuid"] as? String == uuid)
        let config = try #require(doc["config"] as? [String: Any])
        #expect(config["name"] as? String == "web")
        #expect(config["description"] as? String == "kept")
        #expect(config["command"] as? [String] == ["/bin/sleep", "400"])
        #expect(config["environment"] as? [String: String] == ["KEEP": "one", "NEW": "x"])
        #expect(config["working_directory"] as? String == "/tmp")
        #expect(config["restart"] as? String == "on-failure")
        #expect(config["memory_max"] as? Int == 64 << 20)
        let endpoint = try #require(doc["endpoint"] as? [String: Any])
        let endpointConfig = try #require(endpoint["config"] as? [String: Any])
        #expect(endpointConfig["port"] as? Int == 19090)
        #expect(endpointConfig["protocol"] as? String == "http", "an HTTP check speaks HTTP")
        let monitor = try #require(endpoint["monitor"] as? [String: Any])
        #expect((monitor["type"] as? String)?.hasSuffix("HTTPEndpointHealthMonitor") == true)
        let monitorConfig = try #require(monitor["config"] as? [String: Any])
        #expect(monitorConfig["healthcheck_uri_path"] as? String == "/health")
        #expect(monitorConfig["http_status_code"] as? Int == 204)

        // An HTTP check's own options alone change it; --protocol tcp turns it back into a TCP check.
        #expect(try svcunit(root, "set", uuid, "--health-timeout", "3").status == 0)
        let http = try #require(((try document(root, uuid)["endpoint"] as? [String: Any])?["monitor"] as? [String: Any])?["config"] as? [String: Any])
        #expect(http["http_timeout"] as? Int == 3 && http["healthcheck_uri_path"] as? String == "/health")
        #expect(try svcunit(root, "set", uuid, "--protocol", "tcp").status == 0)
        let tcp = try #require(try document(root, uuid)["endpoint"] as? [String: Any])
        #expect(((tcp["monitor"] as? [String: Any])?["type"] as? String)?.hasSuffix("TCPEndpointHealthMonitor") == true)
        #expect((tcp["config"] as? [String: Any])?["port"] as? Int == 19090, "the port stays")

        // The same values again: nothing to write.
        let before = try bytes(root, uuid)
        let same = try svcunit(root, "set", "web", "--port", "19090")
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout == "no changes to web (\(uuid.prefix(8)))\n")
        #expect(try bytes(root, uuid) == before)

        // --json prints the stored document.
        let json = try svcunit(root, "set", "web", "--description", "changed", "--json")
        #expect(json.status == 0, "\(json.stderr)")
        #expect(try json.object()["uuid"] as? String == uuid)
        #expect(String(decoding: try bytes(root, uuid), as: UTF8.self) == json.stdout)
    }

    /// Every invalid change is refused with one error line naming the service, before anything is
    /// written: the document stays byte for byte.
    @Test(arguments: [
        (["--port", "0"], 2, "--port 0 is not a TCP port"),
        (["--name", "bad\u{1B}]0;title\u{07}"], 2, "control characters"),
        (["--name", "\u{9B}31m"], 2, "control characters"),
        (["--name", "other"], 1, "a service named \"other\" already exists"),
        (["--health-status", "204"], 2, "--health-status needs --health-path"),
        (["--health-path", "//evil.example/"], 2, "--health-path"),
        (["--env", "1BAD=x"], 2, "not a valid variable name"),
        (["--unset-env", "A-B"], 2, "--unset-env"),
        (["--workdir", "/nonexistent-svcunit-dir"], 2, "--workdir /nonexistent-svcunit-dir is not a directory"),
        (["--restart", "sometimes"], 2, "--restart \"sometimes\""),
        (["--python", "/usr/bin/python3"], 2, "--python applies to Python services only"),
        (["--", "/bin/echo", "{port}"], 2, "the command uses {port} but the service has no endpoint"),
    ] as [([String], Int32, String)])
    func setRefusesAnInvalidChangeAndLeavesTheDocument(arguments: [String], status: Int32, words: String) throws {
        // (Durations, sizes and percentages are refused earlier, at parse time: see the next test.)
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("web")
        _ = try root.createSleep("other")
        let before = try bytes(root, uuid)
        let run = try Run.svcunit(["--root", root.path, "set", "web"] + arguments, environment: Self.env, removing: Self.removing)
        #expect(run.status == status, "\(arguments): \(run.stderr)")
        #expect(run.stdout == "", "\(arguments)")
        #expect(run.errorLines.count == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.hasPrefix("svcunit: error: web (\(uuid.prefix(8))): "), "names the service: \(run.stderr)")
        #expect(run.stderr.contains(words), "\(arguments): \(run.stderr)")
        #expect(!run.stderr.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{9B}" }, "no raw control character: \(run.stderr)")
        #expect(try bytes(root, uuid) == before, "\(arguments): the document is unchanged")
        #expect(root.storedUUIDs.count == 2)
    }

    /// A duration, size or percentage that no service could take is refused while the command line
    /// is parsed (issue 14 item 6): exit 2, one line naming the option and its rule, before the
    /// service is even looked up, and the document is unchanged.
    @Test(arguments: [
        (["--cpu-quota", "0"], "--cpu-quota \"0\" must be a percentage above 0 and at most 102400"),
        (["--memory-max", "lots"], "--memory-max \"lots\" is not a size"),
        (["--stop-timeout", "soon"], "--stop-timeout \"soon\" is not a duration"),
        (["--health-interval", "0"], "--health-interval 0 must be 1 to 86400 seconds"),
    ] as [([String], String)])
    func setRefusesValuesNoServiceCouldTakeAtParseTime(arguments: [String], words: String) throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("web")
        let before = try bytes(root, uuid)
        let run = try Run.svcunit(["--root", root.path, "set", "web"] + arguments, environment: Self.env, removing: Self.removing)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.stderr.hasPrefix("svcunit: error: \(words)"), "\(arguments): \(run.stderr)")
        #expect(try bytes(root, uuid) == before, "\(arguments): the document is unchanged")
    }

    /// A Python service's configuration is its class's (ZenML's) own: set changes only svcunit's
    /// object (interpreter, working directory, environment) and refuses create's other options.
    @Test func setOfAPythonServiceChangesOnlySvcunitsObject() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let registered = try svcunit(root, "register", fixturePath("zenml-no-service-type"), "--no-check",
                                     "--python", "/bin/sh", "--workdir", "/", "--env", "A=1", "--env", "B=2")
        #expect(registered.status == 0, "\(registered.stderr)")
        let uuid = "0b6f2b4e-5a1d-4c3e-9f8a-7d6c5b4a3921"
        let before = try document(root, uuid)

        let set = try svcunit(root, "set", uuid, "--python", "/bin/true", "--workdir", "/tmp", "--env", "A=one", "--env", "C=3",
                              "--unset-env", "B")
        #expect(set.status == 0, "\(set.stderr)")
        let after = try document(root, uuid)
        let settings = try #require(after["svcunit"] as? [String: Any])
        #expect(settings["python"] as? String == "/bin/true")
        #expect(settings["workdir"] as? String == "/tmp")
        let environment = try #require(settings["env"] as? [String: String])
        #expect(environment["A"] == "one" && environment["C"] == "3" && environment["B"] == nil, "\(environment)")
        for key in ["type", "uuid", "config", "status", "endpoint"] {
            #expect(json(after[key]) == json(before[key]), "\(key) is ZenML's and unchanged")
        }

        let unchanged = try bytes(root, uuid)
        for arguments in [["--port", "9000"], ["--restart", "always"], ["--name", "renamed"], ["--", "/bin/sleep", "1"]] {
            let refused = try Run.svcunit(["--root", root.path, "set", uuid] + arguments, environment: Self.env, removing: Self.removing)
            #expect(refused.status == 2, "\(arguments): \(refused.stderr)")
            #expect(refused.errorLines.count == 1, "\(refused.stderr)")
            #expect(refused.stderr.contains("is not svcunit's to change: a Python service (my_project.services.SleepingDaemon)"),
                    "\(refused.stderr)")
            #expect(refused.stderr.contains("--python, --workdir and --env/--unset-env"), "\(refused.stderr)")
            #expect(try bytes(root, uuid) == unchanged)
        }
    }

    // MARK: edit

    @Test func editReplacesTheDocumentWithAValidChangeAndSaysNoChanges() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("web")
        let editor = try editorScript(root, #"sed -i 's|"/bin/sleep"|"/bin/sleep", "1"|; s|"300"|"301"|' "$1""#)
        let edit = try svcunit(root, "edit", "web", environment: ["EDITOR": editor, "VISUAL": ""])
        #expect(edit.status == 0, "\(edit.stderr)")
        #expect(edit.stdout == "changed web (\(uuid.prefix(8)))\n")
        let config = try #require(try document(root, uuid)["config"] as? [String: Any])
        #expect(config["command"] as? [String] == ["/bin/sleep", "1", "301"])
        #expect(root.storedUUIDs == [uuid])
        #expect(try mode(root.path + "/\(uuid)/service.json") == 0o600)

        // $VISUAL wins over $EDITOR; an editor that saves the file as it was: no changes.
        let before = try bytes(root, uuid)
        let touch = try editorScript(root, #"cat "$1" > "$1.tmp" && mv "$1.tmp" "$1""#)
        let none = try svcunit(root, "edit", uuid, environment: ["EDITOR": "/bin/false", "VISUAL": touch])
        #expect(none.status == 0, "\(none.stderr)")
        #expect(none.stdout == "no changes to web (\(uuid.prefix(8)))\n")
        #expect(try bytes(root, uuid) == before)

        // The editor works on a private copy (0600 in a 0700 directory), removed afterwards.
        let tmp = root.path + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        let spy = try editorScript(root, #"stat -c '%a' "$1" "${1%/*}" > "$0.modes"; printf '%s' "$1" > "$0.path""#)
        #expect(try svcunit(root, "edit", uuid, environment: ["EDITOR": spy, "VISUAL": "", "TMPDIR": tmp]).status == 0)
        let modes = try String(contentsOfFile: spy + ".modes", encoding: .utf8).split(separator: "\n")
        #expect(modes == ["600", "700"], "\(modes)")
        let copy = try String(contentsOfFile: spy + ".path", encoding: .utf8)
        #expect(copy.hasPrefix(tmp + "/svcunit-edit-") && !FileManager.default.fileExists(atPath: copy))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty)
    }

    /// Without a terminal an invalid edit is refused at once: exit 5, the loader's error naming the
    /// field, the stored document byte for byte as it was, no temporary copy left.
    @Test(arguments: [
        (#"sed -i 's|"port": null|"port": 0|' "$1""#, "endpoint.config.port"),
        (#"sed -i 's|"uuid": "[^"]*"|"uuid": "11111111-2222-4333-8444-555555555555"|' "$1""#, "uuid cannot change"),
        (#"printf '{ not json' > "$1""#, "malformed JSON"),
        (#"sed -i 's|"name": "web"|"name": "a\\u001bb"|' "$1""#, "control characters"),
        (#"sed -i 's|"name": "web"|"name": "other"|' "$1""#, "a service named \"other\" already exists"),
        (#"python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["endpoint"] = None; d["config"]["command"] = ["{port}"]; json.dump(d, open(sys.argv[1], "w"))' "$1""#,
         "the command uses {port} but the service has no endpoint"),
    ])
    func editRefusesAnInvalidDocumentWithoutATerminal(script: String, words: String) throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("web")
        _ = try root.createSleep("other")
        // An endpoint with a port, for the port case.
        #expect(try svcunit(root, "set", "web", "--protocol", "tcp").status == 0)
        let before = try bytes(root, uuid)
        let tmp = root.path + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        let editor = try editorScript(root, script)
        let edit = try svcunit(root, "edit", "web", environment: ["EDITOR": editor, "VISUAL": "", "TMPDIR": tmp])
        #expect(edit.status == 5, "\(script): \(edit.stderr)")
        #expect(edit.stdout == "")
        #expect(edit.errorLines.count == 1, "\(edit.stderr)")
        #expect(edit.stderr.hasPrefix("svcunit: error: web (\(uuid.prefix(8))): the edited document is not valid: "), "\(edit.stderr)")
        #expect(edit.stderr.contains(words), "\(script): \(edit.stderr)")
        #expect(edit.stderr.contains("the stored document is unchanged"), "\(edit.stderr)")
        #expect(try bytes(root, uuid) == before, "\(script)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty, "no copy left")
    }

    /// On a terminal an invalid edit is shown with "edit again? [Y/n]": yes reopens the copy with the
    /// edits in it; no (or end of input) refuses with exit 5.
    @Test func editOnATerminalOffersToEditAgain() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("web")
        // First round breaks the document, the second repairs it and changes the command.
        let editor = try editorScript(root, #"""
            n=$(cat "$0.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.count"
            if [ $n = 1 ]; then sed -i 's|"/bin/sleep"|"/bin/sleep" "oops"|' "$1"
            else grep -q '"oops"' "$1" && sed -i 's|"/bin/sleep" "oops"|"/bin/sleep", "2"|' "$1"; fi
            """#)
        let yes = try onTerminal(root, ["edit", "web"], input: "y\n", editor: editor)
        #expect(yes.status == 0, "\(yes.stdout)")
        #expect(yes.stdout.contains("edit again? [Y/n]"), "\(yes.stdout)")
        #expect(yes.stdout.contains("changed web (\(uuid.prefix(8)))"), "\(yes.stdout)")
        #expect(try String(contentsOfFile: editor + ".count", encoding: .utf8) == "2\n", "the editor ran again, on its own edits")
        let config = try #require(try document(root, uuid)["config"] as? [String: Any])
        #expect(config["command"] as? [String] == ["/bin/sleep", "2", "300"])

        let before = try bytes(root, uuid)
        let broken = try editorScript(root, #"printf '{ not json' > "$1""#)
        let no = try onTerminal(root, ["edit", "web"], input: "n\n", editor: broken)
        #expect(no.status == 5, "\(no.stdout)")
        #expect(no.stdout.contains("edit again? [Y/n]") && no.stdout.contains("the stored document is unchanged"), "\(no.stdout)")
        #expect(try bytes(root, uuid) == before)
    }

    // MARK: leftovers

    /// `delete` of a service that was never started needs no user manager; one that was started
    /// (status.runtime_path set) does, and is kept with exit 6.
    @Test func deleteOfANeverStartedServiceNeedsNoUserManager() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let fresh = try root.createSleep("fresh")
        let forced = try root.createSleep("forced")
        let started = try root.createSleep("started")
        try markStarted(root, started)
        let delete = try svcunit(root, "delete", "fresh")
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(delete.stdout == "deleted \(fresh) (fresh)\n")
        #expect(try svcunit(root, "delete", "forced", "--force").status == 0)
        let refused = try svcunit(root, "delete", "started")
        #expect(refused.status == 6, "\(refused.stderr)")
        #expect(refused.stderr.contains("no systemd user manager is reachable"), "\(refused.stderr)")
        #expect(root.storedUUIDs == [started], "\(forced) and \(fresh) are gone, \(started) is kept")
    }

    /// Entries whose document cannot be loaded: `delete` says what is wrong and how to remove it;
    /// `delete --force` removes it once no unit of it runs (that needs the user manager: see
    /// LiveChangeTests); `list` names every entry it leaves out on stderr.
    @Test func brokenEntriesAreNamedAndDeleteSaysHowToRemoveThem() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let good = try root.createSleep("good")
        let malformed = try plant(root, "11111111-2222-4333-8444-000000000001", "{ not json")
        let noFile = "11111111-2222-4333-8444-000000000002"
        try FileManager.default.createDirectory(atPath: root.path + "/" + noFile, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        let linked = "11111111-2222-4333-8444-000000000003"
        try FileManager.default.createSymbolicLink(atPath: root.path + "/" + linked, withDestinationPath: root.path + "/" + good)

        let delete = try svcunit(root, "delete", malformed)
        #expect(delete.status == 5, "\(delete.stderr)")
        #expect(delete.errorLines.count == 1, "\(delete.stderr)")
        #expect(delete.stderr.contains("malformed JSON") && delete.stderr.contains("svcunit delete --force \(malformed)"), "\(delete.stderr)")

        let list = try svcunit(root, "list", "--json")
        #expect(list.status == 0)
        #expect(try list.array().compactMap { $0["uuid"] as? String }.sorted() == [malformed, good].sorted())
        #expect(list.stderr.contains("svcunit: warning: skipping \(root.path)/\(noFile): it has no service.json; `svcunit delete --force \(noFile)` removes it"),
                "\(list.stderr)")
        #expect(list.stderr.contains("svcunit: warning: skipping \(root.path)/\(linked): it is a symbolic link"), "\(list.stderr)")
        let running = try svcunit(root, "list", "--running")
        #expect(running.stderr.contains("skipping \(malformed): "), "hidden by --running, so named: \(running.stderr)")
        #expect(running.stderr.contains("skipping \(root.path)/\(noFile)"), "\(running.stderr)")
    }

    // MARK: helpers

    func bytes(_ root: TemporaryRoot, _ uuid: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(root.path)/\(uuid)/service.json"))
    }

    func document(_ root: TemporaryRoot, _ uuid: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: bytes(root, uuid)) as? [String: Any])
    }

    func json(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "null" }
        return String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data(), as: UTF8.self)
    }

    func mode(_ path: String) throws -> Int {
        try #require((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    /// An executable `sh` script in the root, used as the editor (`$1` is the file to edit).
    func editorScript(_ root: TemporaryRoot, _ body: String) throws -> String {
        let path = root.path + "/editor-\(UInt32.random(in: 0 ... .max)).sh"
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        return path
    }

    /// Runs svcunit on a pseudo-terminal (util-linux `script`), `input` typed on it; the terminal's
    /// output (stdout and stderr together) is the result's stdout.
    func onTerminal(_ root: TemporaryRoot, _ arguments: [String], input: String, editor: String) throws -> Run {
        let command = ([Run.binary.path, "--root", root.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let inputFile = root.path + "/input-\(UInt32.random(in: 0 ... .max))"
        try input.write(toFile: inputFile, atomically: true, encoding: .utf8)
        let shell = "exec script -qec \"$0\" /dev/null < \"$1\""
        var env = ProcessInfo.processInfo.environment.merging(Self.env) { _, new in new }
        for name in Self.removing { env[name] = nil }
        env["EDITOR"] = editor
        env["VISUAL"] = nil
        env["NO_COLOR"] = "1"
        let ran = try TestProcess.run("/bin/sh", ["-c", shell, command, inputFile], environment: env)
        return Run(status: ran.status, stdout: ran.stdout, stderr: ran.stderr)
    }

    /// Plants `text` as the document of `uuid` (a directory of ours, 0700).
    func plant(_ root: TemporaryRoot, _ uuid: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: root.path + "/" + uuid, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        try text.write(toFile: root.path + "/\(uuid)/service.json", atomically: true, encoding: .utf8)
        return uuid
    }
}

/// Gives a stored service the `status.runtime_path` its first start records, so it counts as
/// possibly running (delete then needs the user manager).
func markStarted(_ root: TemporaryRoot, _ uuid: String) throws {
    let path = "\(root.path)/\(uuid)/service.json"
    var doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    var status = try #require(doc["status"] as? [String: Any])
    status["runtime_path"] = "\(root.path)/\(uuid)"
    doc["status"] = status
    try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: path))
}
