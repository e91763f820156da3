import Foundation
import SDJournal
import ServiceKinds
import ServiceModel
import SystemdManager
import SystemdProvisioning
import SystemdTestSupport
import Testing

@Suite struct ServiceTemplateTests {
    @Test func theShippedTemplateIsTheOneSvcunitWrites() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try String(contentsOf: repo.appendingPathComponent("units/svcunit@.service"), encoding: .utf8)
        #expect(shipped == ServiceTemplate.text())
        // Issue 13: the health supervision templates, shipped as svcunit writes them.
        let timer = try String(contentsOf: repo.appendingPathComponent("units/svcunit-health@.timer"), encoding: .utf8)
        #expect(timer == HealthTemplates.timerText())
        let check = try String(contentsOf: repo.appendingPathComponent("units/svcunit-health@.service"), encoding: .utf8)
        #expect(check == HealthTemplates.checkText())
    }

    @Test func dropInsQuoteTheStoreAndNameTheEntrypoint() {
        let text = ServiceTemplate.dropIn(root: "/home/a b/\"svc\"", entrypoint: "/opt/x/svcunit")
        #expect(text.contains(#"Environment="SVCUNIT_ROOT=/home/a b/\"svc\"""#))
        #expect(text.contains("ExecStart=\nExecStart=/opt/x/svcunit entrypoint --notify"))
    }
}

/// `svcunit enable`: the svcunit@ template instance on the real user manager.
@Suite(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager (run through scripts/test)"))
struct LivePersistentTests {
    func delayedHTTPServer(_ h: Harness, delay: String = "0") throws -> Service {
        try h.command(["/bin/sh", "-c", "sleep \(delay); exec /usr/bin/python3 -m http.server \"$0\" --bind 127.0.0.1", "{port}"],
                      name: "persistent-web", endpoint: httpEndpoint(),
                      environment: [.init(name: "PYTHONUNBUFFERED", value: "1")])
    }

    func cleanUp(_ h: Harness, _ uuid: ServiceUUID) async {
        try? await h.services.disable(uuid, timeout: .seconds(10))
        await LiveSystemd.cleanUp(ServiceUnit(uuid).templateInstance, manager: h.services.manager)
        await h.cleanUp([uuid])
    }

    /// Runs `body` on a new HTTP service and disables and removes it *before* leaving the exclusive
    /// side of the gate: `disable` reloads the manager, which must not happen beside other tests.
    func withPersistentService(delay: String, _ body: @escaping @Sendable (Harness, Service) async throws -> Void) async throws {
        try await ReloadGate.shared.withExclusive {
            let h = try await Harness()
            let service = try delayedHTTPServer(h, delay: delay)
            do { try await body(h, service) } catch {
                await cleanUp(h, service.uuid)
                throw error
            }
            await cleanUp(h, service.uuid)
        }
    }

    @Test func enableStartsTheTemplateInstanceWhichSurvivesAReload() async throws {
        try await withPersistentService(delay: "0") { h, service in
            let uuid = service.uuid
            let instance = ServiceUnit(uuid).templateInstance

            let changes = try await h.services.enable(uuid, timeout: .seconds(20))
            #expect(changes.contains { $0.type == "symlink" && $0.path.hasSuffix("default.target.wants/\(instance.rawValue)") })
            #expect(try LiveSystemd.run("/usr/bin/systemctl", ["--user", "is-enabled", instance.rawValue]).output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "enabled")
            let report = try await h.services.status(uuid)
            #expect(report.unit?.name == instance)
            #expect(report.document.status.state == .active)
            #expect(report.document.endpoint?.status.state == .active)
            // Readiness came from the helper's READY=1, with the health line systemctl shows.
            #expect(try LiveSystemd.systemctlShow(instance, "StatusText").hasPrefix("healthy:"))
            let mainPID = try LiveSystemd.systemctlShow(instance, "MainPID")
            #expect(commandLine(of: UInt32(mainPID) ?? 0).contains("http.server"))
            // No resident helper: the unit's cgroup holds the server only.
            let tasks = try LiveSystemd.systemctlShow(instance, "TasksCurrent")
            #expect(tasks == "1" || tasks == "[not set]" || tasks.isEmpty, "tasks: \(tasks)")

            try await h.services.manager.reload()
            #expect(try LiveSystemd.systemctlShow(instance, "ActiveState") == "active")
            #expect(try LiveSystemd.systemctlShow(instance, "MainPID") == mainPID)

            // Logs and stop find the instance.
            let logs = try await ServiceLogs(unit: ServiceUnit(uuid))
            let deadline = LiveSystemd.deadline(.seconds(10))
            var lines: [String] = []
            while !lines.contains(where: { $0.contains("Serving HTTP") }), ContinuousClock.now < deadline {
                lines = try await logs.last(nil).map(\.message)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(lines.contains { $0.contains("Serving HTTP") })
            try await h.services.stop(uuid, timeout: .seconds(15))
            #expect(try LiveSystemd.systemctlShow(instance, "ActiveState") == "inactive")
            #expect(try await h.services.status(uuid).document.status.state == .inactive)
            // Stopped, it is still the persistent service's unit, whether or not the manager still
            // holds the instance (a status read never loads it; the unit file says it is enabled).
            #expect(try await h.services.provisioner.unitStatus(uuid).name == instance)

            // `start` of an enabled service starts the instance again, not a transient unit.
            #expect(try await h.services.start(uuid, timeout: .seconds(120)) == .started)
            #expect(try LiveSystemd.systemctlShow(instance, "ActiveState") == "active")
            #expect(try await h.services.manager.unitStatus(ServiceUnit(uuid).transientUnit).isLoaded == false)

            try await h.services.disable(uuid, timeout: .seconds(15))
            #expect(try LiveSystemd.systemctlShow(instance, "ActiveState") == "inactive")
            #expect(try LiveSystemd.run("/usr/bin/systemctl", ["--user", "is-enabled", instance.rawValue]).output
                .trimmingCharacters(in: .whitespacesAndNewlines) != "enabled")
        }
    }

    @Test func plainSystemctlStartBlocksUntilTheServiceIsHealthy() async throws {
        try await withPersistentService(delay: "0.7") { h, service in
            let uuid = service.uuid
            let instance = ServiceUnit(uuid).templateInstance
            try await h.services.enable(uuid, timeout: .seconds(20))
            try await h.services.stop(uuid, timeout: .seconds(15))
            let port = try #require(try h.services.service(uuid).document.endpoint?.status.port)

            // No svcunit process takes part: systemd alone starts the instance and waits for READY=1.
            let started = ContinuousClock.now
            let result = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "start", instance.rawValue])
            #expect(result.status == 0)
            #expect(ContinuousClock.now - started >= .milliseconds(600), "start waited for the delayed server")
            #expect(TCPPort(Int(port.rawValue)).map { !PortPolicy.canBindLoopback($0) } == true, "the port is taken by the server")
            let status = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "status", instance.rawValue, "--no-pager"]).output
            #expect(status.contains("Status: \"healthy:"), "\(status)")
        }
    }
}
