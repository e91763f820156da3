public import ServiceModel
public import SystemdManager
public import ServiceHealth
import FoundationEssentials
import OSCalls

/// The services of one store, run on one systemd user manager: what the CLI drives.
///
/// Combines the store (the JSON files), the registry (service classes), the provisioner (systemd)
/// and the lifecycle (ZenML's start/stop/status contract with health monitors). Not obvious: the
/// JSON is persisted after every operation under the store lock, so a command killed half-way leaves
/// a whole, valid file and the next command converges from what systemd reports.
public final class SystemdServices: Sendable {
    public let store: ServiceStore
    public let registry: ServiceRegistry
    /// This process's service objects (see `LiveServices` for why there is one per UUID).
    public let live = LiveServices()
    public let provisioner: SystemdProvisioner
    public let lifecycle: ServiceLifecycle
    /// Ports claimed between svcunit processes of this user (see `PortReservations`).
    public let portClaims: PortClaims

    public var manager: SystemdManager { provisioner.manager }

    public init(store: ServiceStore, registry: ServiceRegistry, manager: SystemdManager, entrypoint: String? = nil,
                healthChecker: any EndpointHealthChecker = ProbingHealthChecker()) {
        self.store = store
        self.registry = registry
        let claims = PortClaims.forUser(runtimeDirectory: CurrentProcess.environmentValue("XDG_RUNTIME_DIR"), store: store)
        portClaims = claims
        provisioner = SystemdProvisioner(manager: manager, store: store,
                                         entrypoint: entrypoint ?? SystemdProvisioner.defaultEntrypoint(), portClaims: claims)
        lifecycle = ServiceLifecycle(provisioner: provisioner, healthChecker: healthChecker,
                                     portPolicy: PortPolicy(isFreeFor: { PortReservations.claimIfFree($0, for: $1, claims: claims) }))
    }

    /// Loads a stored service (re-read from disk every time: another process may have changed it).
    public func service(_ uuid: ServiceUUID) throws(ServiceModelError) -> Service {
        try live.adopt(try store.document(uuid, with: registry), refresh: true)
    }

    /// Stores a new service document (`root_runtime_path` set to the store, as ZenML lays it out).
    public func create(_ document: ServiceDocument) throws -> Service {
        var document = document
        if document.config.rootRuntimePath == nil { document.config.rootRuntimePath = store.root }
        let service = try live.adopt(document)
        try provisioner.persistBlocking(service)
        return service
    }

    /// What `start` did.
    public enum StartOutcome: Sendable, Equatable {
        case started
        /// It was already active and healthy: nothing was done.
        case alreadyRunning
    }

    /// Starts the service and waits until its own program runs (and its endpoint is healthy).
    ///
    /// "Started" is decided by facts, never by a grace period: the unit is active only once the
    /// service's program runs (for the command flavor: once its command has been exec'd), the health
    /// monitor passes where there is one, and a last check shows the same run still active with a
    /// live main process (`confirmRunning`). A run that ends at any point of the start fails it at
    /// once, with its exit.
    ///
    /// - Throws: `ServiceModelError` (`.startFailed` as soon as the unit fails or its run ends, with its
    ///   exit status and last output; `.timedOut` with the last state), or a `SystemdError`.
    public func start(_ uuid: ServiceUUID, timeout: Duration) async throws -> StartOutcome {
        let service = try self.service(uuid)
        let (unit, freshlyRead) = try await provisioner.watchReading(uuid, forStart: true)
        try await provisioner.checkOwnership(unit, freshlyRead: freshlyRead, of: service.document, refusing: "adopting")
        if StatusDerivation.state(of: unit) == .active, service.document.adminState == .active,
           await lifecycle.isRunning(service) {
            try await persistObservation(service)
            return .alreadyRunning
        }
        let startedAt = WallClock.microseconds()
        let deadline = ContinuousClock.now + max(timeout, .zero)
        // The read above is the unit before this start: no second read (three round trips) for it.
        provisioner.beginStart(uuid, since: startedAt, before: unit)
        var runningAs: UInt32?
        defer {
            provisioner.endStart(uuid)
            PortReservations.release(service.document.endpoint?.status.port, claims: portClaims, runningAs: runningAs)
        }
        // A new run: the error of an earlier one (or "not running" from the last check) is history,
        // kept in status.last_run, not the state of this start.
        service.update { $0.status.clearError() }
        do {
            // A run of this store's document already under way (a start killed while it waited, a
            // restart by systemd) listens on the port it read: choosing again would find it taken
            // by that very run and probe another.
            let inProgress = unit.isLoaded && [.active, .activating, .reloading].contains(unit.activeState)
            try await lifecycle.start(service, timeout: timeout, runInProgress: inProgress)
            runningAs = try await confirmRunning(service, deadline: deadline)
        } catch {
            try? await provisioner.persist(service)
            throw await withOutput(lostConnection(service.document, "start", otherwise: error), of: uuid, since: startedAt)
        }
        // The state the start reached: `admin_state` was written durably when the start began.
        try await provisioner.persist(service, durable: false)
        return .started
    }

