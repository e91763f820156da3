public import ServiceModel
public import SystemdManager
public import ServiceHealth
import Foundation

/// The services of one store, run on one systemd user manager: what the CLI drives.
///
/// Combines the store (the JSON files), the registry (service classes), the provisioner (systemd)
/// and the lifecycle (ZenML's start/stop/status contract with health monitors). Not obvious: the
/// JSON is persisted after every operation under the store lock, so a command killed half-way leaves
/// a whole, valid file and the next command converges from what systemd reports.
public final class SystemdServices: Sendable {
    public let store: ServiceStore
    public let registry: ServiceRegistry
    public let provisioner: SystemdProvisioner
    public let lifecycle: ServiceLifecycle

    public var manager: SystemdManager { provisioner.manager }

    public init(store: ServiceStore, registry: ServiceRegistry, manager: SystemdManager, entrypoint: String? = nil,
                healthChecker: any EndpointHealthChecker = ProbingHealthChecker()) {
        self.store = store
        self.registry = registry
        provisioner = SystemdProvisioner(manager: manager, store: store,
                                         entrypoint: entrypoint ?? SystemdProvisioner.defaultEntrypoint())
        lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: healthChecker,
                                     portPolicy: PortPolicy(isFree: PortReservations.claimIfFree))
    }

    /// Loads a stored service (re-read from disk every time: another process may have changed it).
    public func service(_ uuid: ServiceUUID) throws(ServiceModelError) -> Service {
        try store.load(uuid, into: registry)
    }

    /// Stores a new service document (`root_runtime_path` set to the store, as ZenML lays it out).
    public func create(_ document: ServiceDocument) throws -> Service {
        var document = document
        if document.config.rootRuntimePath == nil { document.config.rootRuntimePath = store.root }
        let service = try registry.adopt(document)
        try provisioner.persist(service)
        return service
    }

    /// What `start` did.
    public enum StartOutcome: Sendable, Equatable {
        case started
        /// It was already active and healthy: nothing was done.
        case alreadyRunning
    }

    /// Starts the service and waits until its unit is active and its endpoint healthy.
    ///
    /// - Throws: `ServiceModelError` (`.startFailed` as soon as the unit fails, with its exit status
    ///   and last output; `.timedOut` with the last state), or a `SystemdError`.
    public func start(_ uuid: ServiceUUID, timeout: Duration) async throws -> StartOutcome {
        let service = try self.service(uuid)
        try await provisioner.watch(uuid)
        let unit = try await provisioner.unitStatus(uuid)
        if StatusDerivation.state(of: unit) == .active, service.document.adminState == .active,
           await lifecycle.isRunning(service) {
            try persistObservation(service)
            return .alreadyRunning
        }
        let startedAt = Self.realtimeMicroseconds()
        defer { PortReservations.release(service.document.endpoint?.status.port) }
        // A new run: the error of an earlier one (or "not running" from the last check) is history,
        // kept in status.last_run, not the state of this start.
        service.update { $0.status.clearError() }
        do {
            try await lifecycle.start(service, timeout: timeout)
            if service.document.endpoint?.monitor == nil {
                try await confirmStartup(service)
            }
        } catch {
            try? provisioner.persist(service)
            throw await withOutput(error, of: uuid, since: startedAt)
        }
        try provisioner.persist(service)
        return .started
    }

    /// How many of the service's own last lines a failed start carries.
    public static let failureOutputLines = 3

    /// A failed start's error with the service's own last output of this attempt attached.
    private func withOutput(_ error: any Error, of uuid: ServiceUUID, since: UInt64) async -> any Error {
        guard var model = error as? ServiceModelError, var failure = model.failure, failure.output.isEmpty,
              model.code == .startFailed || model.code == .timedOut else { return error }
        // journald stamps a line when it receives it, after this attempt began: so `since` keeps out
        // the lines of earlier runs (a start tried twice in a second shows only its own).
        failure.output = (try? await provisioner.serviceOutput(ServiceUnit(uuid), since: since, count: Self.failureOutputLines)) ?? []
        model.failure = failure
        return model
    }

    /// Now, in µs since the epoch (`CLOCK_REALTIME`): the clock journald and systemd stamp with.
    public static func realtimeMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1000)
    }

    /// How long a service without a health monitor must stay up before `start` calls it started.
    ///
    /// A unit turns active when the entrypoint reports READY=1, just before it runs the service (for
    /// the command flavor, just before the exec), which says nothing yet about whether the command
    /// will live; without a monitor this short watch is the only evidence (a health monitor that
    /// passes is better evidence, and skips it).
    public static let startupGrace: Duration = .milliseconds(300)

    private func confirmStartup(_ service: Service) async throws {
        let deadline = ContinuousClock.now + Self.startupGrace
        while ContinuousClock.now < deadline {
            await provisioner.waitForChange(service, deadline: deadline, attempt: 8)
            let (state, reason) = await provisioner.checkStatus(service)
            guard state == .error else { continue }
            let document = service.update { document in
                document.status.updateState(state, error: reason)
                return document
            }
            throw ServiceModelError(.startFailed, "\(document.label) failed to start: \(reason)",
                                    failure: ServiceFailure(name: document.config.name, uuid: document.uuid, operation: "start", reason: reason))
        }
    }

    /// Stops the service and waits until its unit is gone (`force`: SIGKILL instead of SIGTERM).
    public func stop(_ uuid: ServiceUUID, timeout: Duration, force: Bool = false) async throws {
        let service = try self.service(uuid)
        try await provisioner.watch(uuid)
        do {
            try await lifecycle.stop(service, timeout: timeout, force: force)
        } catch {
            try? provisioner.persist(service)
            throw error
        }
        try provisioner.persist(service)
    }

    /// A service's full picture: its document (with a freshly observed status) and its unit.
    public struct Report: Sendable {
        public var document: ServiceDocument
        public var unit: UnitStatus?
        public var unitName: UnitName
        /// Why the service is in its state, as observed now; empty when nothing is wrong. Unlike the
        /// document's `last_error` (ZenML's: the last error ever recorded), this is never stale.
        public var reason: String
    }

    /// Observes the service now (unit state and endpoint health) and records the result.
    public func status(_ uuid: ServiceUUID) async throws -> Report {
        let service = try self.service(uuid)
        await lifecycle.updateStatus(service)
        // The facts the state was derived from, not a second read that could straddle a restart.
        let observation = provisioner.lastObservation(uuid)
        try? persistObservation(service)
        return Report(document: service.document, unit: observation?.unit, unitName: observation?.unit.name ?? ServiceUnit(uuid).transientUnit,
                      reason: observation?.reason ?? "")
    }

    /// Records what was observed (the operational status and the endpoint's status) and nothing a
    /// concurrent command may have decided meanwhile: a `status` running beside a `stop` must not
    /// write back the admin state it read before the stop. Writes only when something changed, so a
    /// read-only command usually costs no fsync.
    func persistObservation(_ service: Service) throws {
        try store.withLock(service.uuid) {
            let observed = service.document
            guard let data = try? store.read(service.uuid), var current = try? registry.decode(data: data),
                  current.uuid == observed.uuid else { return }
            var changed = false
            if current.status.state != observed.status.state || current.status.lastState != observed.status.lastState
                || current.status.lastError != observed.status.lastError {
                current.status.state = observed.status.state
                current.status.lastState = observed.status.lastState
                current.status.lastError = observed.status.lastError
                changed = true
            }
            if let status = observed.endpoint?.status, current.endpoint != nil, current.endpoint?.status != status {
                current.endpoint?.status = status
                changed = true
            }
            if changed { try store.save(current) }
            service.replace(with: current)
        }
    }

    /// Whether the stored document proves that no unit of it can be running, so deleting it needs no
    /// user manager: it has no `status.runtime_path` (set before any unit of it is started, by
    /// `start`, `restart`, `enable` and `register --adopt` alike), no `status.last_run` (what a unit
    /// that ran records when it ends), and no `svcunit@<uuid>.service.d` drop-in (what `enable`
    /// writes before it starts the instance).
    public static func neverStarted(_ document: ServiceDocument, environment: [String: String]? = nil) -> Bool {
        document.status.runtimePath == nil && document.status.lastRun == nil
            && !FileManager.default.fileExists(atPath: ServiceTemplate.dropInDirectory(for: ServiceUnit(document.uuid), environment: environment))
    }

    /// Removes a stored entry whose document cannot be loaded (so nothing in it can be trusted to
    /// say how it runs), once neither of its units (`svcunit-<uuid>.service`, `svcunit@<uuid>.service`)
    /// runs; a failed one is reset, so no trace of the service is left in the manager either.
    /// - Throws: `SystemdError` `.jobFailed` naming the running unit (nothing removed); the store's errors.
    public func deleteUnloadable(_ uuid: ServiceUUID) async throws {
        let unit = ServiceUnit(uuid)
        var failed: [UnitName] = []
        for name in [unit.transientUnit, unit.templateInstance] {
            let status = try await manager.unitStatus(name)
            guard status.isLoaded else { continue }
            if status.activeState == .failed { failed.append(name); continue }
            if status.activeState != .inactive {
                throw SystemdError(code: .jobFailed, message: "\(uuid): its document cannot be loaded and \(name) is \(status.activeState.rawValue); not deleting",
                                   unit: name, hint: "stop the unit first: systemctl --user stop \(name)")
            }
        }
        // Best effort: the unit may have gone by itself meanwhile (NoSuchUnit), and a failed unit
        // left over is harmless to the removal.
        for name in failed { try? await manager.resetFailedUnit(name) }
        try store.delete(uuid)
        registry.forget(uuid)
    }

    /// Stops the service if it runs, then removes its directory (only once the unit is gone).
    public func delete(_ uuid: ServiceUUID, timeout: Duration, force: Bool = false) async throws {
        _ = try self.service(uuid)
        let unit = try await provisioner.unitStatus(uuid)
        if unit.isLoaded {
            try await stop(uuid, timeout: timeout, force: force)
            let after = try await provisioner.unitStatus(uuid)
            if after.isLoaded, !after.activeState.isFinal {
                throw SystemdError(code: .jobFailed, message: "unit \(after.name) is still \(after.activeState.rawValue); not deleting",
                                   unit: after.name, hint: "retry with --force")
            }
        }
        try store.delete(uuid)
        registry.forget(uuid)
    }
}
