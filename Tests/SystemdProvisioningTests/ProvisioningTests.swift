import Foundation
import SDJournal
import ServiceHealth
import ServiceKinds
import ServiceModel
import SystemdManager
@testable import SystemdProvisioning
import SystemdTestSupport
import Testing

@Suite struct StatusDerivationTests {
    let name = try! UnitName(validating: "svcunit-x.service")

    func unit(_ props: [String: String], code: Int32? = nil, status: Int32? = nil, restarts: UInt32 = 0,
              invocation: String? = nil) -> UnitStatus {
        var p: [String: SDBusValue] = [:]
        if let invocation {
            p["InvocationID"] = .bytes(stride(from: 0, to: invocation.count, by: 2).map { i in
                UInt8(invocation.dropFirst(i).prefix(2), radix: 16)!
            })
        }
        for (k, v) in props { p[k] = .string(v) }
        if let code { p["ExecMainCode"] = .int32(code) }
        if let status { p["ExecMainStatus"] = .int32(status) }
        p["NRestarts"] = .uint32(restarts)
        p["LoadState"] = p["LoadState"] ?? .string("loaded")
        return UnitStatus(name: name, properties: p)
    }

    @Test func activeStatesMapToServiceStates() {
        #expect(StatusDerivation.derive(nil) == (.inactive, "service daemon is not running"))
        #expect(StatusDerivation.derive(unit(["LoadState": "not-found", "ActiveState": "inactive"])).state == .inactive)
        #expect(StatusDerivation.derive(unit(["ActiveState": "activating", "SubState": "start"])).state == .pendingStartup)
        #expect(StatusDerivation.derive(unit(["ActiveState": "reloading"])).state == .pendingStartup)
        #expect(StatusDerivation.derive(unit(["ActiveState": "active", "SubState": "running"])) == (.active, ""))
        #expect(StatusDerivation.derive(unit(["ActiveState": "deactivating"])).state == .pendingShutdown)
        #expect(StatusDerivation.derive(unit(["ActiveState": "inactive"])).state == .inactive)
    }

    /// A start job the manager has queued but not run yet: still inactive, and the reason says why.
    @Test func aQueuedStartJobIsNamedInTheReason() {
        var queued = unit(["ActiveState": "inactive", "SubState": "dead"])
        queued = UnitStatus(name: name, properties: queued.properties.merging(["Job": .structure([.uint32(128), .objectPath("/org/freedesktop/systemd1/job/128")])]) { $1 })
        let (state, reason) = StatusDerivation.derive(queued)
        #expect(state == .inactive)
        #expect(reason == "service daemon is not running yet: job 128 for its unit waits in the user manager's queue")
        #expect(StatusDerivation.derive(unit(["ActiveState": "inactive", "SubState": "dead"])).reason == "service daemon is not running")
    }

    /// A row of a batch listing, as `list` gets it.
    struct Row: UnitStateFacts {
        var unitName: String
        var isLoaded = true
        var activeState: ActiveState
        var subState: SubState
    }

    /// `list` (one listed row) and `status` (a full property read) go through the same table.
    @Test func aListedRowAndAFullReadGiveTheSameState() throws {
        let subs: [SubState] = [.running, .autoRestart, .dead, .start, .failed]
        for active in ActiveState.allCases {
            for sub in subs {
                let full = unit(["ActiveState": active.rawValue, "SubState": sub.rawValue])
                let row = Row(unitName: full.name.rawValue, activeState: active, subState: sub)
                #expect(StatusDerivation.state(of: row) == StatusDerivation.derive(full).state, "\(active)/\(sub)")
            }
        }
        #expect(StatusDerivation.state(of: Row(unitName: "x", activeState: .activating, subState: .autoRestart)) == .error)
        #expect(StatusDerivation.state(of: Row(unitName: "x", isLoaded: false, activeState: .active, subState: .running)) == .inactive)
        #expect(StatusDerivation.state(of: Optional<Row>.none) == .inactive)
    }

