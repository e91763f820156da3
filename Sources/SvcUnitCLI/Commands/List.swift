public import ArgumentParser
import FoundationEssentials
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
            commandName: "list",
            _superCommandName: SvcUnit.toolName,
            abstract: "List stored services with their state and endpoint.",
            discussion: """
                A stored file that cannot be read shows as a row with state "invalid" and the error \
                (with --running, as a warning on stderr); an entry that is not a stored service (a \
                symbolic link, a directory without service.json) is named in a warning on stderr. \
                "orphaned" when a unit still runs it (or runs this store's file for a UUID whose \
                service.json is gone): stop it with `svcunit stop UUID`. "foreign": the unit named \
                for the service runs another store's service.json (unit names are per user). \
                --json prints an array of objects with uuid, name, type, flavor, state, unit, \
                active_state, sub_state, endpoint (uri, protocol, healthy, error), health and error. An \
                enabled service (svcunit enable) is read from its svcunit@<uuid>.service unit. A running \
                service under health supervision whose last check found it unhealthy shows the state \
                "unhealthy" (JSON: "health": "unhealthy"; state stays ZenML's).

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
        /// How many endpoint probes `list` runs at once.
        static let probeConcurrency = 32

        /// One row of the table.
        struct Row: Sendable {
            /// A unit of this store runs for this UUID, but its document cannot be used (`problem`).
            mutating func markOrphaned(_ entry: UnitListEntry, problem: String) {
                state = List.orphaned
                unit = entry.name
                activeState = entry.activeState
                subState = entry.subState
                error = "\(problem); its unit \(entry.name) is \(entry.activeState.rawValue): stop it with `svcunit stop \(uuid)`"
            }

            /// The unit named for the service runs something else (`why`).
            mutating func markForeign(_ unitName: String?, _ why: String) {
                state = List.foreign
                unit = unitName
                error = why
            }

            var uuid: ServiceUUID
            /// What the table shows of the document; nil when it cannot be used (`error`).
            var summary: ServiceSummary?
            /// The whole document, read only where a running service needs it (its probe, its
            /// health record) or where the row was decoded anyway.
            var document: ServiceDocument?
            var error: String?
            var state = "unknown"
            var unit: String?
            var activeState: ActiveState?
            var subState: SubState?
            var healthy: Bool?
            var healthError: String?
            /// A supervised service's health state (issue 13), from its last check's record.
            var health: HealthReport.State?
        }

        public func run() async throws {
            let context = CommandContext(global)
            var rows: [Row] = []
            if let store = try context.existingStore() {
                // The manager is asked while the files are read: the two waits overlap.
                async let units = Self.readUnits(store: store)
                // Made before the scan: it keeps only files that had not changed for a while by then.
                var cache = StoredSummaries.cache(for: store)
                let (services, skipped) = try store.scanFiles()
                // Nothing stored is hidden: what is not a service is named, with what to do about it.
                for entry in skipped {
                    Output.warning("skipping \(entry.path): \(entry.reason); "
                                   + (entry.removable ? "`svcunit delete --force \(entry.uuid)` removes it" : "svcunit never follows or removes it"))
                }
                rows = await Self.load(services, store: store, registry: context.registry, cache: &cache)
                cache.save(listed: services)
                await Self.observe(&rows, units: await units, store: store, registry: context.registry)
            }
            if running {
                // An entry whose document does not load cannot be told running here: say so, not nothing.
                for row in rows where row.summary == nil {
                    Output.warning("skipping \(row.uuid): \(row.error ?? "its document cannot be loaded"); "
                                   + "`svcunit delete --force \(row.uuid)` removes it once no unit of it runs")
                }
                rows = rows.filter { $0.state == ServiceState.active.rawValue }
            }
            if json { Output.json(.array(rows.map(Self.json))) } else { print(Self.table(rows), terminator: "") }
        }

        /// The rows of `files`, in order. A file unchanged since the last listing takes its row from
        /// `cache`; the others are read and decoded in full (a broken one is an `invalid` row with the
        /// error), in a few concurrent slices so that decoding many documents uses every core, and
        /// their outcomes are recorded in `cache`.
        static func load(_ files: [ServiceStore.StoredFile], store: ServiceStore, registry: ServiceRegistry,
                         cache: inout ServiceSummaryCache) async -> [Row] {
            var rows: [Row?] = files.map { file in
                cache.outcome(for: file.uuid, identity: file.identity).map { outcome in
                    switch outcome {
                    case .success(let summary): Row(uuid: file.uuid, summary: summary)
                    case .failure(let error): Row(uuid: file.uuid, error: error.message, state: "invalid")
                    }
                }
            }
            let missed = files.indices.filter { rows[$0] == nil }
            let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, missed.count / 64))
            let size = (missed.count + slices - 1) / max(slices, 1)
            // One task per slice, awaited in order (as `Batch`: no results collected out of a group).
            let tasks = (0..<slices).map { slice in
                let part = Array(missed[min(slice * size, missed.count)..<min((slice + 1) * size, missed.count)]).map { files[$0].uuid }
                return Task { part.map { read($0, store: store, registry: registry) } }
            }
            var decoded: [(row: Row, outcome: ServiceSummaryCache.Outcome?)] = []
            decoded.reserveCapacity(missed.count)
            for task in tasks { decoded += await task.value }
            for (index, result) in zip(missed, decoded) {
                rows[index] = result.row
                if let outcome = result.outcome {
                    cache.record(files[index].uuid, identity: files[index].identity, outcome: outcome)
                }
            }
            return rows.map { $0! }
        }

        /// One document read and decoded (`StoredSummaries.read`) as a row, and what the cache may
        /// keep of it.
        static func read(_ uuid: ServiceUUID, store: ServiceStore, registry: ServiceRegistry) -> (row: Row, outcome: ServiceSummaryCache.Outcome?) {
            let read = StoredSummaries.read(uuid, store: store, registry: registry)
            guard let document = read.document, case .success(let summary)? = read.outcome else {
                return (Row(uuid: uuid, error: read.error, state: "invalid"), read.outcome)
            }
            return (Row(uuid: uuid, summary: summary, document: document), read.outcome)
        }

        /// The whole document of a row that has only its summary (a running service with a probe or
        /// health record to read); a document that no longer loads makes the row `invalid`.
        static func loadDocument(_ row: inout Row, store: ServiceStore, registry: ServiceRegistry) {
            guard row.document == nil, row.summary != nil else { return }
            let (fresh, _) = read(row.uuid, store: store, registry: registry)
            if fresh.document != nil {
                row.document = fresh.document
                row.summary = fresh.summary
            } else {
                row.summary = nil
                row.error = fresh.error
                row.state = fresh.state
            }
        }

        /// Fills states from the manager's answer (`readUnits`), then probes active endpoints
        /// concurrently; when the manager could not be asked, states stay unknown, with one warning.
        ///
        /// Each unit that is doing something is matched to this store by what it runs (the document
        /// its description names, `UnitOwnership.description(_:runs:)`, or else its `ExecStart`'s,
        /// read in one batch): a unit that runs another store's file leaves the row `foreign` (this
        /// store's service is not what runs); a unit that runs this store's file for a UUID whose
        /// document is broken, holds another UUID or is gone is shown as `orphaned`, with the reason
        /// and how to stop it.
        static func observe(_ rows: inout [Row], units read: Result<ListedUnits, any Error>, store: ServiceStore, registry: ServiceRegistry) async {
            let units: [String: UnitListEntry]
            let runs: [String: String?]
            switch read {
            case .success(let listed):
                units = listed.units
                runs = listed.runs
            case .failure(let error):
                if rows.contains(where: { $0.summary != nil }) {
                    Output.warning("cannot read service states from systemd: \(ExitCodes.oneLine(error)); states are shown as unknown")
                }
                return
            }
            // Each listed unit by its UUID: a thousand rows look up the few units there are, instead
            // of naming two units for every row.
            var byUUID: [ServiceUUID: (transient: UnitListEntry?, instance: UnitListEntry?)] = [:]
            for entry in units.values {
                guard let service = ServiceUnit(unitName: entry.name) else { continue }
                if entry.name.hasPrefix("svcunit@") { byUUID[service.uuid, default: (nil, nil)].instance = entry } else { byUUID[service.uuid, default: (nil, nil)].transient = entry }
            }
            var placed = Set<String>()
            for index in rows.indices {
                let uuid = rows[index].uuid
                let unit = ServiceUnit(uuid)
                let listedUnits = byUUID[uuid]
                let entry = ServiceUnit.standing(transient: listedUnits?.transient, instance: listedUnits?.instance, instanceEnabled: false)
                let ownership: UnitOwnership? = entry.flatMap { entry in
                    runs[entry.name].map { file in
                        file.map { UnitOwnership.sameFile($0, store.file(for: uuid)) ? .ours : .otherFile($0) } ?? .notSvcunit([])
                    }
                }
                if let entry { placed.insert(entry.name) }
                guard rows[index].summary != nil else {
                    // A broken entry: orphaned when a unit runs its file.
                    if let entry, ownership == .ours {
                        rows[index].markOrphaned(entry, problem: rows[index].error ?? "its service.json cannot be used")
                    }
                    continue
                }
                switch ownership {
                case .otherFile(let file)?:
                    rows[index].markForeign(entry?.name, "unit \(entry?.name ?? "") runs \(file), another store's service (unit names are per user)")
                    continue
                case .notSvcunit?:
                    rows[index].markForeign(entry?.name, "unit \(entry?.name ?? "") is not a svcunit service")
                    continue
                case .ours?, nil:
                    break
                }
                rows[index].unit = entry?.name ?? unit.transientUnitName
                rows[index].activeState = entry?.activeState ?? .inactive
                rows[index].subState = entry?.subState ?? .dead
                rows[index].state = StatusDerivation.state(of: entry).rawValue
            }
            // Units of this store whose service.json is gone altogether (no row at all).
            let stored = rows.count
            for (name, file) in runs where !placed.contains(name) {
                guard let entry = units[name], let service = ServiceUnit(unitName: name), let file,
                      UnitOwnership.sameFile(file, store.file(for: service.uuid)),
                      !rows.contains(where: { $0.uuid == service.uuid && $0.state == orphaned }) else { continue }
                var row = Row(uuid: service.uuid)
                row.markOrphaned(entry, problem: "\(file) is missing")
                rows.append(row)
            }
            // The scan's rows come sorted; only rows added here need placing.
            if rows.count > stored { rows.sort { $0.uuid.rawValue < $1.uuid.rawValue } }
            for index in rows.indices where rows[index].state == ServiceState.active.rawValue && rows[index].summary?.needsDocumentWhenRunning == true {
                loadDocument(&rows[index], store: store, registry: registry)
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
            // At most `probeConcurrency` probes at a time: each holds a socket (and an https probe a
            // TLS context), and hundreds at once would only queue in the kernel and the pool.
            let results = await withTaskGroup(of: (Int, ServiceState, String).self) { group in
                var pending = probes[...]
                func next() {
                    guard let (index, endpoint, monitor) = pending.popFirst() else { return }
                    group.addTask {
                        let (state, message) = await checker.checkEndpoint(endpoint, monitor: monitor)
                        return (index, state, message)
                    }
                }
                for _ in 0..<probeConcurrency { next() }
                var out: [(Int, ServiceState, String)] = []
                for await result in group {
                    out.append(result)
                    next()
                }
                return out
            }
            for (index, state, message) in results {
                rows[index].healthy = state == .active
                if state != .active { rows[index].healthError = message.isEmpty ? "endpoint is \(state)" : message }
            }
            await observeHealth(&rows)
        }

        /// The svcunit units the manager has loaded, by name, and the document each unit that is doing
        /// something runs (nil inside: it runs no svcunit document).
        struct ListedUnits: Sendable {
            var units: [String: UnitListEntry]
            var runs: [String: String?]
        }

        /// One ListUnitsByPatterns call for both unit patterns, then what the units that are doing
        /// something run: the document their description names when it is this store's, else their
        /// `ExecStart`'s (`documentFiles`).
        static func readUnits(store: ServiceStore) async -> Result<ListedUnits, any Error> {
            do {
                let manager = try await SystemdManager.connectUser()
                let listed = try await manager.listUnitsByPatterns(patterns: ["svcunit-*.service", "svcunit@*.service"])
                let units = Dictionary(listed.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                // A running health check (svcunit-health-<uuid>.service) runs no document of its own.
                let doing = listed.filter { $0.isLoaded && $0.activeState != .inactive && !$0.name.hasPrefix("svcunit-health") }
                // A unit whose description names this store's file needs no read of its ExecStart.
                var described: [String: String?] = [:]
                for entry in doing {
                    guard let service = ServiceUnit(unitName: entry.name) else { continue }
                    let file = store.file(for: service.uuid)
                    if UnitOwnership.description(entry.description, runs: file) { described[entry.name] = .some(file) }
                }
                let runs = described.merging(await documentFiles(of: doing.filter { described[$0.name] == nil }, manager)) { a, _ in a }
                return .success(ListedUnits(units: units, runs: runs))
            } catch {
                return .failure(error)
            }
        }

        /// A unit runs this store's document for a UUID that has no usable document.
        static let orphaned = "orphaned"
        /// The unit named for the service runs something else: this store's service is not running.
        static let foreign = "foreign"

        /// The document file each unit runs (nil inside: it runs no svcunit document), read in one
        /// batch over the one connection (`SystemdManager.execStarts`); a unit that cannot be read is
        /// left out.
        ///
        /// Not obvious: this is one `Get` per unit (D-Bus has no call that reads a property of many
        /// objects), so `observe` asks only for units whose description does not name this store's
        /// file (template instances, units of older svcunit versions or of another store); the calls
        /// are sent back to back and collected at once, not as a task and a round trip each.
        static func documentFiles(of entries: [UnitListEntry], _ manager: SystemdManager) async -> [String: String?] {
            let names = entries.compactMap { try? UnitName(validating: $0.name) }
            // Only a template instance takes its document's path from its environment.
            let read = await manager.execStarts(names, environmentOf: Set(names.filter { $0.rawValue.hasPrefix("svcunit@") }))
            var out: [String: String?] = [:]
            for (name, unit) in read {
                out[name.rawValue] = .some(UnitOwnership.documentFile(execStart: unit.execStart, environment: unit.environment))
            }
            return out
        }

        static func json(_ row: Row) -> JSONValue {
            var o = JSONObject()
            o["uuid"] = .string(row.uuid.rawValue)
            o["name"] = row.summary.map { .string($0.name) } ?? .null
            o["type"] = row.summary.map { .string($0.type) } ?? .null
            o["flavor"] = row.summary.map { .string($0.flavor) } ?? .null
            o["state"] = .string(row.state)
            o["unit"] = row.unit.map(JSONValue.string) ?? .null
            o["active_state"] = row.activeState.map { .string($0.rawValue) } ?? .null
            o["sub_state"] = row.subState.map { .string($0.rawValue) } ?? .null
            if let endpoint = row.summary?.endpoint {
                var e = JSONObject()
                e["uri"] = endpoint.uri.map(JSONValue.string) ?? .null
                e["protocol"] = .string(endpoint.protocol.rawValue)
                e["healthy"] = row.healthy.map(JSONValue.bool) ?? .null
                e["error"] = row.healthError.map(JSONValue.string) ?? .null
                o["endpoint"] = .object(e)
            } else {
                o["endpoint"] = .null
            }
            o["health"] = row.health.map { .string($0.rawValue) } ?? .null
            o["error"] = row.error.map(JSONValue.string) ?? .null
            return .object(o)
        }

        static func table(_ rows: [Row]) -> String {
            if rows.isEmpty { return "no services\n" }
            let cells = rows.map { row -> [String] in
                guard let summary = row.summary else {
                    return [row.uuid.rawValue, "-", "-", Output.state(row.state), Output.escaped(row.error ?? "")]
                }
                var endpoint = "-"
                if let e = summary.endpoint {
                    endpoint = Output.escaped(row.state == ServiceState.active.rawValue ? (e.uri ?? "(\(e.protocol))") : "(\(e.protocol)\(e.port.map { " :\($0)" } ?? ""))")
                    switch row.healthy {
                    case true?: endpoint += " " + Output.state("healthy")
                    case false?: endpoint += " " + Output.state("unhealthy") + (row.healthError.map { ": \(Output.escaped($0))" } ?? "")
                    case nil: break
                    }
                }
                // Document values are escaped cell by cell (`Output.escaped`); state words are painted.
                if row.state == foreign { endpoint = Output.escaped(row.error ?? "") }
                return [row.uuid.rawValue, Output.escaped(summary.name),
                        Output.escaped("\(summary.type)/\(summary.flavor)"),
                        Output.state(row.health == .unhealthy ? "unhealthy" : row.state), endpoint]
            }
            return Output.table(header: ["UUID", "NAME", "TYPE", "STATE", "ENDPOINT"], rows: cells)
        }
    }
}