    /// `error`, unless the connection to the user manager broke meanwhile: then that is what ended
    /// the operation (whatever the last frozen observation suggested), as one error naming the service.
    func lostConnection(_ document: ServiceDocument, _ operation: String, otherwise error: any Error) -> any Error {
        guard let lost = provisioner.lostConnection else { return error }
        if let model = error as? ServiceModelError, let cause = model.cause as? SystemdError, cause.code == .noUserManager { return error }
        let reason = "\(lost)"
        return ServiceModelError(.provisioningFailed, "\(document.label) failed to \(operation): \(reason)", cause: lost,
                                 failure: ServiceFailure(name: document.config.name, uuid: document.uuid, operation: operation, reason: reason))
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


    /// The last check before "started": the run the wait saw is still active, with a main process
    /// that is alive (not a zombie systemd has yet to reap). The watch and /proc say so first
    /// (`runningAsWatched`); else a fresh read of the unit (answered after systemd has handled
    /// whatever it received before, such as the exit of a program that ended at once) decides. If
    /// the run has ended, this waits (on the unit's signals, not a timer) until systemd says how,
    /// and fails the start with that. Returns the main PID. A Python service without a health
    /// check must also have reached its first wait (see below).
    ///
    /// Not obvious: a program that exits after this check has outlived `start`; `status` reports it.
    private func confirmRunning(_ service: Service, deadline: ContinuousClock.Instant) async throws -> UInt32? {
        guard let seen = provisioner.lastObservation(service.uuid)?.unit, seen.activeState == .active else { return nil }
        let python = service.document.isPython && service.document.endpoint?.monitor == nil
        if !python, let pid = runningAsWatched(seen, service.uuid) { return pid }
        let since = ContinuousClock.now
        while true {
            let fresh = try await provisioner.freshUnitStatus(seen.name)
            var reason: String?
            var waitingFor = "systemd to report how its run ended (unit \(fresh.activeState.rawValue)/\(fresh.subState))"
            if fresh.activeState == .active, fresh.invocationID == seen.invocationID {
                if fresh.mainPID != 0, let state = Self.processState(fresh.mainPID), state != "Z", state != "X" {
                    // A Python service's READY=1 says only "class loaded, run() next". Without a health
                    // check, run() has got going once its main thread waits for something (a server's
                    // accept, a sleep): a run() that raises at once never does, and exits instead.
                    if !python || state == "S" { return fresh.mainPID }
                    if await Self.untilWaiting(fresh.mainPID, since: since, deadline: deadline) { return fresh.mainPID }
                    waitingFor = "run() to wait for something (its main process \(fresh.mainPID) stayed busy)"
                }
                // Its main process has exited (a zombie, or gone; systemd has yet to act on it), or a
                // Python run() has not reached its first wait yet: look again on the next change.
            } else {
                // The derived state first: for a failed unit it knows more (an OOM kill, restarts), and
                // during a start an ended run reads as `error` there too.
                let (state, derived) = await provisioner.checkStatus(service)
                if state == .error {
                    reason = derived
                } else if fresh.activeState == .active {
                    reason = provisioner.runEndedDuringStart(service.uuid)
                        ?? "its run ended while starting and systemd started it again (its restart policy)"
                }
                // Else it is being stopped (ExecStopPost records the run): wait until systemd says how it ended.
            }
            if let reason {
                let document = service.update { document in
                    document.status.updateState(.error, error: reason)
                    return document
                }
                throw ServiceModelError(.startFailed, "\(document.label) failed to start: \(reason)",
                                        failure: ServiceFailure(name: document.config.name, uuid: document.uuid, operation: "start", reason: reason))
            }
            if ContinuousClock.now >= deadline {
                let document = service.document
                let reason = "timed out waiting for \(waitingFor)"
                throw ServiceModelError(.timedOut, "\(document.label) failed to start: \(reason)",
                                        failure: ServiceFailure(name: document.config.name, uuid: document.uuid, operation: "start", reason: reason))
            }
            await provisioner.waitForChange(service, deadline: deadline, since: since)
        }
    }

    /// The check of `confirmRunning` without a read of the manager, when the watch allows it: the
    /// watch (all its signals applied) shows the run the wait saw still active, and the kernel shows
    /// its main process alive now. Nil when either does not hold; `confirmRunning` reads afresh then.
    ///
    /// Not obvious: the kernel's word is the fresher one. A program that ended at once is a zombie
    /// or gone in /proc before systemd has handled its exit, which is what a fresh read waited for;
    /// and a watch that has not heard of a restart yet names the previous main process, which is
    /// gone. This spares every start a `GetUnit` and a 15 KB `GetAll` (about 1.3 ms).
    private func runningAsWatched(_ seen: UnitStatus, _ uuid: ServiceUUID) -> UInt32? {
        guard let watched = provisioner.watchedStatus(uuid), watched.name == seen.name, watched.activeState == .active,
              watched.invocationID == seen.invocationID, watched.mainPID != 0,
              let state = Self.processState(watched.mainPID), state != "Z", state != "X" else { return nil }
        return watched.mainPID
    }

    /// Whether process `pid` comes to wait for something (`S`) before `deadline`, checked at the
    /// usual pace; false as soon as it is no longer a live process. Only its own state changes while
    /// it is alive and busy, so this reads /proc, not the unit (two round trips a check).
    private static func untilWaiting(_ pid: UInt32, since: ContinuousClock.Instant, deadline: ContinuousClock.Instant) async -> Bool {
        while ContinuousClock.now < deadline {
            guard let state = processState(pid), state != "Z", state != "X" else { return false }
            if state == "S" { return true }
            await Backoff.sleep(since: since, until: deadline)
        }
        return false
    }

    /// A process's (its main thread's) state letter from `/proc/PID/stat`: `R` running, `S` waiting
    /// for an event, `Z` exited but not yet reaped, …; nil when there is no such process.
    static func processState(_ pid: UInt32) -> Character? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else {
            return nil
        }
        return text[text.index(after: close)...].drop { $0 == " " }.first
    }

