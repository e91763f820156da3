import FoundationEssentials
import OSCalls
public import ServiceModel
public import SystemdManager
public import SDJournal

/// One health check's record in the journal, as the check writes it and `status`/`health` read it.
///
/// Every record carries `SVCUNIT_UUID=<uuid>` and `SVCUNIT_HEALTH=ok|fail|restart`, so a script can
/// match them (`journalctl SVCUNIT_HEALTH=restart`). A restart svcunit made for health is its own
/// record (`SVCUNIT_HEALTH=restart`, `SVCUNIT_HEALTH_CAUSE=unhealthy`): systemd's restarts after a
/// crash never carry it, so the two are told apart.
public struct HealthRecord: Sendable, Hashable {
    /// What the record is about.
    public enum Result: String, Sendable, Hashable {
        case ok, fail
        /// svcunit restarted the service's unit because it was unhealthy.
        case restart
    }

    /// The supervision state after the record: passing, failing but below the threshold, or unhealthy.
    public enum State: String, Sendable, Hashable {
        case healthy, failing, unhealthy
    }

    /// µs since the epoch (journald's time of the entry).
    public var time: UInt64
    public var result: Result
    public var state: State
    public var latencyMilliseconds: Double?
    public var error: String?
    /// Failed checks in a row, this one included (0 after a passing one).
    public var consecutiveFailures: Int
    public var threshold: Int
    /// Restarts svcunit made for health since the state was kept (see `HealthState`).
    public var healthRestarts: Int
    /// The service's unit and the run (`InvocationID`) the check looked at.
    public var unit: String?
    public var invocation: String?
    public var message: String

    public init(time: UInt64, result: Result, state: State, latencyMilliseconds: Double? = nil, error: String? = nil,
                consecutiveFailures: Int, threshold: Int, healthRestarts: Int, unit: String? = nil, invocation: String? = nil,
                message: String) {
        self.time = time
        self.result = result
        self.state = state
        self.latencyMilliseconds = latencyMilliseconds
        self.error = error
        self.consecutiveFailures = consecutiveFailures
        self.threshold = threshold
        self.healthRestarts = healthRestarts
        self.unit = unit
        self.invocation = invocation
        self.message = message
    }

    // The journal fields.
    public static let uuidField = "SVCUNIT_UUID"
    public static let resultField = "SVCUNIT_HEALTH"
    static let stateField = "SVCUNIT_HEALTH_STATE"
    static let latencyField = "SVCUNIT_HEALTH_LATENCY_MS"
    static let errorField = "SVCUNIT_HEALTH_ERROR"
    static let failuresField = "SVCUNIT_HEALTH_FAILURES"
    static let thresholdField = "SVCUNIT_HEALTH_THRESHOLD"
    static let restartsField = "SVCUNIT_HEALTH_RESTARTS"
    static let unitField = "SVCUNIT_HEALTH_UNIT"
    static let invocationField = "SVCUNIT_HEALTH_INVOCATION"
    /// On a restart record: why svcunit restarted the unit (`unhealthy`).
    public static let causeField = "SVCUNIT_HEALTH_CAUSE"
    /// The fields a reader asks for.
    static let fields = [resultField, stateField, latencyField, errorField, failuresField, thresholdField, restartsField,
                         unitField, invocationField]
    /// `MESSAGE_ID`s (as systemd's catalog uses them), one for checks and one for health restarts.
    static let checkMessageID = "3d6b0f5e2c8a4b1f9e7a51c2d4f60a13"
    static let restartMessageID = "8f1c2e4a6b3d4c5e9a0b7d1f2e3c4a5b"