    /// Which unit stands for a service: a running one, the transient unit first; an enabled
    /// instance even while stopped; else a loaded transient unit; else none.
    @Test func theUnitInUseStandsForTheService() {
        func row(_ name: String, _ active: ActiveState, loaded: Bool = true) -> Row {
            Row(unitName: name, isLoaded: loaded, activeState: active, subState: active == .active ? .running : .dead)
        }
        let transientRunning = row("svcunit-u.service", .active)
        let transientGone = row("svcunit-u.service", .inactive, loaded: false)
        let transientFailed = row("svcunit-u.service", .failed)
        let instanceRunning = row("svcunit@u.service", .active)
        let instanceIdle = row("svcunit@u.service", .inactive)
        #expect(ServiceUnit.standing(transient: transientRunning, instance: instanceIdle, instanceEnabled: true)?.unitName == "svcunit-u.service")
        #expect(ServiceUnit.standing(transient: transientGone, instance: instanceRunning, instanceEnabled: false)?.unitName == "svcunit@u.service")
        #expect(ServiceUnit.standing(transient: nil, instance: instanceRunning, instanceEnabled: false)?.unitName == "svcunit@u.service")
        #expect(ServiceUnit.standing(transient: transientGone, instance: instanceIdle, instanceEnabled: true)?.unitName == "svcunit@u.service")
        #expect(ServiceUnit.standing(transient: transientGone, instance: instanceIdle, instanceEnabled: false) == nil)
        #expect(ServiceUnit.standing(transient: transientFailed, instance: instanceIdle, instanceEnabled: false)?.unitName == "svcunit-u.service")
        // A loaded but idle transient unit does not hide a running instance.
        let transientIdle = row("svcunit-u.service", .inactive)
        #expect(ServiceUnit.standing(transient: transientIdle, instance: instanceRunning, instanceEnabled: true)?.unitName == "svcunit@u.service")
        #expect(ServiceUnit.standing(transient: transientIdle, instance: instanceIdle, instanceEnabled: false)?.unitName == "svcunit-u.service")
        // An enabled instance the manager has let go of still stands for the persistent service;
        // one that is not enabled and not loaded is nothing.
        let instanceGone = row("svcunit@u.service", .inactive, loaded: false)
        #expect(ServiceUnit.standing(transient: transientGone, instance: instanceGone, instanceEnabled: true)?.unitName == "svcunit@u.service")
        #expect(ServiceUnit.standing(transient: transientGone, instance: instanceGone, instanceEnabled: false) == nil)
    }

