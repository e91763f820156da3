import Foundation
import Testing
import SDBus
import SystemdManager
import SystemdTestSupport

/// Transient units on the real user manager; `systemctl` is only a witness.
@Suite(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager (run through scripts/test)"))
struct LiveManagerTests {
    @Test func startWatchActiveThenStopInactive() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("sleep")
        try await LiveSystemd.withTransientUnit(unit, manager: manager) {

            let watch = try await manager.watchUnit(unit)
            let jobs = manager.subscribeJobs()
            defer { jobs.cancel() }
            let job = try await manager.startTransientUnit(unit, properties: [
                .description("svcunit test sleeper"), .execStart(argv: ["/bin/sleep", "3000"]), .type(.exec),
            ])
            #expect(try await jobs.wait(for: job, unit: unit, before: LiveSystemd.deadline(.seconds(10))) == .done)
            let active = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.activeState == .active }
            #expect(active.mainPID > 0)
            #expect(try LiveSystemd.systemctlShow(unit, "ActiveState") == "active")
            #expect(try LiveSystemd.systemctlShow(unit, "MainPID") == String(active.mainPID))

            let listed = try await manager.listUnitsByPatterns(patterns: [unit.rawValue])
            #expect(listed.map(\.name) == [unit.rawValue])
            #expect(listed.first?.activeState == .active)

            _ = try await manager.stopUnit(unit)
            let stopped = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.isFinished && $0.hasRun }
            #expect(stopped.activeState == .inactive)
        }
    }

    @Test func exitThreeIsFailedExitCodeThree() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("exit3")
        try await LiveSystemd.withTransientUnit(unit, manager: manager) {
            let watch = try await manager.watchUnit(unit)
            _ = try await manager.startTransientUnit(unit, properties: [.execStart(argv: ["/bin/sh", "-c", "exit 3"])])
            let failed = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.isFinished && $0.hasRun }
            #expect(failed.activeState == .failed)
            #expect(failed.result == .exitCode)
            #expect(failed.execMainStatus == 3)
            #expect(failed.exitDescription == "exited with status 3")
            // A failed transient unit stays loaded: the same facts come back from a fresh read.
            let reread = try await manager.unitStatus(unit)
            #expect(reread.activeState == .failed && reread.execMainStatus == 3)
            #expect(try LiveSystemd.systemctlShow(unit, "Result") == "exit-code")
            // ...and blocks a new start with the same name until reset.
            do throws(SystemdError) {
                _ = try await manager.startTransientUnit(unit, properties: [.execStart(argv: ["/bin/true"])])
                Issue.record("starting over a failed unit succeeded")
            } catch {
                #expect(error.code == .unitExists)
                #expect(error.dbusErrorName == SystemdErrorName.unitExists)
                #expect(error.unit == unit)
                #expect(error.description.contains(unit.rawValue))
            }
            try await manager.resetFailedUnit(unit)
            await expectNoSuchUnit(unit, manager)
        }
    }

    @Test func killedBySIGKILLReadsAsSignal() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("kill")
        try await LiveSystemd.withTransientUnit(unit, manager: manager) {
            let watch = try await manager.watchUnit(unit)
            _ = try await manager.startTransientUnit(unit, properties: [.execStart(argv: ["/bin/sleep", "3000"]), .type(.exec)])
            _ = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.activeState == .active }
            try await manager.killUnit(unit, whom: .main, signal: SIGKILL)
            let dead = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.isFinished && $0.hasRun }
            #expect(dead.activeState == .failed)
            #expect(dead.result == .signal)
            #expect(dead.exitDescription == "killed by signal KILL")
        }
    }

    @Test func getUnitOnAMissingUnitIsNoSuchUnit() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("missing")
        do {
            _ = try await manager.getUnit(unit)
            Issue.record("GetUnit found a unit that was never started")
        } catch {
            #expect(error.code == .noSuchUnit)
            #expect(error.dbusErrorName == "org.freedesktop.systemd1.NoSuchUnit")
            #expect(error.description.contains(unit.rawValue))
        }
        // The status of a unit the manager does not hold: not loaded and inactive, not an error.
        let status = try await manager.unitStatus(unit)
        #expect(!status.isLoaded && status.activeState == .inactive && status.jobID == 0)
    }

    /// Reading a status never makes the manager load the unit: a load would be announced with
    /// `UnitNew` (then `UnitRemoved`) to every peer, the churn that starved the manager's job queue.
    /// The control, a plain `GetAll` on the unit's path, shows the witness sees such a load.
    @Test func readingAStatusDoesNotLoadTheUnit() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("unloaded")
        let loads = manager.bus.subscribe(SignalMatch(path: "/org/freedesktop/systemd1", interface: "org.freedesktop.systemd1.Manager",
                                                      member: "UnitNew", arg0: unit.rawValue))
        defer { loads.cancel() }
        _ = try await manager.unitStatus(unit)
        _ = try await manager.version()  // a round trip after it: the manager has handled the read
        // Absence in a window: a machine too slow to announce a load in it makes this test miss a
        // regression, never fail a correct build.
        #expect(try await loads.next(before: .now + .milliseconds(500)) == nil, "unitStatus loaded \(unit)")
        _ = try await manager.bus.call(.getAllProperties(destination: "org.freedesktop.systemd1", path: unit.objectPath, interface: ""))
        #expect(try await loads.next(before: .now + .seconds(60)) != nil, "the witness saw no load for a GetAll")
    }

    @Test func startingARunningNameIsUnitExists() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("dup")
        try await LiveSystemd.withTransientUnit(unit, manager: manager) {
            _ = try await manager.startTransientUnit(unit, properties: [.execStart(argv: ["/bin/sleep", "3000"])])
            do throws(SystemdError) {
                _ = try await manager.startTransientUnit(unit, properties: [.execStart(argv: ["/bin/sleep", "3000"])])
                Issue.record("a second unit with the same name started")
            } catch {
                #expect(error.code == .unitExists)
                #expect(error.dbusErrorName == SystemdErrorName.unitExists)
            }
        }
    }

    @Test func anUnknownPropertyIsRejectedWithItsName() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("badprop")
        do {
            _ = try await manager.startTransientUnit(unit, properties: [
                .execStart(argv: ["/bin/true"]), UnitProperty(name: "NoSuchSetting", value: .string("x")),
            ])
            Issue.record("systemd accepted an unknown property")
        } catch {
            #expect(error.code == .invalidProperty)
            #expect(error.dbusErrorName == BusErrorName.propertyReadOnly)
            #expect(error.description.contains("NoSuchSetting"))
        }
        // Nothing was created.
        await expectNoSuchUnit(unit, manager)
    }

    @Test func aTransientUnitKeepsItsCommandAcrossADaemonReload() async throws {
        try await ReloadGate.shared.withExclusive {
            let manager = try await LiveSystemd.manager()
            let unit = LiveSystemd.uniqueUnit("reload")
            try await LiveSystemd.withTransientUnit(unit, manager: manager) {
                let watch = try await manager.watchUnit(unit)
                _ = try await manager.startTransientUnit(unit, properties: [
                    .execStart(argv: ["/bin/sleep", "3000"]), .type(.exec), .restart(.onFailure), .restartDelay(.milliseconds(50)),
                ])
                let first = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.activeState == .active }
                // systemd re-reads the transient unit file here; a restart afterwards must still find ExecStart.
                try await manager.reload()
                try await manager.killUnit(unit, whom: .main, signal: SIGKILL)
                let again = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) {
                    $0.activeState == .active && $0.mainPID != first.mainPID && $0.mainPID != 0
                }
                #expect(again.nRestarts == 1)
            }
        }
    }

    @Test func manyConcurrentCallsOverOneConnection() async throws {
        let manager = try await LiveSystemd.manager()
        let versions = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0 ..< 50 { group.addTask { try await manager.version() } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(versions.count == 50)
        #expect(Set(versions).count == 1)
        #expect(versions[0].hasPrefix("25"))
    }

    @Test func theBrokerPathSubscribesAndSeesSignalsToo() async throws {
        var env = SystemdManager.currentEnvironment()
        env["SVCUNIT_FORCE_BUS"] = "1"
        let manager = try await SystemdManager.connectUser(environment: env)
        #expect(manager.bus.isBrokered)
        let unit = LiveSystemd.uniqueUnit("broker")
        try await LiveSystemd.withTransientUnit(unit, manager: manager) {
            let watch = try await manager.watchUnit(unit)
            _ = try await manager.startTransientUnit(unit, properties: [.execStart(argv: ["/bin/sh", "-c", "exit 4"])])
            let done = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.isFinished && $0.hasRun }
            #expect(done.execMainStatus == 4)
        }
    }

    /// The environment given decides where the user bus is, not the process's own: a runtime
    /// directory without a bus is unreachable (the test process itself has a working one).
    @Test func noUserManagerIsAClearError() async throws {
        for env in [["XDG_RUNTIME_DIR": "/nonexistent-svcunit-runtime"],
                    ["XDG_RUNTIME_DIR": "/nonexistent-svcunit-runtime", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent-svcunit-runtime/bus"],
                    ["DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent-svcunit-runtime/bus"],
                    [:]] {
            do {
                _ = try await SystemdManager.connectUser(environment: env)
                Issue.record("connected to a user manager through \(env)")
            } catch {
                #expect(error.code == .noUserManager, "\(env): \(error)")
                #expect(error.description.contains("systemctl --user status"), "\(error)")
                if env.isEmpty {
                    #expect(error.description.contains("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set"), "\(error)")
                } else {
                    #expect(error.description.contains("/nonexistent-svcunit-runtime"), "names what it tried: \(error)")
                }
            }
        }
        // The same call with the real environment's bus address reaches the manager: it is the
        // environment that failed above, not the call.
        var real = SystemdManager.currentEnvironment()
        real["SVCUNIT_FORCE_BUS"] = "1"
        let manager = try await SystemdManager.connectUser(environment: real)
        #expect(manager.bus.isBrokered)
        #expect(try await manager.version().hasPrefix("25"))
    }
}

/// `GetUnit` of `unit` fails with NoSuchUnit: the unit is not loaded (and not merely unreachable).
func expectNoSuchUnit(_ unit: UnitName, _ manager: SystemdManager, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        _ = try await manager.getUnit(unit)
        Issue.record("\(unit) is still loaded", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == .noSuchUnit, "\(error)", sourceLocation: sourceLocation)
        #expect(error.dbusErrorName == "org.freedesktop.systemd1.NoSuchUnit", sourceLocation: sourceLocation)
    }
}