    /// The entry's fields, for `JournalWriter.send`.
    func journalFields(uuid: ServiceUUID) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", message),
            ("MESSAGE_ID", result == .restart ? Self.restartMessageID : Self.checkMessageID),
            // 6 info for a pass, 4 warning for a failure, 5 notice for a restart.
            ("PRIORITY", result == .ok ? "6" : result == .fail ? "4" : "5"),
            ("SYSLOG_IDENTIFIER", HealthUnits.syslogIdentifier),
            (Self.uuidField, uuid.rawValue),
            (Self.resultField, result.rawValue),
            (Self.stateField, state.rawValue),
            (Self.failuresField, String(consecutiveFailures)),
            (Self.thresholdField, String(threshold)),
            (Self.restartsField, String(healthRestarts)),
        ]
        if let latencyMilliseconds { fields.append((Self.latencyField, String(format3(latencyMilliseconds)))) }
        if let error { fields.append((Self.errorField, error)) }
        if let unit { fields.append((Self.unitField, unit)) }
        if let invocation { fields.append((Self.invocationField, invocation)) }
        if result == .restart { fields.append((Self.causeField, "unhealthy")) }
        return fields
    }

    /// A record read back from the journal; nil for an entry that is not one.
    init?(entry: JournalEntry) {
        guard let result = entry.field(Self.resultField).flatMap(Result.init(rawValue:)),
              let state = entry.field(Self.stateField).flatMap(State.init(rawValue:)) else { return nil }
        self.init(time: entry.realtimeMicroseconds, result: result, state: state,
                  latencyMilliseconds: entry.field(Self.latencyField).flatMap(Double.init),
                  error: entry.field(Self.errorField),
                  consecutiveFailures: entry.field(Self.failuresField).flatMap { Int($0) } ?? 0,
                  threshold: entry.field(Self.thresholdField).flatMap { Int($0) } ?? 0,
                  healthRestarts: entry.field(Self.restartsField).flatMap { Int($0) } ?? 0,
                  unit: entry.field(Self.unitField), invocation: entry.field(Self.invocationField), message: entry.message)
    }

    /// The record as JSON (`health --json`, `status --json`).
    public var json: JSONValue {
        var o = JSONObject()
        o["time"] = .string(Self.isoTime(time))
        o["time_usec"] = .int(Int64(clamping: time))
        o["result"] = .string(result.rawValue)
        o["state"] = .string(state.rawValue)
        o["latency_ms"] = latencyMilliseconds.map(JSONValue.number) ?? .null
        o["error"] = error.map(JSONValue.string) ?? .null
        o["consecutive_failures"] = .int(Int64(consecutiveFailures))
        o["unhealthy_after"] = .int(Int64(threshold))
        o["health_restarts"] = .int(Int64(healthRestarts))
        o["unit"] = unit.map(JSONValue.string) ?? .null
        o["message"] = .string(message)
        return .object(o)
    }

    /// UTC ISO-8601 with milliseconds, e.g. `2026-11-30T06:10:01.123Z`.
    static func isoTime(_ microseconds: UInt64) -> String {
        Date(timeIntervalSince1970: Double(microseconds / 1000) / 1000)
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

extension HealthRecord {
    /// The health records of a service from the journal, oldest first: the last `limit` ones, or with
    /// `since` (µs since the epoch) the ones from then on (the last `limit` of them).
    public static func history(_ uuid: ServiceUUID, limit: Int, since: UInt64? = nil) async throws(JournalError) -> [HealthRecord] {
        let reader = try await JournalReader(scope: .localOnly, extraFields: fields)
        defer { reader.close() }
        // Only svcunit's own records: both fields, so another program's SVCUNIT_UUID cannot pass as one.
        let uuidMatch = try JournalMatch(field: uuidField, value: uuid.rawValue)
        var groups: [[JournalMatch]] = []
        for result in [Result.ok, .fail, .restart] {
            groups.append([uuidMatch, try JournalMatch(field: resultField, value: result.rawValue)])
        }
        try await reader.setFilter(JournalFilter(anyOf: groups))
        guard let since else { return try await reader.tail(limit).compactMap(HealthRecord.init(entry:)) }
        try await reader.seek(toRealtime: since)
        var records: [HealthRecord] = []
        while true {
            let batch = try await reader.readForward(limit: 1024)
            if batch.isEmpty { break }
            records += batch.compactMap(HealthRecord.init(entry:))
            if records.count > 4 * limit { records.removeFirst(records.count - limit) }
        }
        return Array(records.suffix(limit))
    }

}

/// Three decimals at most, without trailing zeros: `12.5`, `0.431`.
func format3(_ value: Double) -> String {
    let rounded = (value * 1000).rounded() / 1000
    return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
}

/// What the check keeps between its oneshot runs: the run it counted for and the failures in a row.
///
/// Not obvious, and chosen over re-reading the journal: a small file in `$XDG_RUNTIME_DIR/svcunit/
/// health/` (tmpfs: no disk writes every few seconds, gone at logout or reboot). The journal is
/// written asynchronously, may be rate-limited or vacuumed, and reading it back costs the check more
/// than the check itself; the file costs one read and one atomic rename. The count belongs to one run
/// of the service (its `InvocationID`): a new run (any restart) starts again from zero.
struct HealthState: Equatable {
    var invocation: String?
    var consecutiveFailures = 0
    var healthRestarts = 0

    static func directory(environment: [String: String]) -> String? {
        guard let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") else { return nil }
        return runtime + "/svcunit/health"
    }

    static func file(_ uuid: ServiceUUID, environment: [String: String]) -> String? {
        directory(environment: environment).map { "\($0)/\(uuid.rawValue).json" }
    }

    static func load(_ path: String) -> HealthState {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)), let value = try? JSONText.parse(data),
              case .object(let o) = value else { return HealthState() }
        var state = HealthState()
        if case .string(let s)? = o["invocation"] { state.invocation = s }
        if case .int(let n)? = o["consecutive_failures"] { state.consecutiveFailures = Int(clamping: n) }
        if case .int(let n)? = o["health_restarts"] { state.healthRestarts = Int(clamping: n) }
        return state
    }

    func save(_ path: String) throws {
        let directory = PathText.directory(of: path)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var o = JSONObject()
        o["invocation"] = invocation.map(JSONValue.string) ?? .null
        o["consecutive_failures"] = .int(Int64(consecutiveFailures))
        o["health_restarts"] = .int(Int64(healthRestarts))
        try Data(utf8: JSONText.formatCompact(.object(o))).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// What one run of the check did.
public enum HealthCheckOutcome: Sendable, Equatable {
    /// The service is not supervised, not running as a whole (starting, stopping, failed) or still in
    /// its grace period: nothing was checked or written.
    case skipped(String)
    /// The check ran and wrote these records (a check, then possibly a restart).
    case checked([HealthRecord])
}

extension SystemdServices {
    /// One health check of a supervised service (what its check unit runs): probes the endpoint with
    /// the service's own monitor (the code `status` uses), journals one record, and after the configured
    /// number of failures in a row restarts the service's unit through systemd (`RestartUnit`) and
    /// journals that too, or only records it (`on_unhealthy: record`).
    ///
    /// Not obvious: the check never writes the service's document (a user command may be changing it),
    /// and a service that is not `active` (auto-restart, stopping) is not probed: systemd is already on it.
    public func checkHealth(_ uuid: ServiceUUID, environment: [String: String]) async throws -> HealthCheckOutcome {
        let service = try self.service(uuid)
        let document = service.document
        guard let supervision = document.healthSupervision else { return .skipped("\(document.label) is not supervised") }
        guard let endpoint = document.endpoint, let monitor = endpoint.monitor else {
            return .skipped("\(document.label) has no endpoint monitor")
        }
        let unit = try await provisioner.unitStatus(uuid)
        guard unit.isLoaded, unit.activeState == .active else {
            return .skipped("\(unit.name) is \(unit.activeState.rawValue)/\(unit.subState)")
        }
        let now = WallClock.microseconds()
        if let since = unit.activeEnterTimestamp, supervision.graceSeconds > 0,
           now < since + UInt64(supervision.graceSeconds * 1_000_000) {
            return .skipped("\(document.label) is in its grace period")
        }

        let began = ContinuousClock.now
        let (endpointState, message) = await lifecycle.healthChecker.checkEndpoint(endpoint, monitor: monitor)
        let latency = began.duration(to: .now)
        let passed = endpointState == .active

        let stateFile = HealthState.file(uuid, environment: environment) ?? store.directory(for: uuid) + "/health-state.json"
        var state = HealthState.load(stateFile)
        if state.invocation != unit.invocationID {
            state.invocation = unit.invocationID
            state.consecutiveFailures = 0
        }
        state.consecutiveFailures = passed ? 0 : state.consecutiveFailures + 1
        let unhealthy = state.consecutiveFailures >= supervision.unhealthyAfter
        let latencyMs = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
        let error = passed ? nil : (message.isEmpty ? "endpoint is \(endpointState.rawValue)" : message)
        let what = "health check of \(document.label)"
        var text: String
        if passed {
            text = "\(what) passed (\(format3(latencyMs)) ms)"
        } else {
            text = "\(what) failed (\(state.consecutiveFailures) of \(supervision.unhealthyAfter)): \(error ?? "")"
            if unhealthy { text += supervision.action == .restart ? "; unhealthy, restarting \(unit.name)" : "; unhealthy (recorded, not restarted)" }
        }
        var records = [HealthRecord(time: now, result: passed ? .ok : .fail,
                                    state: passed ? .healthy : unhealthy ? .unhealthy : .failing,
                                    latencyMilliseconds: latencyMs, error: error, consecutiveFailures: state.consecutiveFailures,
                                    threshold: supervision.unhealthyAfter, healthRestarts: state.healthRestarts,
                                    unit: unit.name.rawValue, invocation: unit.invocationID, message: text)]
        // A journal that cannot take the record must not keep an unhealthy service from its restart:
        // the first such error is thrown once everything else is done.
        var journalError: JournalError?
        func write(_ record: HealthRecord) {
            do { try JournalWriter.send(record.journalFields(uuid: uuid)) } catch { journalError = journalError ?? error }
        }
        write(records[0])

        if unhealthy, supervision.action == .restart {
            // Enqueued, not waited for: the restart's stop and start (until READY) are systemd's job, and
            // the timer, bound to the unit, is restarted with it.
            do { _ = try await manager.restartUnit(unit.name) } catch {
                // The fail record is written; say whose restart failed and where to look (the check's
                // own output goes to the journal under svcunit-health).
                try? state.save(stateFile)
                var failed = error
                failed.message = "\(document.label) is unhealthy, but restarting \(unit.name) failed: \(error.message)"
                failed.hint = error.hint ?? "see systemctl --user status \(unit.name); svcunit restart \(uuid) restarts it by hand"
                throw failed
            }
            state.healthRestarts += 1
            state.consecutiveFailures = 0
            state.invocation = nil
            let restart = HealthRecord(
                time: WallClock.microseconds(), result: .restart, state: .unhealthy, error: error,
                consecutiveFailures: supervision.unhealthyAfter, threshold: supervision.unhealthyAfter,
                healthRestarts: state.healthRestarts, unit: unit.name.rawValue, invocation: unit.invocationID,
                message: "restarted \(unit.name) of \(document.label): unhealthy after \(supervision.unhealthyAfter) failed health check"
                    + "\(supervision.unhealthyAfter == 1 ? "" : "s") in a row (last: \(error ?? "failed"))")
            write(restart)
            records.append(restart)
        }
        try state.save(stateFile)
        if let journalError { throw journalError }
        return .checked(records)
    }

    /// The health supervision part of a report (see `StatusDerivation.health`); nil when the service
    /// is not supervised. A journal that cannot be read shows as no records.
    public func healthReport(_ document: ServiceDocument, unit: UnitStatus?) async -> HealthReport? {
        guard let supervision = document.healthSupervision else { return nil }
        let records = (try? await HealthRecord.history(document.uuid, limit: HealthReport.recordsRead)) ?? []
        return StatusDerivation.health(supervision: supervision, records: records, unit: unit)
    }

    /// Removes the check's state file of a deleted service (best effort; it lives in tmpfs anyway).
    public static func forgetHealthState(_ uuid: ServiceUUID, environment: [String: String]) {
        if let file = HealthState.file(uuid, environment: environment) { try? FileManager.default.removeItem(atPath: file) }
    }
}

/// A service's health supervision as `status` and `list` report it.
public struct HealthReport: Sendable, Equatable {
    /// How many of the last records a report reads.
    public static let recordsRead = 50
    /// How many transitions it shows.
    public static let transitionsShown = 5

    /// The supervision state now.
    public enum State: String, Sendable, Equatable {
        case healthy, failing, unhealthy
        /// Not checked in the current run yet (just started, restarted, in its grace period).
        case pending
        /// The service does not run, so nothing is checked.
        case notRunning = "not-running"
    }

    public var supervision: HealthSupervision
    public var state: State
    public var lastCheck: HealthRecord?
    /// Failed checks in a row in the current run.
    public var consecutiveFailures: Int
    /// Restarts svcunit made because the service was unhealthy.
    public var healthRestarts: Int
    /// The last records that changed the state (and every restart), oldest first.
    public var transitions: [HealthRecord]

    public var json: JSONValue {
        var o = JSONObject()
        o["interval_seconds"] = .number(supervision.intervalSeconds)
        o["unhealthy_after"] = .int(Int64(supervision.unhealthyAfter))
        o["on_unhealthy"] = .string(supervision.action.rawValue)
        o["grace_seconds"] = .number(supervision.graceSeconds)
        o["state"] = .string(state.rawValue)
        o["last_check"] = lastCheck?.json ?? .null
        o["consecutive_failures"] = .int(Int64(consecutiveFailures))
        o["health_restarts"] = .int(Int64(healthRestarts))
        o["transitions"] = .array(transitions.map(\.json))
        return .object(o)
    }
}

extension StatusDerivation {
    /// The supervision state from the service's last health records (oldest first) and its unit: the
    /// one rule `status`, `list` and `health` use.
    ///
    /// Only records of the unit's current run (its `InvocationID`) decide the state: after a restart
    /// the old run's failures are history (`transitions`), and until the first check of the new run
    /// the state is `pending`.
    public static func health(supervision: HealthSupervision, records: [HealthRecord], unit: UnitStatus?) -> HealthReport {
        health(supervision: supervision, records: records, running: unit.map { $0.isLoaded && $0.activeState == .active } ?? false,
               invocation: unit?.invocationID, invocationKnown: true)
    }

    /// The same rule where the unit's run is not known (`list` sees only a row of a batch listing):
    /// then the newest record stands for the current run.
    public static func health(supervision: HealthSupervision, records: [HealthRecord], running: Bool, invocation: String?,
                              invocationKnown: Bool) -> HealthReport {
        let checks = records.filter { $0.result != .restart }
        let current = checks.last.flatMap { last in !invocationKnown || last.invocation == nil || last.invocation == invocation ? last : nil }
        let state: HealthReport.State
        if !running {
            state = .notRunning
        } else if let current, records.last?.result != .restart || records.last?.invocation != current.invocation {
            state = HealthReport.State(rawValue: current.state.rawValue) ?? .pending
        } else {
            state = .pending
        }
        var transitions: [HealthRecord] = []
        var previous: HealthRecord?
        for record in records {
            if record.result == .restart || previous == nil || previous?.state != record.state || previous?.invocation != record.invocation {
                transitions.append(record)
            }
            previous = record
        }
        return HealthReport(supervision: supervision, state: state, lastCheck: checks.last,
                            consecutiveFailures: state == .failing || state == .unhealthy ? current?.consecutiveFailures ?? 0 : 0,
                            healthRestarts: records.last?.healthRestarts ?? 0,
                            transitions: Array(transitions.suffix(HealthReport.transitionsShown)))
    }
}