    /// Stops the service and waits until its unit is gone (`force`: SIGKILL instead of SIGTERM).
    /// With `returnOnceEnded` (`svcunit stop`), it returns as soon as the run has ended cleanly and
    /// is recorded, while systemd finishes the stop job (the unit's ExecStopPost, which then exits
    /// at once): the stop costs no second process start. Delete and restart wait for the job.
    ///
    /// A unit that runs this store's document for the UUID is stopped even when that document cannot
    /// be used (missing, broken, another UUID inside): every running unit can be stopped by its UUID.
    /// - Returns: what was stopped when it was such a unit (nil for a service stopped as usual).
    /// - Throws: `UnitOwnershipError` when the unit runs another store's document or no svcunit
    ///   service (it is left alone); `StoppedButNotRecordedError` when the unit stopped but the
    ///   store could not record it.
    @discardableResult
    public func stop(_ uuid: ServiceUUID, timeout: Duration, force: Bool = false, returnOnceEnded: Bool = false) async throws -> String? {
        guard returnOnceEnded else { return try await stopService(uuid, timeout: timeout, force: force) }
        return try await provisioner.returningOnceEnded(uuid) { try await stopService(uuid, timeout: timeout, force: force) }
    }

    private func stopService(_ uuid: ServiceUUID, timeout: Duration, force: Bool) async throws -> String? {
        let service: Service
        do { service = try self.service(uuid) } catch {
            guard let unit = try await orphanUnit(uuid, unusable: error) else { throw error }
            try await provisioner.stopUnit(of: uuid, force: force, stopTimeout: SystemdProvisioner.defaultStopTimeout)
            return "stopped unit \(unit.name), whose document cannot be used (\(error.message))"
        }
        let read = try await provisioner.watchReading(uuid)
        try await provisioner.checkOwnership(read.unit, freshlyRead: read.freshlyRead, of: service.document, refusing: "stopping")
        do {
            try await lifecycle.stop(service, timeout: timeout, force: force)
        } catch {
            try? await provisioner.persist(service)
            throw lostConnection(service.document, "stop", otherwise: error)
        }
        do {
            try await provisioner.persist(service)
        } catch {
            throw StoppedButNotRecordedError(label: service.document.label, unit: provisioner.lastObservation(uuid)?.unit.name ?? ServiceUnit(uuid).transientUnit,
                                             file: store.file(for: uuid), what: "its stopped state (admin_state inactive)", cause: error)
        }
        return nil
    }