    /// Only a document the entrypoint reads from the store (under the service's shared lock) is
    /// written after the start is asked for; a Python service's interpreter reads it without the
    /// lock, and a document kept elsewhere has no lock beside it.
    @Test func onlyDocumentsTheEntrypointReadsFromTheStoreAreWrittenDuringTheStart() throws {
        let root = NSTemporaryDirectory() + "svcunit-order-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root)
        let config = LocalDaemonServiceConfig(common: ServiceConfig(name: "c"), flavor: CommandService.Config(command: ["/bin/true"]))
        var command = ServiceDocument(kind: CommandService.self, config: config)
        #expect(SystemdProvisioner.readsUnderLock(command, store: store))
        command.status.runtimePath = store.directory(for: command.uuid)
        #expect(SystemdProvisioner.readsUnderLock(command, store: store))
        command.status.runtimePath = "/elsewhere"
        #expect(!SystemdProvisioner.readsUnderLock(command, store: store))
        let python = try BuiltinKinds.registry().decode(data: Data(#"{"type": "my.module.MyService", "uuid": "\#(UUID().uuidString.lowercased())", "config": {}}"#.utf8))
        #expect(python.isPython)
        #expect(!SystemdProvisioner.readsUnderLock(python, store: store))
    }

    @Test func subStatesAndUnitFileStatesAreValidatedWords() {
        #expect(SubState(rawValue: "auto-restart") == .autoRestart)
        #expect(SubState(rawValue: "stop-sigterm")?.rawValue == "stop-sigterm")
        for bad in ["", "Running", "run ning", "dead\n", "ü"] { #expect(SubState(rawValue: bad) == nil, "\(bad)") }
        #expect(unit(["ActiveState": "inactive", "SubState": "Bogus Word"]).subState == .dead)
        #expect(UnitFileState(rawValue: "enabled-runtime")?.isEnabled == true)
        #expect(UnitFileState(rawValue: "static")?.isEnabled == false)
        #expect(UnitFileState(rawValue: "sometimes") == nil)
        #expect(unit(["ActiveState": "active", "UnitFileState": "enabled"]).unitFileState == .enabled)
        #expect(unit(["ActiveState": "active", "UnitFileState": ""]).unitFileState == nil)
    }

    @Test func failuresSayHowTheProcessEnded() {
        let exit3 = StatusDerivation.derive(unit(["ActiveState": "failed", "Result": "exit-code"], code: 1, status: 3))
        #expect(exit3.state == .error)
        #expect(exit3.reason.contains("exited with status 3"))
        let killed = StatusDerivation.derive(unit(["ActiveState": "failed", "Result": "signal"], code: 2, status: 9))
        #expect(killed.reason.contains("killed by signal KILL"))
        let limit = StatusDerivation.derive(unit(["ActiveState": "failed", "Result": "start-limit-hit"]))
        #expect(limit.reason.contains("start limit"))
        // systemd 252 keeps the last run's Result when auto-restarts hit the start limit.
        let gaveUp = StatusDerivation.derive(unit(["ActiveState": "failed", "Result": "exit-code", "Restart": "always"],
                                                  code: 1, status: 1, restarts: 5))
        #expect(gaveUp.reason.contains("restarted 5 times, then systemd's start limit stopped it; last run exited with status 1"))
        let oom = StatusDerivation.derive(unit(["ActiveState": "failed", "Result": "oom-kill"]))
        #expect(oom.reason.contains("out-of-memory"))
    }

    /// On cgroup v1 systemd reports an OOM kill as `Result=signal`; the run record's kernel counter
    /// tells, but only for the invocation it was written for.
    @Test func theRunRecordNamesAnOutOfMemoryKillSystemdCannotSee() {
        let invocation = String(repeating: "ab", count: 16)
        var props = ["ActiveState": "failed", "Result": "signal"]
        let failed = unit(props, code: 2, status: 9, invocation: invocation)
        let oomRun = LastRun(unit: "svcunit-x.service", invocationID: invocation, result: "signal",
                             exit: "killed by signal KILL", oomKills: 1)
        let derived = StatusDerivation.derive(failed, lastRun: oomRun)
        #expect(derived.state == .error)
        #expect(derived.reason == "killed by the out-of-memory killer (its memory limit or the machine's memory ran out): killed by signal KILL")

        var plainKill = oomRun
        plainKill.oomKills = 0
        #expect(StatusDerivation.derive(failed, lastRun: plainKill).reason == "killed by signal KILL")
        var unknown = oomRun
        unknown.oomKills = nil
        #expect(!StatusDerivation.derive(failed, lastRun: unknown).reason.contains("out-of-memory"))
        var olderRun = oomRun
        olderRun.invocationID = String(repeating: "cd", count: 16)
        #expect(!StatusDerivation.derive(failed, lastRun: olderRun).reason.contains("out-of-memory"),
                "a record of an earlier run says nothing about this one")
        props["Result"] = "exit-code"
        #expect(!StatusDerivation.derive(unit(props, code: 1, status: 1, invocation: invocation), lastRun: oomRun)
            .reason.contains("out-of-memory"), "an exit status is not an OOM kill")

        let looping = StatusDerivation.derive(
            unit(["ActiveState": "activating", "SubState": "auto-restart", "Result": "signal"], code: 2, status: 9,
                 restarts: 1, invocation: invocation), lastRun: oomRun)
        #expect(looping.reason == "restarting after failure (1 restart so far): killed by the out-of-memory killer (its memory limit or the machine's memory ran out): killed by signal KILL")
    }

    @Test func autoRestartIsAnErrorThatSaysItIsRestarting() {
        let looping = StatusDerivation.derive(unit(["ActiveState": "activating", "SubState": "auto-restart", "Result": "exit-code"],
                                                   code: 1, status: 1, restarts: 2))
        #expect(looping.state == .error)
        #expect(looping.reason.contains("restarting"))
        #expect(looping.reason.contains("2 restarts"))
        #expect(looping.reason.contains("exited with status 1"))
        let back = StatusDerivation.derive(unit(["ActiveState": "active", "SubState": "running"], restarts: 1))
        #expect(back == (.active, "running again after 1 restart"))
    }
}

/// The journal filter of one service's lines: which groups carry the user tie.
@Suite struct ServiceLogFilterTests {
    static let unit = ServiceUnit(ServiceUUID(rawValue: "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c")!)

