import ServiceModel
import SystemdManager
import SystemdProvisioning
import Testing

/// Issue 13: the one rule that turns a service's health records and its unit into the state `status`,
/// `list` and `health` report. Pure, no systemd.
@Suite("issue 13: health state derivation")
struct HealthDerivationTests {
    let supervision = HealthSupervision(intervalSeconds: 1, unhealthyAfter: 2, action: .restart)
    let run1 = "0123456789abcdef0123456789abcdef"
    let run2 = "fedcba9876543210fedcba9876543210"

    func active(_ invocation: String) -> UnitStatus {
        StatusDerivationTests().unit(["ActiveState": "active", "SubState": "running"], invocation: invocation)
    }

    func record(_ result: HealthRecord.Result, _ state: HealthRecord.State, failures: Int = 0, restarts: Int = 0,
                run: String, at time: UInt64) -> HealthRecord {
        HealthRecord(time: time, result: result, state: state, consecutiveFailures: failures, threshold: 2,
                     healthRestarts: restarts, invocation: run, message: "")
    }

    @Test func theCurrentRunsLastCheckDecides() {
        let records = [record(.ok, .healthy, run: run1, at: 1), record(.fail, .failing, failures: 1, run: run1, at: 2)]
        let report = StatusDerivation.health(supervision: supervision, records: records, unit: active(run1))
        #expect(report.state == .failing)
        #expect(report.consecutiveFailures == 1)
        #expect(report.lastCheck?.time == 2)
        #expect(report.transitions.map(\.time) == [1, 2])
    }

    @Test func afterAHealthRestartTheNewRunIsPendingUntilItsFirstCheck() {
        var records = [record(.fail, .failing, failures: 1, run: run1, at: 1), record(.fail, .unhealthy, failures: 2, run: run1, at: 2),
                       record(.restart, .unhealthy, failures: 2, restarts: 1, run: run1, at: 3)]
        var report = StatusDerivation.health(supervision: supervision, records: records, unit: active(run2))
        #expect(report.state == .pending)
        #expect(report.consecutiveFailures == 0)
        #expect(report.healthRestarts == 1)
        // Before systemd has restarted the unit, the old run reads as restarting (pending), not unhealthy.
        #expect(StatusDerivation.health(supervision: supervision, records: records, unit: active(run1)).state == .pending)

        records.append(record(.ok, .healthy, restarts: 1, run: run2, at: 4))
        report = StatusDerivation.health(supervision: supervision, records: records, unit: active(run2))
        #expect(report.state == .healthy)
        #expect(report.healthRestarts == 1)
        #expect(report.transitions.last?.time == 4)
        #expect(report.transitions.contains { $0.result == .restart })
    }

    @Test func aServiceThatDoesNotRunIsNotChecked() {
        let records = [record(.fail, .unhealthy, failures: 2, run: run1, at: 1)]
        let stopped = StatusDerivationTests().unit(["LoadState": "not-found", "ActiveState": "inactive"])
        #expect(StatusDerivation.health(supervision: supervision, records: records, unit: stopped).state == .notRunning)
        #expect(StatusDerivation.health(supervision: supervision, records: records, unit: nil).state == .notRunning)
        #expect(StatusDerivation.health(supervision: supervision, records: [], unit: active(run1)).state == .pending)
    }

    /// `list` knows no invocation: the newest record stands for the current run.
    @Test func withoutTheRunTheNewestRecordStands() {
        let records = [record(.fail, .unhealthy, failures: 2, run: run1, at: 1)]
        #expect(StatusDerivation.health(supervision: supervision, records: records, running: true, invocation: nil,
                                        invocationKnown: false).state == .unhealthy)
    }

    @Test func settingsAreCheckedByOneRule() {
        #expect(HealthSupervision().problem == nil)
        #expect(HealthSupervision(intervalSeconds: 0).problem?.setting == "interval")
        #expect(HealthSupervision(intervalSeconds: .nan).problem?.setting == "interval")
        #expect(HealthSupervision(intervalSeconds: 86_401).problem?.setting == "interval")
        #expect(HealthSupervision(unhealthyAfter: 0).problem?.setting == "unhealthy_after")
        #expect(HealthSupervision(graceSeconds: -1).problem?.setting == "grace")
        #expect(HealthSupervision(intervalSeconds: 2.5, unhealthyAfter: 4, action: .record, graceSeconds: 30).summary
            == "every 2.5 s, unhealthy after 4 failed checks, then record only (grace 30 s)")
    }

    /// The transient units: names from the UUID alone, the timer bound to the service, the check a
    /// oneshot of the svcunit executable; none without supervision.
    @Test func theTimerIsBoundToTheServiceUnit() throws {
        let uuid = try #require(ServiceUUID(rawValue: "0b0b0b0b-0000-4000-8000-000000000001"))
        let units = HealthUnits(uuid)
        #expect(units.timer.rawValue == "svcunit-health-\(uuid).timer")
        #expect(units.check.rawValue == "svcunit-health-\(uuid).service")
        #expect(units.timer(for: ServiceUnit(uuid).templateInstance) == units.templateTimer)
        #expect(ServiceUnit(unitName: units.check.rawValue) == nil, "a check unit is not taken for a service's unit")
    }
}
