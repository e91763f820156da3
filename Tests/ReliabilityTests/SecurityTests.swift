import Foundation
import ServiceHealth
import ServiceModel
import SystemdTestSupport
import Testing

/// Issue 8, case 5: permissions, foreign or writable stores, planted symlinks, secrets in unit
/// properties, and the HTTP monitor's host.
@Suite("Security")
struct SecurityTests {
    /// Under `umask 000`, the store, each service directory (its runtime path) stay 0700 and
    /// service.json 0600, after create, start, status and stop (ExecStopPost rewrites the file).
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func storeDirectoriesAre0700AndFiles0600EvenUnderUmask000() async throws {
        try await live { try await withStore { outer in
            let root = outer.path + "/store"
            let umasked = { (args: String) async throws -> Run in
                try await CLI.shell("umask 000; exec '\(CLI.binary)' --root '\(root)' \(args)")
            }
            let create = try await umasked("create command --name perms -- /bin/sleep 300")
            #expect(create.status == 0, "\(create)")
            let uuid = create.trimmed
            func check(_ when: String) throws {
                #expect(mode(root) == 0o700, "\(when): root \(String(mode(root), radix: 8))")
                #expect(mode("\(root)/\(uuid)") == 0o700, "\(when): service dir")
                #expect(mode("\(root)/\(uuid)/service.json") == 0o600, "\(when): service.json")
                for entry in try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(uuid)") {
                    let m = mode("\(root)/\(uuid)/\(entry)")
                    #expect(m & 0o077 == 0, "\(when): \(entry) is \(String(m, radix: 8))")
                }
            }
            try check("after create")
            #expect(try await umasked("start \(uuid)").status == 0)
            try check("after start")
            let status = try await umasked("status \(uuid) --json")
            let runtime = ((try status.object()["service"] as? [String: Any])?["status"] as? [String: Any])?["runtime_path"] as? String
            #expect(runtime == "\(root)/\(uuid)")
            #expect(runtime.map(mode) == 0o700)
            #expect(try await umasked("stop \(uuid)").status == 0)
            _ = await waitUntil(.seconds(60)) { ((try? outer.document(uuid))?["status"] as? [String: Any])?["last_run"] != nil }
            try check("after stop (ExecStopPost wrote last_run)")
            _ = try await CLI.run(["--root", root, "delete", uuid])
        } }
    }

    /// A store owned by another user, or writable by group/others, is refused by every command
    /// (exit 1, one line saying why and how to fix it) and nothing in it changes.
    @Test(arguments: ["foreign owner", "mode 0777", "mode 0770", "service dir foreign", "service dir 0777"])
    func unsafeStoresAreRefused(_ problem: String) async throws {
        try await withStore { store in
            let uuid = try await store.create(["--name", "victim"], ["/bin/sleep", "300"])
            let serviceDir = "\(store.path)/\(uuid)"
            switch problem {
            case "foreign owner": chown(store.path, 65534, 65534)
            case "mode 0777": chmod(store.path, 0o777)
            case "mode 0770": chmod(store.path, 0o770)
            case "service dir foreign": chown(serviceDir, 65534, 65534)
            default: chmod(serviceDir, 0o777)
            }
            defer { chown(store.path, getuid(), getgid()); chown(serviceDir, getuid(), getgid()); chmod(store.path, 0o700); chmod(serviceDir, 0o700) }
            let before = Snapshot(store.path)
            var commands: [[String]] = [["status", uuid], ["start", uuid], ["stop", uuid], ["delete", uuid]]
            if problem.hasPrefix("service dir") {
                // The store itself is fine; creating another service is allowed, but this one is refused.
            } else {
                commands += [["list"], ["create", "command", "--", "/bin/sleep", "1"]]
            }
            for command in commands {
                let run = try await CLI.run(["--root", store.path] + command, environment: ["XDG_RUNTIME_DIR": ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "/nonexistent"])
                #expect(run.status == 1, "\(problem) \(command): \(run)")
                expectOneErrorLine(run, "\(problem) \(command)")
                #expect(run.stderr.contains("refusing to use"), "\(problem) \(command): \(run)")
                #expect(run.stderr.contains(problem.contains("foreign") ? "owned by uid 65534" : "writable by group or others"), "\(run)")
            }
            #expect(Snapshot(store.path) == before, "\(problem): the store changed")
            #expect(await Witness.units(uuid).isEmpty)
        }
    }

    /// Symlinks planted in the store are never followed to write elsewhere: `<root>/<uuid>` → a
    /// directory outside, `service.json` → a file outside, `.lock` → a file outside. Every command
    /// refuses (exit 1, one line) and the targets outside stay byte-for-byte unchanged (or absent).
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"), arguments: ["directory", "service.json", ".lock"])
    func plantedSymlinksAreNeverFollowed(_ planted: String) async throws {
        try await live { try await withStore { store in
            let outside = try Store()
            defer { try? FileManager.default.removeItem(atPath: outside.path) }
            let uuid = try await store.create(["--name", "linked"], ["/bin/sleep", "300"])
            let serviceDir = "\(store.path)/\(uuid)"
            let original = try Data(contentsOf: URL(fileURLWithPath: store.file(uuid)))
            switch planted {
            case "directory":
                try FileManager.default.createDirectory(atPath: outside.path + "/\(uuid)", withIntermediateDirectories: false)
                try original.write(to: URL(fileURLWithPath: outside.path + "/\(uuid)/service.json"))
                try FileManager.default.removeItem(atPath: serviceDir)
                try FileManager.default.createSymbolicLink(atPath: serviceDir, withDestinationPath: outside.path + "/\(uuid)")
            case "service.json":
                try original.write(to: URL(fileURLWithPath: outside.path + "/target.json"))
                try FileManager.default.removeItem(atPath: store.file(uuid))
                try FileManager.default.createSymbolicLink(atPath: store.file(uuid), withDestinationPath: outside.path + "/target.json")
            default:
                try? FileManager.default.removeItem(atPath: serviceDir + "/.lock")
                try FileManager.default.createSymbolicLink(atPath: serviceDir + "/.lock", withDestinationPath: outside.path + "/created-through-link")
            }
            let outsideBefore = Snapshot(outside.path), storeBefore = Snapshot(store.path)
            // A planted `.lock` link: `delete` removes the directory with the link in it (it never
            // opens the lock), which writes nothing through it, so only start/stop are checked.
            var commands: [[String]] = [["start", uuid], ["stop", uuid]]
            if planted != ".lock" { commands += [["status", uuid], ["delete", uuid]] }
            for command in commands {
                let run = try await CLI.run(["--root", store.path] + command)
                #expect(run.status != 0, "\(planted) \(command): \(run)")
                expectOneErrorLine(run, "\(planted) \(command)")
                // Refused as what it is (F8, fixed: the lookup no longer skips it as "no service").
                if planted == ".lock" {
                    #expect(run.stderr.contains("cannot lock"), "\(planted) \(command): \(run)")
                } else {
                    #expect(run.stderr.contains("refusing to use") && run.stderr.contains("symbolic link"),
                            "\(planted) \(command): \(run)")
                    #expect(run.status != 3, "not reported as a missing service: \(run)")
                    // The refusal comes from the store, before systemd is asked anything.
                    let offline = try await CLI.run(["--root", store.path] + command, environment: ["XDG_RUNTIME_DIR": "/nonexistent"],
                                                    removing: ["DBUS_SESSION_BUS_ADDRESS"])
                    #expect(offline.stderr.contains("symbolic link") && offline.status != 6, "\(planted) \(command) without a bus: \(offline)")
                }
            }
            // Registering a document whose UUID directory is a planted link is refused too.
            if planted == "directory" {
                try FileManager.default.removeItem(atPath: outside.path + "/\(uuid)/service.json")
                let outsideEmpty = Snapshot(outside.path)
                let file = "\(CLI.scratch)/reg-\(uuid).json"
                try original.write(to: URL(fileURLWithPath: file))
                defer { try? FileManager.default.removeItem(atPath: file) }
                let register = try await store.svcunit("register", file)
                #expect(register.status != 0, "\(register)")
                #expect(Snapshot(outside.path) == outsideEmpty, "register wrote through the link")
            } else {
                #expect(Snapshot(outside.path) == outsideBefore, "\(planted): something was written through the link")
            }
            #expect(!FileManager.default.fileExists(atPath: outside.path + "/created-through-link"))
            #expect(Snapshot(store.path) == storeBefore)
            #expect(await Witness.units(uuid).isEmpty)
            // Let cleanUp delete the service normally.
            try? FileManager.default.removeItem(atPath: planted == "directory" ? serviceDir : planted == ".lock" ? serviceDir + "/.lock" : store.file(uuid))
        } }
    }

    /// `--env SECRET=…`: the process gets it, but nothing systemd shows about the unit contains
    /// it: not `systemctl --user show` (every property), not the transient unit file, not the
    /// manager environment. (The secret lives only in service.json, mode 0600.)
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func environmentSecretsNeverReachUnitProperties() async throws {
        try await live { try await withStore { store in
            let secret = "s3cr3t-\(UUID().uuidString)"
            let m = marker()
            let uuid = try await store.create(["--name", "secretive", "--env", "API_TOKEN=\(secret)", "--env", "OTHER=\(secret)-2"],
                                              ["/bin/sleep", m])
            #expect(try await store.svcunit("start", uuid).status == 0)
            let pid = try #require(await Witness.mainPID(uuid))
            #expect(Witness.environ(pid).contains("API_TOKEN=\(secret)"), "the process got the secret")

            let show = await Witness.systemctl(["show", Witness.unit(uuid), "--all"])
            #expect(show.contains("Id=svcunit-\(uuid).service"), "show answered")
            #expect(!show.contains(secret), "systemctl show leaks the secret")
            let cat = await Witness.systemctl(["cat", Witness.unit(uuid)])
            let environment = await Witness.systemctl(["show-environment"])
            #expect(!cat.contains(secret))
            #expect(!environment.contains(secret))
            let transient = (ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "") + "/systemd/transient/svcunit-\(uuid).service"
            if let unitFile = try? String(contentsOfFile: transient, encoding: .utf8) {
                #expect(!unitFile.contains(secret), "the transient unit file holds the secret")
            }
            #expect(await Witness.show(uuid, "Environment").isEmpty, "no Environment= on the unit")
            // What show does expose: the service's name, type and UUID, and the paths of the
            // entrypoint and the service file (documented in RELIABILITY.md).
            #expect(await Witness.show(uuid, "Description").contains("secretive"))
            #expect(await Witness.show(uuid, "ExecStart").contains(store.file(uuid)))
            #expect(mode(store.file(uuid)) == 0o600)
        } }
    }

    /// Health paths that try to name another host: whatever the path, the probed URL stays on the
    /// endpoint's own host and port, or there is no URL at all.
    @Test(arguments: ["//evil.example/", "http://other:1/", "@evil.example/", "/@evil.example:80/", ".evil.example/",
                      "\\\\evil.example/", "/%2F%2Fevil.example/", "#@evil.example/", "?@evil.example", ":1@evil.example/",
                      "evil.example", "/../../x", "/ok/../../../etc", "https://evil.example", "/\u{0}evil", "//", "///evil"])
    func healthProbeNeverLeavesTheEndpointHost(_ path: String) throws {
        let port = try #require(TCPPort(43123))
        var endpoint = ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: port),
                                       monitor: .http(HTTPHealthMonitorConfig(healthcheckURIPath: path)))
        endpoint.status = ServiceEndpointStatus(protocol: .http, hostname: "localhost", port: port)
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: path))
        if let url = monitor.healthcheckURL(for: endpoint) {
            #expect(url.host == "localhost", "\(path.debugDescription) → \(url.absoluteString)")
            #expect(url.port == 43123, "\(path.debugDescription) → \(url.absoluteString)")
            #expect(url.user == nil && url.password == nil, "\(path.debugDescription) → \(url.absoluteString)")
        }
    }

    /// A healthy-looking endpoint that redirects to another host:port is NOT followed: the probe
    /// reports the 3xx and the redirect target never receives a connection.
    @Test func healthProbeDoesNotFollowRedirects() async throws {
        let trapPort = freePort()
        let trap = try Listener(port: trapPort)
        defer { trap.close() }
        let port = freePort()
        let server = try CLI.spawn(["-c", """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(302); self.send_header('Location', 'http://127.0.0.1:\(trapPort)/stolen'); self.end_headers()
                def log_message(self, *a): pass
            http.server.HTTPServer(('127.0.0.1', \(port)), H).serve_forever()
            """], executable: "/usr/bin/python3")
        defer { server.kill(SIGKILL) }
        let tcpPort = try #require(TCPPort(port))
        var endpoint = ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: tcpPort),
                                       monitor: .http(HTTPHealthMonitorConfig(healthcheckURIPath: "/health")))
        endpoint.status = ServiceEndpointStatus(protocol: .http, hostname: "127.0.0.1", port: tcpPort)
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: "/health", httpTimeout: 2))
        var result: (ServiceState, String) = (.inactive, "")
        // 60 s: how long python3 may take to start listening on a loaded machine (a timeout, not the behaviour).
        let answered = await waitUntil(.seconds(60), every: .milliseconds(100)) {
            result = await monitor.check(endpoint)
            return !result.1.contains("connection refused")
        }
        #expect(answered, "\(result)")
        #expect(result.0 == .error)
        #expect(result.1.contains("302"), "\(result.1)")
        // Nothing connected to the trap: a pending connection would make accept() succeed.
        let flags = fcntl(trap.fd, F_GETFL)
        _ = fcntl(trap.fd, F_SETFL, flags | O_NONBLOCK)
        #expect(accept(trap.fd, nil, nil) < 0, "the probe followed the redirect to the trap port")
    }
}