    /// Tied: every group on a user-unit field also requires `_UID`; untied: none does. The other
    /// groups (`_SYSTEMD_UNIT`, the identifier, the service's invocation ID) never carry it.
    @Test(arguments: [true, false])
    func theUserTieIsOnTheUserUnitFieldsOnly(tied: Bool) {
        for selection in [ServiceLogSelection(), ServiceLogSelection(invocationID: "0123456789abcdef0123456789abcdef")] {
            let groups = ServiceLogFilter.filter(for: Self.unit, uid: 1000, selection: selection, userTied: tied).groups
            let userFields: Set = ["_SYSTEMD_USER_UNIT", "USER_UNIT", "USER_INVOCATION_ID", "INVOCATION_ID"]
            let userGroups = groups.filter { $0.contains { userFields.contains($0.field) } }
            #expect(!userGroups.isEmpty)
            #expect(userGroups.allSatisfy { $0.contains { $0.field == "_UID" && $0.value == "1000" } == tied }, "\(groups)")
            #expect(groups.filter { !userGroups.contains($0) }.allSatisfy { !$0.contains { $0.field == "_UID" } }, "\(groups)")
            #expect(groups.count == ServiceLogFilter.filter(for: Self.unit, uid: 1000, selection: selection, userTied: !tied).groups.count)
        }
    }
}

@Suite struct UnitPropertyTests {
    @Test func unitNamesComeFromTheUUIDOnly() throws {
        let uuid = ServiceUUID.random()
        let unit = ServiceUnit(uuid)
        #expect(unit.transientUnit.rawValue == "svcunit-\(uuid.rawValue).service")
        #expect(unit.syslogIdentifier == "svcunit-\(uuid.rawValue)")
        #expect(ServiceUnit.slice.rawValue == "svcunit.slice")
    }
}

@Suite struct UnitFileSafetyTests {
    @Test(arguments: ["/home/u/$HOME/svc", "/tmp/100%/x", "/tmp/a;b", "/tmp/a\\b", "/tmp/\"q\"", "/tmp/it's", "/tmp/a\nb"])
    func pathsSystemdCannotRoundTripAreRefused(path: String) {
        do {
            try SystemdProvisioner.checkRoundTrips(path, what: "the store")
            Issue.record("\(path.debugDescription) accepted")
        } catch {
            #expect(error.code == .unsafePath)
            #expect(error.message.contains(path.debugDescription))
        }
    }