    /// A loaded, not inactive unit of `uuid` that runs this store's document for it, when that
    /// document cannot be used (`unusable` is why: missing, not JSON, not a service, another UUID
    /// inside). nil when there is none, or when `unusable` is no such reason (an unsafe path, an
    /// I/O error): those are reported, never worked around.
    public func orphanUnit(_ uuid: ServiceUUID, unusable: ServiceModelError) async throws -> UnitStatus? {
        guard Self.documentIsUnusable(unusable) else { return nil }
        let unit = try await provisioner.unitStatus(uuid)
        guard unit.isLoaded, unit.activeState != .inactive, try await provisioner.ownership(of: unit, uuid: uuid) == .ours else { return nil }
        return unit
    }

    /// A document that is missing or cannot be read as this service (not a fault of the store itself).
    static func documentIsUnusable(_ error: ServiceModelError) -> Bool {
        [.fileNotFound, .malformedJSON, .emptyDocument, .truncatedJSON, .documentTooLarge, .missingServiceType,
         .unregisteredServiceType, .invalidField, .invalidUUID].contains(error.code)
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
        let watched = provisioner.isWatching(uuid)
        await lifecycle.updateStatus(service)
        if let lost = provisioner.lostConnection { throw lost }
        // The facts the state was derived from, not a second read that could straddle a restart.
        let observation = provisioner.lastObservation(uuid)
        if let unit = observation?.unit {
            // Without a watch that read was a fresh GetAll, which holds ExecStart too: no second call.
            if !watched, !provisioner.isWatching(uuid) {
                let owner = provisioner.ownership(ofFreshlyRead: unit, uuid: uuid)
                if owner != .ours {
                    throw UnitOwnershipError(label: service.document.label, unit: unit.name, ownership: owner,
                                             ownFile: store.file(for: uuid), refused: "reporting on")
                }
            } else {
                try await provisioner.checkOwnership(unit, of: service.document, refusing: "reporting on")
            }
        }
        try? await persistObservation(service)
        return Report(document: service.document, unit: observation?.unit, unitName: observation?.unit.name ?? ServiceUnit(uuid).transientUnit,
                      reason: observation?.reason ?? "")
    }

