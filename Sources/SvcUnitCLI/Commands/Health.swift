public import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdManager
import SystemdProvisioning
import OSCalls

extension SvcUnit {
    /// `svcunit health SERVICE [-n N] [--since T] [--json]`: a supervised service's health history,
    /// read from the journal records its checks wrote (issue 13).
    public struct Health: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "health",
            _superCommandName: SvcUnit.toolName,
            abstract: "Show a service's health check history from the journal.",
            discussion: """
                Each check of a supervised service (create/set --health-interval) writes one journal \
                record: its result (ok or fail), latency, error and the failures in a row; a restart \
                svcunit made because the service was unhealthy is a record of its own (restart). \
                Restarts after a crash are systemd's and are not listed here. --json prints JSON \
                Lines with time, time_usec, result, state, latency_ms, error, consecutive_failures, \
                unhealthy_after, health_restarts, unit and message. The records carry journal fields \
                a script can match, e.g. journalctl SVCUNIT_UUID=<uuid> SVCUNIT_HEALTH=restart.

                EXAMPLES
                  svcunit health web
                  svcunit health web -n 100 --since -1h
                  svcunit health web --json | jq -r 'select(.result == "fail") | .error'
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("The service: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var service: String

        @Option(name: [.customShort("n"), .long], parsing: .unconditional, help: "Show the last N records (default 20).")
        public var lines: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("Only records at or after TIME (may start with -, e.g. -10m).", valueName: "time"))
        public var since: TimeValue?

        @Flag(help: "Print JSON Lines.")
        public var json = false

        public init() {}

        public func validate() throws {
            try checkingValues { _ = try checked() }
        }

        /// `-n` and `--since` (microseconds), checked.
        func checked() throws(CLIError) -> (count: Int, since: UInt64?) {
            let count = lines ?? 20
            guard count > 0 else { throw CLIError.usage("-n \(count) must be at least 1") }
            return (count, try since.map { value throws(CLIError) in try value.microseconds("--since") })
        }

        public func run() async throws {
            let (count, since) = try checked()
            let context = CommandContext(global)
            let target = try context.lookup().resolve(service)
            // The journal alone: no user manager needed (the history of a service on a machine whose
            // manager is gone can still be read).
            let document = try context.store(create: false).document(target.uuid, with: context.registry)
            let records = try await HealthRecord.history(target.uuid, limit: count, since: since)
            if json {
                for record in records { Output.jsonLine(record.json) }
                return
            }
            if document.healthSupervision == nil {
                Output.note("\(document.label) is not supervised (create/set --health-interval turns it on)")
            }
            if records.isEmpty {
                Output.note("no health records for \(document.label)\(since == nil ? "" : " in that range")")
                return
            }
            for record in records { print(Self.line(record)) }
        }

        /// `2026-11-30 06:10:01  fail     2/3  1.2 ms  HTTP 500 …`, values escaped.
        static func line(_ record: HealthRecord) -> String {
            let result = record.result.rawValue + String(repeating: " ", count: max(0, 7 - record.result.rawValue.count))
            let count = "\(record.consecutiveFailures)/\(record.threshold)"
            var text = "\(Output.localTime(microseconds: record.time))  \(Output.state(result))  \(count)"
            if let latency = record.latencyMilliseconds { text += "  \(StatusFacts.milliseconds(latency))" }
            switch record.result {
            case .ok: break
            case .fail: text += "  " + Output.escaped(record.error ?? "") + (record.state == .unhealthy ? " (unhealthy)" : "")
            case .restart: text += "  " + Output.escaped(record.message)
            }
            return text
        }
    }

    /// `svcunit health-check --root ROOT UUID`: one health check, as a service's check unit runs it.
    /// Hidden: users read the results with `status` and `health`.
    public struct HealthCheck: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: HealthUnits.checkCommand,
            _superCommandName: SvcUnit.toolName,
            abstract: "Run one health check of a supervised service (what its check unit runs).",
            shouldDisplay: false
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("The service's UUID.", valueName: "uuid"))
        public var uuid: String

        public init() {}

        public func run() async throws {
            guard let uuid = ServiceUUID(rawValue: uuid.lowercased()) else {
                throw CLIError.usage("\(self.uuid) is not a service UUID")
            }
            let context = CommandContext(global)
            let systemd = try await context.services(store: try context.store(create: false))
            // The record is in the journal; the unit's own output says only why nothing was checked.
            if case .skipped(let why) = try await systemd.checkHealth(uuid, environment: CurrentProcess.environmentVariables) {
                print("skipped: \(why)")
            }
        }
    }
}

extension StatusFacts {
    /// `1.2 ms`, `431 µs`.
    static func milliseconds(_ value: Double) -> String {
        value < 1 ? "\(Int((value * 1000).rounded())) µs" : "\((value * 10).rounded() / 10) ms"
    }

    /// The `status` lines of a supervised service: its settings, the state, the last check and the
    /// last transitions.
    static func healthLines(_ report: HealthReport) -> [(String, String)] {
        var lines: [(String, String)] = [("supervision", report.supervision.summary)]
        var state = Output.state(report.state == .healthy ? "healthy" : report.state == .notRunning ? "inactive" : report.state.rawValue)
        if report.state == .notRunning { state = "not checked (the service is not running)" }
        if report.state == .pending { state = "pending (no check of this run yet)" }
        if report.consecutiveFailures > 0 {
            state += " (\(report.consecutiveFailures) of \(report.supervision.unhealthyAfter) checks failed in a row)"
        }
        lines.append(("health", state))
        if let last = report.lastCheck {
            var value = "\(Output.localTime(microseconds: last.time)) \(last.result.rawValue)"
            if let latency = last.latencyMilliseconds { value += " in \(milliseconds(latency))" }
            if let error = last.error { value += ": " + Output.escaped(error) }
            lines.append(("last check", value))
        } else {
            lines.append(("last check", "none yet"))
        }
        lines.append(("health restarts", String(report.healthRestarts)))
        if !report.transitions.isEmpty {
            // Newest first, on one line: the field list has one value per name.
            lines.append(("transitions", report.transitions.reversed().map { record in
                "\(Output.localTime(microseconds: record.time)) \(record.result == .restart ? "restarted (unhealthy)" : record.state.rawValue)"
            }.joined(separator: "; ")))
        }
        return lines
    }
}

extension SvcUnit.List {
    /// The health state of each running supervised service, from its newest journal record (one
    /// small read per supervised service; none for the others): `list` shows an unhealthy one as
    /// `unhealthy`, through the same rule as `status` (`StatusDerivation.health`).
    static func observeHealth(_ rows: inout [Row]) async {
        for index in rows.indices where rows[index].summary?.supervised == true {
            // Not running: nothing to read (and no document: `list` reads it only for running rows).
            guard rows[index].state == ServiceState.active.rawValue else {
                rows[index].health = .notRunning
                continue
            }
            guard let supervision = rows[index].document?.healthSupervision,
                  let records = try? await HealthRecord.history(rows[index].uuid, limit: 1) else { continue }
            rows[index].health = StatusDerivation.health(supervision: supervision, records: records, running: true,
                                                         invocation: nil, invocationKnown: false).state
        }
    }
}
