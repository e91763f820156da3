import Foundation
import SystemdTestSupport
import Testing

/// Issue 16, case 6: port choice and name uniqueness hold between concurrent svcunit *processes*,
/// not only between tasks of one process.
@Suite("Uniqueness across processes", .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct UniquenessAcrossProcessesTests {
    /// Six `svcunit start` processes at once, of six services that all prefer one port (allocation
    /// on, a TCP health check): every one that says "started" runs its own server on its own port
    /// (its main process was given that port, and the port differs from every other's); a start
    /// that did not succeed says why in one line. Never two "started" on one server.
    @Test func sixConcurrentStartsSharingAPreferredPortGetOwnPorts() async throws {
        try await timed { try await withStore { store in
            let preferred = freePort()
            var uuids: [String] = []
            for index in 0 ..< 6 {
                uuids.append(try await store.create(
                    ["--name", "shared\(index)", "--port", String(preferred)],
                    ["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]))
            }
            let spawned = try uuids.map { try store.spawn("start", $0, "--timeout", "120") }
            var runs: [Run] = []
            for process in spawned { runs.append(await process.wait()) }
            var ports: [String: Int] = [:]
            for (uuid, run) in zip(uuids, runs) {
                guard run.status == 0 else {
                    expectOneErrorLine(run)
                    continue
                }
                let status = try await store.status(uuid)
                let endpoint = try #require(status["endpoint"] as? [String: Any], "\(status)")
                let port = try #require(endpoint["port"] as? Int, "\(status)")
                #expect(status["state"] as? String == "active", "\(status)")
                let pid = try #require(await Witness.mainPID(uuid))
                #expect(Witness.commandLine(pid).contains(String(port)), "its own server on its own port \(port): \(Witness.commandLine(pid))")
                ports[uuid] = port
            }
            #expect(Set(ports.values).count == ports.count, "no two started services share a port: \(ports) \(runs)")
            #expect(ports.count >= 1, "\(runs)")
            #expect(runs.filter { $0.status == 0 }.count == ports.count)
        } }
    }

    /// Two `svcunit start` processes at once of one service with a fixed port (`--no-allocate-port`),
    /// six rounds: both exit 0 and the service listens on its port. Before, the start that came
    /// second found the port claimed by the first (or bound by the server it started) and failed
    /// "TCP port P is not available"; the document it then wrote had no port, and when the unit's
    /// entrypoint read that one, the service's run failed too ("uses {port} but the service has no
    /// endpoint port"). A claim now names its service, and a port held for that service is its own.
    @Test func twoConcurrentStartsOfAFixedPortServiceBothSucceed() async throws {
        try await timed { try await withStore { store in
            let port = freePort()
            let uuid = try await store.create(["--name", "fixed", "--port", String(port), "--no-allocate-port"],
                                              ["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"])
            for round in 1 ... 6 {
                let spawned = try (0 ..< 2).map { _ in try store.spawn("start", uuid, "--timeout", "120") }
                var runs: [Run] = []
                for process in spawned { runs.append(await process.wait()) }
                #expect(runs.allSatisfy { $0.status == 0 }, "round \(round): \(runs)")
                let status = try await store.status(uuid)
                #expect(status["state"] as? String == "active", "round \(round): \(status)")
                #expect((status["endpoint"] as? [String: Any])?["port"] as? Int == port, "round \(round): \(status)")
                let pid = try #require(await Witness.mainPID(uuid))
                #expect(Witness.commandLine(pid).contains(String(port)), "round \(round): \(Witness.commandLine(pid))")
                let stop = try await store.svcunit("stop", uuid)
                #expect(stop.status == 0, "round \(round): \(stop)")
            }
        } }
    }

    /// Eight `svcunit create --name dup` processes at once: exactly one stores a service, each other
    /// one fails with one line saying the name exists; the store holds one service.
    @Test func concurrentCreatesOfOneNameStoreExactlyOne() async throws {
        try await live { try await withStore { store in
            let spawned = try (0 ..< 8).map { _ in try store.spawn("create", "command", "--name", "dup", "--", "/bin/sleep", marker()) }
            var runs: [Run] = []
            for process in spawned { runs.append(await process.wait()) }
            let succeeded = runs.filter { $0.status == 0 }
            #expect(succeeded.count == 1, "\(runs)")
            for run in runs where run.status != 0 {
                #expect(run.status == 1, "\(run)")
                expectOneErrorLine(run)
                #expect(run.stderr.contains("a service named \"dup\" already exists"), "\(run)")
            }
            #expect(store.uuids == succeeded.map(\.trimmed), "\(store.uuids)")
            let list = try await store.svcunit("list", "--json")
            #expect(list.status == 0)
            #expect(list.stdout.components(separatedBy: "\"dup\"").count == 2, "one service named dup: \(list.stdout)")
        } }
    }
}
