import Foundation
import SystemdTestSupport
import Testing

/// Issue 8, case 3: 20 concurrent `svcunit` processes. A reader polls every service.json the whole
/// time and parses it with Foundation's parser: a torn (half-written) file would fail to parse.
@Suite("Concurrency", .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct ConcurrencyTests {
    /// Parses the files until `stop` is set; returns the problems seen.
    static func watchForTornFiles(_ files: [String], until flag: Flag) async -> [String] {
        var problems: [String] = []
        var reads = 0
        while !flag.isSet {
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { problems.append("\(file) missing"); continue }
                reads += 1
                if (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] == nil {
                    problems.append("torn \(file): \(data.count) bytes")
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        if reads == 0 { problems.append("the reader never read a file") }
        return problems
    }

    /// Runs all the command lines at once and returns their outcomes.
    static func runAll(_ store: Store, _ commands: [[String]]) async throws -> [Run] {
        let spawned = try commands.map { try CLI.spawn(["--root", store.path] + $0) }
        var runs: [Run] = []
        for process in spawned { runs.append(await process.wait()) }
        return runs
    }

    static func expectSane(_ runs: [Run], _ commands: [[String]], sourceLocation: SourceLocation = #_sourceLocation) {
        for (run, command) in zip(runs, commands) {
            #expect(!run.signaled, "\(command) crashed: \(run)", sourceLocation: sourceLocation)
            #expect((0 ... 6).contains(run.status), "\(command): \(run)", sourceLocation: sourceLocation)
            if run.status != 0 {
                #expect(run.errorLines.count >= 1 && run.stderr.hasPrefix("svcunit: error: "), "\(command): \(run)", sourceLocation: sourceLocation)
            }
        }
    }

    /// 20 concurrent start/stop/status on ONE service: every process ends with a documented exit
    /// status, never more than one unit or process, the JSON is never torn, and afterwards svcunit
    /// and systemd agree; a final start converges to exactly one unit and one process.
    @Test func twentyConcurrentCommandsOnOneService() async throws {
        try await live { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "contended"], ["/bin/sleep", m])
            let commands: [[String]] = (0 ..< 20).map { i in
                switch i % 3 {
                case 0: ["start", uuid, "--timeout", "20"]
                case 1: ["stop", uuid, "--timeout", "20"]
                default: ["status", uuid, "--json"]
                }
            }
            let flag = Flag()
            let reader = Task { await Self.watchForTornFiles([store.file(uuid)], until: flag) }
            // Watch for duplicates while the storm runs.
            let duplicates = Task { () -> Int in
                var most = 0
                while !flag.isSet {
                    most = max(most, Witness.processes(m).count)
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return most
            }
            let runs = try await Self.runAll(store, commands)
            flag.set()
            let torn = await reader.value
            let mostProcesses = await duplicates.value
            #expect(torn.isEmpty, "\(torn)")
            #expect(mostProcesses <= 1, "at most one process of the service at any time")
            Self.expectSane(runs, commands)

            // Consistent: svcunit's view equals systemd's.
            let status = try await store.status(uuid)
            let active = await Witness.show(uuid, "ActiveState")
            #expect((status["state"] as? String == "active") == (active == "active"), "\(status) vs \(active)")
            #expect(await Witness.units(uuid).count <= 1)

            let final = try await store.svcunit("start", uuid, "--timeout", "20")
            #expect(final.status == 0, "\(final)")
            #expect(await Witness.units(uuid) == ["svcunit-\(uuid).service"])
            #expect(Witness.processes(m).count == 1)
            #expect(try store.document(uuid)["admin_state"] as? String == "active")
        } }
    }

    /// 20 concurrent commands over 10 services (two starts each), then 20 more (stop + status
    /// each): exactly one unit and one process per service, every file whole, final states right.
    @Test func twentyConcurrentCommandsOnTenServices() async throws {
        try await live { try await withStore { store in
            var services: [(uuid: String, marker: String)] = []
            for i in 0 ..< 10 {
                let m = marker()
                services.append((try await store.create(["--name", "svc\(i)"], ["/bin/sleep", m]), m))
            }
            let files = services.map { store.file($0.uuid) }
            let flag = Flag()
            let reader = Task { await Self.watchForTornFiles(files, until: flag) }

            let starts = services.flatMap { [["start", $0.uuid, "--timeout", "30"], ["start", $0.uuid, "--timeout", "30"]] }
            let startRuns = try await Self.runAll(store, starts)
            Self.expectSane(startRuns, starts)
            #expect(startRuns.allSatisfy { $0.status == 0 }, "\(startRuns.filter { $0.status != 0 })")
            for service in services {
                #expect(await Witness.units(service.uuid) == ["svcunit-\(service.uuid).service"])
                #expect(Witness.processes(service.marker).count == 1, "\(service)")
                #expect(try store.document(service.uuid)["admin_state"] as? String == "active")
            }

            let stops = services.flatMap { [["stop", $0.uuid, "--timeout", "30"], ["status", $0.uuid, "--json"]] }
            let stopRuns = try await Self.runAll(store, stops)
            flag.set()
            let torn = await reader.value
            #expect(torn.isEmpty, "\(torn)")
            Self.expectSane(stopRuns, stops)
            for (run, command) in zip(stopRuns, stops) where command[0] == "stop" {
                #expect(run.status == 0, "\(run)")
            }
            for service in services {
                #expect(await Witness.units(service.uuid).isEmpty, "\(service)")
                #expect(Witness.processes(service.marker).isEmpty, "\(service)")
                let status = try await store.status(service.uuid)
                #expect(status["state"] as? String == "inactive", "\(status)")
                #expect(status["admin_state"] as? String == "inactive", "\(service.uuid)")
            }
        } }
    }
}

/// A one-way flag shared between tasks.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