    @Test func ordinaryPathsPass() throws {
        try SystemdProvisioner.checkRoundTrips("/home/user/.local/share/svcunit/0b1c-uuid/service.json", what: "x")
        try SystemdProvisioner.checkRoundTrips("/srv/my svc+1@host:2/x", what: "x")
    }
}

typealias SDBusValue = SDBus.BusValue
import SDBus

/// ZenML's LocalDaemonService on a real systemd user manager.
@Suite(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager (run through scripts/test)"))
struct LiveProvisioningTests {
    @Test func httpServerStartsHealthyAndStops() async throws {
        let h = try await Harness()
        let service = try h.command(["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                                    name: "web", endpoint: httpEndpoint(),
                                    environment: [.init(name: "PYTHONUNBUFFERED", value: "1")])
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {

            #expect(try await h.services.start(service.uuid, timeout: .seconds(120)) == .started)
            let report = try await h.services.status(service.uuid)
            #expect(report.document.status.state == .active)
            #expect(report.document.endpoint?.status.state == .active)
            let port = try #require(report.document.endpoint?.status.port)
            let unit = ServiceUnit(service.uuid).transientUnit

            // systemd, as a witness, agrees; the main PID is the server itself, not a wrapper.
            #expect(try LiveSystemd.systemctlShow(unit, "ActiveState") == "active")
            let mainPID = try #require(UInt32(try LiveSystemd.systemctlShow(unit, "MainPID")))
            #expect(report.unit?.mainPID == mainPID)
            let argv = commandLine(of: mainPID)
            #expect(argv.contains("http.server") && argv.contains(String(port.rawValue)), "\(argv)")
            #expect(try LiveSystemd.systemctlShow(unit, "Slice") == "svcunit.slice")
            #expect(try LiveSystemd.systemctlShow(unit, "SyslogIdentifier") == ServiceUnit(service.uuid).syslogIdentifier)

            // Its output is in the journal: journalctl and svcunit's reader see the same lines.
            // One request the server logs, sent by svcunit's own HTTP probe (Foundation's Data(contentsOf:)
            // fetched http URLs only through FoundationNetworking, which nothing links any more).
            let probe = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: "/svcunit-probe", httpStatusCode: 404))
            _ = await probe.check(try #require(report.document.endpoint))
            let logs = try await ServiceLogs(unit: ServiceUnit(service.uuid))
            var lines: [String] = []
            let deadline = LiveSystemd.deadline(.seconds(10))
            while !lines.contains(where: { $0.contains("svcunit-probe") }), ContinuousClock.now < deadline {
                lines = try await logs.last(nil).map(\.message)
                if !lines.contains(where: { $0.contains("svcunit-probe") }) { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(lines.contains { $0.contains("Serving HTTP") })
            #expect(lines.contains { $0.contains("GET /svcunit-probe") })
            let witness = try LiveSystemd.run("/usr/bin/journalctl", ["-t", ServiceUnit(service.uuid).syslogIdentifier, "-o", "cat"]).output
            for line in lines where line.contains("svcunit-probe") { #expect(witness.contains(line)) }

            let stopWatch = try await h.services.manager.watchUnit(unit)
            try await h.services.stop(service.uuid, timeout: .seconds(15))
            let stopped = try await h.services.status(service.uuid)
            #expect(stopped.document.status.state == .inactive)
            #expect(stopped.document.adminState == .inactive)
            // Stopped cleanly, so systemd unloads the unit (a failed one would stay loaded).
            _ = try await stopWatch.wait(before: LiveSystemd.deadline(.seconds(5))) { !$0.isLoaded }
            // The unit's ExecStopPost recorded how the run ended.
            let recorded = try h.services.service(service.uuid).document.status.lastRun
            #expect(recorded?.unit == unit.rawValue)
            #expect(recorded?.result == "success")
        }
    }

    @Test func exitThreeFailsFastWithTheExitStatusAndOutput() async throws {
        let h = try await Harness()
        let service = try h.command(["/bin/sh", "-c", "echo about to fail; echo bad config >&2; exit 3"], name: "bad")
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            let error = await expectError(ServiceModelError.self) { _ = try await h.services.start(service.uuid, timeout: .seconds(120)) }
            // .startFailed with the exit status, not .timedOut: it failed on the unit's end, not at the 30 s timeout.
            #expect(error?.code == .startFailed)
            #expect(error?.message == "bad (\(service.uuid.short)) failed to start: exited with status 3", "\(String(describing: error))")
            #expect(error?.failure?.reason == "exited with status 3")
            // The service's own last lines, in order, and none of the manager's ("Started …", "Main process exited …").
            let output = error?.failure?.output ?? []
            #expect(output == ["about to fail", "bad config"], "\(output)")
            let report = try await h.services.status(service.uuid)
            #expect(report.document.status.state == .error)
            #expect(report.document.status.lastError.contains("exited with status 3"))
        }
    }

    @Test func killedFromOutsideIsAnErrorAndRestartBringsItBack() async throws {
        let h = try await Harness()
        let plain = try h.command(["/bin/sleep", "300"], name: "plain")
        let restarting = try h.command(["/bin/sleep", "300"], name: "restarting", restart: .onFailure)
        try await withCleanUp({ await h.cleanUp([plain.uuid, restarting.uuid]) }) {
            _ = try await h.services.start(plain.uuid, timeout: .seconds(120))
            _ = try await h.services.start(restarting.uuid, timeout: .seconds(120))

            let watchPlain = try await h.services.manager.watchUnit(ServiceUnit(plain.uuid).transientUnit)
            try await h.services.manager.killUnit(ServiceUnit(plain.uuid).transientUnit, whom: .main, signal: SIGKILL)
            _ = try await watchPlain.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.activeState == .failed }
            _ = try await h.services.manager.version()  // order this watch's wake-up with the provisioner's
            let dead = try await h.services.status(plain.uuid)
            #expect(dead.document.status.state == .error)
            #expect(dead.document.status.lastError.contains("killed by signal KILL"), "\(dead.document.status.lastError)")

            let unit = ServiceUnit(restarting.uuid).transientUnit
            let watch = try await h.services.manager.watchUnit(unit)
            let firstPID = watch.current.mainPID
            try await h.services.manager.killUnit(unit, whom: .main, signal: SIGKILL)

            let back = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) {
                $0.activeState == .active && $0.nRestarts >= 1 && $0.mainPID != firstPID && $0.mainPID != 0
            }
            #expect(back.nRestarts == 1)
            // This test's watch may wake before the bus thread has handed the same signal to the
            // provisioner's watch; one round trip on the connection orders them.
            _ = try await h.services.manager.version()
            let report = try await h.services.status(restarting.uuid)
            #expect(report.document.status.state == .active)
            #expect(report.document.status.lastError.contains("restart"), "\(report.document.status.lastError)")
        }
    }

    @Test func activeUnitWithADeadEndpointIsNotRunning() async throws {
        let h = try await Harness()
        // Listens nowhere: the TCP monitor can never pass. A fixed free port, so no other test's
        // server can take the port this one probes.
        let service = try h.command(["/bin/sleep", "300"], name: "deaf", endpoint: tcpEndpoint(port: Int(randomFreePort().rawValue)))
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            let error = await expectError(ServiceModelError.self) { _ = try await h.services.start(service.uuid, timeout: .seconds(2)) }
            #expect(error?.code == .timedOut)
            let report = try await h.services.status(service.uuid)
            #expect(report.document.status.state == .active, "the unit itself runs")
            #expect(report.document.endpoint?.status.state == .error)
            #expect(report.document.endpoint?.status.lastError.isEmpty == false)
            #expect(await h.services.lifecycle.isRunning(try h.services.service(service.uuid)) == false)
        }
    }

    @Test func twoStartsAtOnceMakeOneUnitAndBothSucceed() async throws {
        let h = try await Harness()
        let service = try h.command(["/bin/sleep", "300"], name: "twice")
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            // A second SystemdServices is a second "process": its own registry and its own watch.
            let other = SystemdServices(store: h.services.store, registry: BuiltinKinds.registry(),
                                        manager: try await LiveSystemd.manager(), entrypoint: Harness.entrypoint)
            async let a = h.services.start(service.uuid, timeout: .seconds(120))
            async let b = other.start(service.uuid, timeout: .seconds(120))
            let outcomes = try await [a, b]
            #expect(outcomes.contains(.started))
            let units = try await h.services.manager.listUnitsByPatterns(patterns: ["svcunit-\(service.uuid.rawValue)*"])
            #expect(units.count == 1)
            #expect(units.first?.activeState == .active)
            // Starting it again is a no-op that says so.
            #expect(try await h.services.start(service.uuid, timeout: .seconds(120)) == .alreadyRunning)
        }
    }