    /// Records what was observed (the operational status and the endpoint's status) and nothing a
    /// concurrent command may have decided meanwhile: a `status` running beside a `stop` must not
    /// write back the admin state it read before the stop. Writes only when something changed, so a
    /// read-only command usually costs no fsync.
    func persistObservation(_ service: Service) async throws {
        try await store.withLock(awaiting: service.uuid) {
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
        live.forget(uuid)
    }

    /// Stops the service if it runs, then removes its directory (only once the unit is gone).
    ///
    /// With `force`, a unit that runs this store's document for the UUID is stopped even when that
    /// document cannot be used (see `stop`). A unit that runs anything else is never stopped: the
    /// command refuses (`UnitOwnershipError`) and nothing is deleted.
    /// - Returns: what was done when it was such a unit (nil for a service deleted as usual).
    @discardableResult
    public func delete(_ uuid: ServiceUUID, timeout: Duration, force: Bool = false) async throws -> String? {
        let document: ServiceDocument
        do { document = try self.service(uuid).document } catch {
            guard force, let orphan = try await orphanUnit(uuid, unusable: error) else { throw error }
            let hadEntry = store.hasEntry(for: uuid)
            try await stop(uuid, timeout: timeout, force: force)
            // Nothing in the store: the unit was all there was to delete.
            if !hadEntry { return "stopped unit \(orphan.name); \(uuid) has no entry in \(store.root)" }
            // The unit is stopped; whether such an entry is removed is `delete`'s rule for broken entries.
            var stopped = error
            stopped.message = "stopped unit \(orphan.name), but not deleting \(uuid): \(error.message)"
            throw stopped
        }
        let unit = try await provisioner.unitStatus(uuid)
        try await provisioner.checkOwnership(unit, of: document, refusing: "deleting")
        if unit.isLoaded {
            try await stop(uuid, timeout: timeout, force: force)
            let after = try await provisioner.unitStatus(uuid)
            if after.isLoaded, !after.activeState.isFinal {
                throw SystemdError(code: .jobFailed, message: "unit \(after.name) is still \(after.activeState.rawValue); not deleting",
                                   unit: after.name, hint: "retry with --force")
            }
        }
        do { try store.delete(uuid) } catch {
            if unit.isLoaded, unit.activeState != .inactive {
                throw StoppedButNotRecordedError(label: document.label, unit: unit.name, file: store.directory(for: uuid),
                                                 what: "the deletion (the service is still stored)", cause: error)
            }
            throw error
        }
        live.forget(uuid)
        Self.forgetHealthState(uuid, environment: CurrentProcess.environmentVariables)
        return nil
    }
}

/// The service's unit stopped, but the store could not record it (a full or read-only store): the
/// service *is* stopped; what could not be written is named. Exit status 1 (the operation was not
/// completed), with a first line that says the service is stopped.
public struct StoppedButNotRecordedError: Error, CustomStringConvertible, Sendable {
    public var label: String
    public var unit: UnitName
    /// The document (or directory) that could not be written.
    public var file: String
    /// What was not recorded, e.g. "its stopped state (admin_state inactive)".
    public var what: String
    public var cause: any Error

    public init(label: String, unit: UnitName, file: String, what: String, cause: any Error) {
        self.label = label
        self.unit = unit
        self.file = file
        self.what = what
        self.cause = cause
    }

    public var description: String {
        "\(label) is stopped (unit \(unit) is no longer running), but the store could not record \(what): \(cause); "
            + "the end of this run may be missing from its last_run too. Free space or make \(file) writable, then run the command again to record it"
    }
}
