public import ArgumentParser
import Foundation
import ServiceHealth
import ServiceModel
import SystemdManager
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit list [--json] [--running]`: every stored service with its state and endpoint.
    ///
    /// Not obvious: the state of all units comes from ONE `ListUnitsByPatterns` call covering both the
    /// transient `svcunit-<uuid>.service` and the persistent `svcunit@<uuid>.service` units (a unit not
    /// listed is inactive), read with the same rules as `status` (`ServiceUnit.standing`,
    /// `StatusDerivation.state`); only active units' endpoints are probed, concurrently and with
    /// short timeouts; so `list` stays fast with many services, and works (state `unknown`, one
    /// warning) when systemd is unreachable.
    public struct List: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "List stored services with their state and endpoint.",
            discussion: """
                A stored file that cannot be read shows as a row with state "invalid" and the error \
                (with --running, as a warning on stderr); an entry that is not a stored service (a \
                symbolic link, a directory without service.json) is named in a warning on stderr. \
                --json prints an array of objects with uuid, name, type, flavor, state, unit, \
                active_state, sub_state, endpoint (uri, protocol, healthy, error) and error. An enabled \
                service (svcunit enable) is read from its svcunit@<uuid>.service unit.

                EXAMPLES
                  svcunit list
                  svcunit list --running --json
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Flag(help: "Print a JSON array.")
        public var json = false

        @Flag(help: "Only services whose unit is active.")
        public var running = false

        public init() {}

        /// How long an endpoint probe may take in `list`.
        static let probeTimeout = 2

        /// One row of the table.
        struct Row: Sendable {
            var uuid: ServiceUUID
            var document: ServiceDocument?
            var error: String?
            var state = "unknown"
            var unit: String?
            var activeState: ActiveState?
            var subState: SubState?
            var healthy: Bool?
            var healthError: String?
        }

        public func run() async throws {
            let context = CommandContext(global)
            var rows: [Row] = []
            if let store = try context.existingStore() {
                let (services, skipped) = try store.scan()
                // Nothing stored is hidden: what is not a service is named, with what to do about it.
                for entry in skipped {
                    Output.warning("skipping \(entry.path): \(entry.reason); "
                                   + (entry.removable ? "`svcunit delete --force \(entry.uuid)` removes it" : "svcunit never follows or removes it"))
                }
                for uuid in services {
                    do {
                        let data = try store.read(uuid)
                        let document: ServiceDocument
                        do { document = try context.registry.decode(data: data) } catch { throw error.inFile(store.file(for: uuid)) }
                        guard document.uuid == uuid else {
                            throw ServiceModelError(.invalidField, "\(store.file(for: uuid)) holds service \(document.uuid), not \(uuid)")
                        }
                        rows.append(Row(uuid: uuid, document: document))
                    } catch {
                        rows.append(Row(uuid: uuid, error: ExitCodes.oneLine(error), state: "invalid"))
                    }
                }
            }
            if rows.contains(where: { $0.document != nil }) {
                await Self.observe(&rows)
            }
            if running {
                // An entry whose document does not load cannot be told running here: say so, not nothing.
                for row in rows where row.document == nil {
                    Output.warning("skipping \(row.uuid): \(row.error ?? "its document cannot be loaded"); "
                                   + "`svcunit delete --force \(row.uuid)` removes it once no unit of it runs")
                }
                rows = rows.filter { $0.state == ServiceState.active.rawValue }
            }
            if json { Output.json(.array(rows.map(Self.json))) } else { print(Self.table(rows), terminator: "") }
        }

        /// Fills states from one ListUnitsByPatterns call, then probes active endpoints concurrently.
        static func observe(_ rows: inout [Row]) async {
            let units: [String: UnitListEntry]
            do {
                let manager = try await SystemdManager.connectUser()
                let listed = try await manager.listUnitsByPatterns(patterns: ["svcunit-*.service", "svcunit@*.service"])
                units = Dictionary(listed.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            } catch {
                Output.warning("cannot read service states from systemd: \(ExitCodes.oneLine(error)); states are shown as unknown")
                return
            }
            for index in rows.indices where rows[index].document != nil {
                let unit = ServiceUnit(rows[index].uuid)
                let entry = ServiceUnit.standing(transient: units[unit.transientUnit.rawValue], instance: units[unit.templateInstance.rawValue],
                                                 instanceEnabled: false)
                rows[index].unit = entry?.name ?? unit.transientUnit.rawValue
                rows[index].activeState = entry?.activeState ?? .inactive
                rows[index].subState = entry?.subState ?? .dead
                rows[index].state = StatusDerivation.state(of: entry).rawValue
            }
            let checker = ProbingHealthChecker(tcpTimeout: .seconds(probeTimeout))
            let probes: [(Int, ServiceEndpoint, HealthMonitorSpec)] = rows.indices.compactMap { index in
                guard rows[index].state == ServiceState.active.rawValue, let endpoint = rows[index].document?.endpoint,
                      endpoint.status.uri != nil, var monitor = endpoint.monitor else { return nil }
                if case .http(var config) = monitor.config {
                    config.httpTimeout = min(config.httpTimeout, probeTimeout)
                    monitor.config = .http(config)
                }
                return (index, endpoint, monitor)
            }
            let results = await withTaskGroup(of: (Int, ServiceState, String).self) { group in
                for (index, endpoint, monitor) in probes {
                    group.addTask {
                        let (state, message) = await checker.checkEndpoint(endpoint, monitor: monitor)
                        return (index, state, message)
                    }
                }
                var out: [(Int, ServiceState, String)] = []
                for await result in group { out.append(result) }
                return out
            }
            for (index, state, message) in results {
                rows[index].healthy = state == .active
                if state != .active { rows[index].healthError = message.isEmpty ? "endpoint is \(state)" : message }
            }
        }

        static func json(_ row: Row) -> JSONValue {
            var o = JSONObject()
            o["uuid"] = .string(row.uuid.rawValue)
            o["name"] = row.document.map { .string($0.config.name) } ?? .null
            o["type"] = row.document.map { .string($0.serviceType.type) } ?? .null
            o["flavor"] = row.document.map { .string($0.serviceType.flavor) } ?? .null
            o["state"] = .string(row.state)
            o["unit"] = row.unit.map(JSONValue.string) ?? .null
            o["active_state"] = row.activeState.map { .string($0.rawValue) } ?? .null
            o["sub_state"] = row.subState.map { .string($0.rawValue) } ?? .null
            if let endpoint = row.document?.endpoint {
                var e = JSONObject()
                e["uri"] = endpoint.status.uri.map(JSONValue.string) ?? .null
                e["protocol"] = .string(endpoint.config.protocol.rawValue)
                e["healthy"] = row.healthy.map(JSONValue.bool) ?? .null
                e["error"] = row.healthError.map(JSONValue.string) ?? .null
                o["endpoint"] = .object(e)
            } else {
                o["endpoint"] = .null
            }
            o["error"] = row.error.map(JSONValue.string) ?? .null
            return .object(o)
        }

        static func table(_ rows: [Row]) -> String {
            if rows.isEmpty { return "no services\n" }
            let cells = rows.map { row -> [String] in
                guard let document = row.document else {
                    return [row.uuid.rawValue, "-", "-", Output.state(row.state), Output.escaped(row.error ?? "")]
                }
                var endpoint = "-"
                if let e = document.endpoint {
                    endpoint = Output.escaped(row.state == ServiceState.active.rawValue ? (e.status.uri ?? "(\(e.config.protocol))") : "(\(e.config.protocol)\(e.config.port.map { " :\($0)" } ?? ""))")
                    switch row.healthy {
                    case true?: endpoint += " " + Output.state("healthy")
                    case false?: endpoint += " " + Output.state("unhealthy") + (row.healthError.map { ": \(Output.escaped($0))" } ?? "")
                    case nil: break
                    }
                }
                // Document values are escaped cell by cell (`Output.escaped`); state words are painted.
                return [row.uuid.rawValue, Output.escaped(document.config.name),
                        Output.escaped("\(document.serviceType.type)/\(document.serviceType.flavor)"),
                        Output.state(row.state), endpoint]
            }
            return Output.table(header: ["UUID", "NAME", "TYPE", "STATE", "ENDPOINT"], rows: cells)
        }
    }
}