    /// Two starts at once of a service that chooses its port: the one that loses the race for the
    /// unit watches (and later writes) the document the winner wrote, with the port the service
    /// listens on. Before, it wrote its own choice: it timed out probing a port nobody listened on,
    /// and the stored document named that port (seen in 8 of 12 rounds of two `svcunit start`s).
    @Test func twoStartsAtOnceAgreeOnThePortTheServiceListensOn() async throws {
        let h = try await Harness()
        let service = try h.command(["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"], name: "twice-port",
                                    endpoint: tcpEndpoint())
        let other = SystemdServices(store: h.services.store, registry: BuiltinKinds.registry(),
                                    manager: try await LiveSystemd.manager(), entrypoint: Harness.entrypoint)
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            for round in 1...6 {
                // The port used last is a free one of its own, so the start that finds the preferred
                // port claimed takes that one, never the scan from 8000 (other tests' range).
                let stored = try h.services.service(service.uuid)
                stored.update { $0.endpoint?.status.port = randomFreePort() }
                try await h.services.provisioner.persist(stored)
                async let a = h.services.start(service.uuid, timeout: .seconds(30))
                async let b = other.start(service.uuid, timeout: .seconds(30))
                let outcomes = try await [a, b]
                #expect(outcomes.contains(.started), "round \(round)")
                let written = try h.services.store.document(service.uuid, with: BuiltinKinds.registry())
                let port = try #require(written.endpoint?.status.port, "round \(round)")
                for services in [h.services, other] {
                    #expect(try services.service(service.uuid).document.endpoint?.status.port == port, "round \(round)")
                }
                #expect(!PortPolicy.canBindLoopback(port), "round \(round): the service listens on the stored port \(port)")
                _ = try await h.services.stop(service.uuid, timeout: .seconds(30))
            }
        }
    }

    /// Two starts at once, in one process, of a service with a fixed port (`allocate_port` false):
    /// both succeed and the service listens on its port. Before, the second start found the port
    /// held by the first start of this process (or bound by the server it started) and failed "TCP
    /// port P is not available", although the service started.
    @Test func twoStartsAtOnceOfAFixedPortServiceBothSucceed() async throws {
        let h = try await Harness()
        let port = randomFreePort()
        let service = try h.command(["/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"], name: "twice-fixed",
                                    endpoint: tcpEndpoint(port: port.value))
        #expect(service.document.endpoint?.config.allocatePort == false)
        let other = SystemdServices(store: h.services.store, registry: BuiltinKinds.registry(),
                                    manager: try await LiveSystemd.manager(), entrypoint: Harness.entrypoint)
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            for round in 1...4 {
                async let a = h.services.start(service.uuid, timeout: .seconds(60))
                async let b = other.start(service.uuid, timeout: .seconds(60))
                let outcomes = try await [a, b]
                #expect(outcomes.contains(.started), "round \(round)")
                #expect(try h.services.service(service.uuid).document.endpoint?.status.port == port, "round \(round)")
                #expect(!PortPolicy.canBindLoopback(port), "round \(round): the service listens on port \(port)")
                _ = try await h.services.stop(service.uuid, timeout: .seconds(30))
            }
        }
    }

    @Test func theSleeperRunsInTheEntrypointThenGoesInactive() async throws {
        let h = try await Harness()
        // Long enough that a start slowed down by a loaded machine still sees it active: a start that
        // first looks after the sleeper has exited 0 cannot tell "done" from "not started" and waits
        // out its timeout (seen twice in the full suite with 0.5 s).
        let config = LocalDaemonServiceConfig(common: ServiceConfig(name: "nap"), flavor: SleepingDaemon.Config(wakeUpAfter: 3))
        let service = try h.services.create(ServiceDocument(kind: SleepingDaemon.self, config: config))
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            let unit = ServiceUnit(service.uuid).transientUnit
            let watch = try await h.services.manager.watchUnit(unit)
            // A nap of 0.5 s may end before start's last check on a loaded machine: a run that ends during
            // its start fails it (issue 16.2), saying so. Either way the run is recorded below.
            do {
                #expect(try await h.services.start(service.uuid, timeout: .seconds(120)) == .started)
            } catch let error as ServiceModelError {
                #expect(error.code == .startFailed && error.message.contains("exited with status 0"), "\(error)")
            }
            #expect(commandLine(of: watch.current.mainPID).first == Harness.entrypoint || watch.current.mainPID == 0)
            let done = try await watch.wait(before: LiveSystemd.deadline(.seconds(30))) { $0.isFinished && $0.hasRun }
            #expect(done.activeState == .inactive)
            // systemd forgets the unit (clean exit)…
            _ = try await watch.wait(before: LiveSystemd.deadline(.seconds(5))) { !$0.isLoaded }
            _ = try await h.services.manager.version()  // order this watch's wake-up with the provisioner's
            let report = try await h.services.status(service.uuid)
            #expect(report.document.status.state == .inactive)
            #expect(try await h.services.manager.unitStatus(unit).isLoaded == false)
            // …svcunit remembers the run.
            let lastRun = try #require(report.document.status.lastRun)
            #expect(lastRun.result == "success")
            #expect(lastRun.exit == "exited with status 0")
            let logs = try await ServiceLogs(unit: ServiceUnit(service.uuid))
            let lines = try await logs.last(nil).map(\.message)
            #expect(lines.contains { $0.contains("sleeping for 3 s") })
            #expect(lines.contains { $0.contains("woke up") })
        }
    }

    @Test func aStoppedSleeperHandlesSIGTERMCleanly() async throws {
        let h = try await Harness()
        let config = LocalDaemonServiceConfig(common: ServiceConfig(name: "long-nap"), flavor: SleepingDaemon.Config(wakeUpAfter: 300))
        let service = try h.services.create(ServiceDocument(kind: SleepingDaemon.self, config: config))
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            _ = try await h.services.start(service.uuid, timeout: .seconds(120))
            try await h.services.stop(service.uuid, timeout: .seconds(120))
            // SIGTERM ended it: an escalation to SIGKILL would record result "timeout" and the KILL signal.
            let lastRun = try h.services.service(service.uuid).document.status.lastRun
            #expect(lastRun?.result == "success")
            #expect(lastRun?.exit?.contains("KILL") != true, "\(String(describing: lastRun))")
        }
    }

    @Test func aDaemonReloadKeepsTheRecordOfTheRun() async throws {
        try await ReloadGate.shared.withExclusive {
            let h = try await Harness()
            let config = LocalDaemonServiceConfig(common: ServiceConfig(name: "reloaded"), flavor: SleepingDaemon.Config(wakeUpAfter: 300))
            let service = try h.services.create(ServiceDocument(kind: SleepingDaemon.self, config: config))
            try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
                _ = try await h.services.start(service.uuid, timeout: .seconds(120))
                // The transient unit file is re-read at a reload; every property must survive it.
                try await h.services.manager.reload()
                try await h.services.stop(service.uuid, timeout: .seconds(120))
                #expect(try h.services.service(service.uuid).document.status.lastRun?.result == "success")
            }
        }
    }

    @Test func deleteStopsFirstAndRemovesTheDirectory() async throws {
        let h = try await Harness()
        let service = try h.command(["/bin/sleep", "300"], name: "doomed")
        try await withCleanUp({ await h.cleanUp([service.uuid]) }) {
            _ = try await h.services.start(service.uuid, timeout: .seconds(120))
            try await h.services.delete(service.uuid, timeout: .seconds(10))
            #expect(!FileManager.default.fileExists(atPath: h.services.store.directory(for: service.uuid)))
            let unit = try await h.services.manager.unitStatus(ServiceUnit(service.uuid).transientUnit)
            #expect(!unit.isLoaded)
        }
    }
}

