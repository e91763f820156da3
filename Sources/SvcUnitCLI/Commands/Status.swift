public import ArgumentParser
import OSCalls
import FoundationEssentials
import ServiceModel
import SystemdManager
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit status SERVICE [--json]`: what svcunit wants, what systemd reports, and how the endpoint answers.
    ///
    /// Not obvious: status *observes* (it reads the unit and probes the endpoint now) and records
    /// the observation in service.json, so a later `inspect` of the file shows the same states.
    public struct Status: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "status",
            _superCommandName: SvcUnit.toolName,
            abstract: "Show a service's state, unit, endpoint health and last run.",
            discussion: """
                --json prints one object with the fields uuid, name, type, flavor, admin_state, \
                state, last_state, error, unit, active_state, sub_state, main_pid, restarts, \
                active_since, uptime_seconds, memory_bytes, endpoint (uri, protocol, state, healthy, \
                error, monitor), last_run, health (null unless supervised: interval_seconds, \
                unhealthy_after, on_unhealthy, grace_seconds, state, last_check, consecutive_failures, \
                health_restarts, transitions), and the whole document under service. error is what is \
                wrong now (null when nothing is); how an earlier run ended is in last_run, with its \
                time; the document keeps ZenML's last_error (the last error ever recorded).

                EXAMPLES
                  svcunit status web
                  svcunit status 3f2a --json | jq .endpoint.healthy
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("The service: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var service: String

        @Flag(help: "Print one JSON object.")
        public var json = false

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            let target = try context.lookup().resolve(service)
            let systemd = try await context.services(store: try context.store(create: false))
            let report = try await systemd.status(target.uuid)
            var facts = StatusFacts(report, now: WallClock.microseconds())
            facts.health = await systemd.healthReport(report.document, unit: report.unit)
            if json { Output.json(facts.json) } else { print(facts.text, terminator: "") }
        }
    }
}

/// The facts `status` shows, computed once for both the text and the JSON form.
struct StatusFacts {
    let report: SystemdServices.Report
    let unit: UnitStatus?
    let uptime: Double?
    /// The health supervision (issue 13), when the service has it.
    var health: HealthReport?

    init(_ report: SystemdServices.Report, now: UInt64) {
        self.report = report
        unit = report.unit.flatMap { $0.isLoaded ? $0 : nil }
        if let unit, unit.activeState == .active, let since = unit.activeEnterTimestamp, now >= since {
            uptime = Double(now - since) / 1e6
        } else {
            uptime = nil
        }
    }

    var document: ServiceDocument { report.document }

    /// True/false when the endpoint has a monitor and the service runs; nil otherwise.
    var healthy: Bool? {
        guard let endpoint = document.endpoint, endpoint.monitor != nil, document.status.state == .active else { return nil }
        return endpoint.status.state == .active
    }

    /// What is wrong with the service now: the reason of this observation while it is in the error
    /// state, else nil. Not the document's `last_error`, which ZenML keeps after the service recovers.
    var error: String? {
        guard document.status.state == .error, !report.reason.isEmpty else { return nil }
        return report.reason
    }

    /// What is wrong with the endpoint now: the probe's error when this observation found it unhealthy.
    var endpointError: String? {
        guard healthy == false, let endpoint = document.endpoint else { return nil }
        return endpoint.status.lastError.isEmpty ? "endpoint is \(endpoint.status.state)" : endpoint.status.lastError
    }

    var json: JSONValue {
        var o = JSONObject()
        o["uuid"] = .string(document.uuid.rawValue)
        o["name"] = .string(document.config.name)
        o["type"] = .string(document.serviceType.type)
        o["flavor"] = .string(document.serviceType.flavor)
        // The code it runs: a Python service's class path, or svcunit's own class.
        o["class"] = .string(document.typeName ?? document.kind.typeName)
        o["admin_state"] = .string(document.adminState.rawValue)
        o["state"] = .string(document.status.state.rawValue)
        o["last_state"] = .string(document.status.lastState.rawValue)
        o["error"] = error.map(JSONValue.string) ?? .null
        o["unit"] = .string(report.unitName.rawValue)
        o["active_state"] = .string(unit?.activeState.rawValue ?? "inactive")
        o["sub_state"] = .string((unit?.subState ?? .dead).rawValue)
        o["main_pid"] = unit.flatMap { $0.mainPID == 0 ? nil : JSONValue.int(Int64($0.mainPID)) } ?? .null
        o["restarts"] = .int(Int64(unit?.nRestarts ?? 0))
        o["active_since"] = uptime != nil ? unit?.activeEnterTimestamp.map { .string(Output.isoTime(microseconds: $0)) } ?? .null : .null
        o["uptime_seconds"] = uptime.map { .number(($0 * 1000).rounded() / 1000) } ?? .null
        o["memory_bytes"] = unit?.memoryCurrent.map { .int(Int64(clamping: $0)) } ?? .null
        if let endpoint = document.endpoint {
            var e = JSONObject()
            e["uri"] = endpoint.status.uri.map(JSONValue.string) ?? .null
            e["protocol"] = .string(endpoint.config.protocol.rawValue)
            e["port"] = endpoint.status.port.map { .int(Int64($0.value)) } ?? .null
            e["state"] = .string(endpoint.status.state.rawValue)
            e["healthy"] = healthy.map(JSONValue.bool) ?? .null
            e["error"] = endpointError.map(JSONValue.string) ?? .null
            e["monitor"] = endpoint.monitor.map { .string($0.summary) } ?? .null
            o["endpoint"] = .object(e)
        } else {
            o["endpoint"] = .null
        }
        o["last_run"] = document.status.lastRun?.json ?? .null
        o["health"] = health?.json ?? .null
        o["service"] = document.json
        return .object(o)
    }

    var text: String {
        var lines: [(String, String)] = []
        // Values from the document or the service's output are escaped (`Output.escaped`) one by
        // one: the state words are painted, so the lines cannot be escaped whole.
        lines.append(("service", Output.escaped("\(document.config.name) (\(document.uuid))")))
        lines.append(("type", Output.escaped("\(document.serviceType.type)/\(document.serviceType.flavor)")))
        lines.append(("admin state", document.adminState.rawValue))
        lines.append(("state", Output.state(document.status.state.rawValue) + " (last: \(document.status.lastState))"))
        var unitLine = report.unitName.rawValue
        if let unit { unitLine += " (\(unit.activeState.rawValue)/\(unit.subState))" } else { unitLine += " (not loaded)" }
        lines.append(("unit", unitLine))
        if let unit, unit.mainPID != 0 { lines.append(("main pid", String(unit.mainPID))) }
        if let endpoint = document.endpoint {
            var value = Output.escaped(endpoint.status.uri ?? "not started (\(endpoint.config.protocol))")
            switch healthy {
            case true?: value += " " + Output.state("healthy")
            case false?: value += " " + Output.state("unhealthy") + (endpointError.map { ": \(Output.escaped($0))" } ?? "")
            case nil: value += endpoint.monitor == nil ? " (no health monitor)" : ""
            }
            lines.append(("endpoint", value))
            if let monitor = endpoint.monitor { lines.append(("health check", Output.escaped(monitor.summary))) }
        }
        if let health { lines += Self.healthLines(health) }
        if let error { lines.append(("error", Output.escaped(error.split(whereSeparator: \.isNewline).joined(separator: " | ")))) }
        if let unit { lines.append(("restarts", String(unit.nRestarts))) }
        if let uptime, let since = unit?.activeEnterTimestamp {
            lines.append(("uptime", "\(Output.duration(seconds: uptime)) (since \(Output.localTime(microseconds: since)))"))
        }
        if let memory = unit?.memoryCurrent { lines.append(("memory", Output.bytes(memory))) }
        if let run = document.status.lastRun {
            var value = Output.escaped(run.summary)
            if let at = run.finishedAt { value += " at \(Output.localTime(microseconds: UInt64(max(0, at) * 1e6)))" }
            lines.append(("last run", value))
        }
        return Output.fields(lines)
    }
}