/// `PortReservations` in one process: two starts of one service share its port until the last ends.
@Suite struct PortReservationTests {
    /// A start that lost the race adopts the winner's port (`adoptStoredPort`) and, at its end,
    /// releases the port it watched: the winner's start, still waiting for its service, keeps the
    /// port from the starts of other services until it ends itself.
    @Test func aStartThatAdoptsAnotherStartsPortLeavesItReserved() {
        let port = randomFreePort()
        let service = ServiceUUID.random(), other = ServiceUUID.random()
        #expect(PortReservations.claimIfFree(port, for: service, claims: nil), "the winner's start")
        PortReservations.share(port, for: service)          // the loser adopts it
        PortReservations.release(port, claims: nil)          // the loser's start ends
        #expect(!PortReservations.claimIfFree(port, for: other, claims: nil), "the winner's start still holds it")
        PortReservations.release(port, claims: nil)          // the winner's start ends
        #expect(PortReservations.claimIfFree(port, for: other, claims: nil), "free once both have ended")
        PortReservations.release(port, claims: nil)
    }

    /// Sharing joins only a reservation of the same service: a port held for another service, or
    /// held by no start of this process (the winner ran in another process), is left as it is.
    @Test func sharingJoinsOnlyThatServicesReservation() {
        let port = randomFreePort()
        let service = ServiceUUID.random(), other = ServiceUUID.random()
        PortReservations.share(port, for: service)           // nothing held: nothing to join
        #expect(PortReservations.claimIfFree(port, for: other, claims: nil))
        PortReservations.share(port, for: service)           // held for another service
        PortReservations.release(port, claims: nil)          // that service's only start ends
        #expect(PortReservations.claimIfFree(port, for: service, claims: nil), "no share was left behind")
        PortReservations.release(port, claims: nil)
    }
}
