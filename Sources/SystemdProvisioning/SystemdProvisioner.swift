public import ServiceModel
public import SystemdManager
import SDJournal
import FoundationEssentials
import OSCalls
import Synchronization

/// Runs local daemon services as transient systemd user units: ZenML's `LocalDaemonService`
/// without fork-and-detach, PID files or a one-second poll.
///
/// `provision` writes the service JSON and calls `StartTransientUnit` with the entrypoint as an argv
/// `ExecStart`; `checkStatus` derives the state from the unit's properties; `waitForChange` wakes on
/// the unit's `PropertiesChanged` signals (falling back to a short backoff for endpoint probes).
/// Not obvious: the watch on a unit is taken *before* the unit is started and kept for the later
/// waits, so a fast failure cannot slip between a start and the first look at the unit.
public final class SystemdProvisioner: ServiceProvisioner {
    public let manager: SystemdManager
    public let store: ServiceStore
    /// Absolute path of the entrypoint executable that units run.
    public let entrypoint: String
    /// How long `deprovision` waits for systemd's stop job (the unit's own stop timeout plus margin).
    public static let defaultStopTimeout: Duration = .seconds(10)

    private let watches = Mutex<[ServiceUUID: UnitWatch]>([:])
    /// What each service's last `checkStatus` saw and concluded, so a report shows the very facts
    /// its state came from (and costs no second round of D-Bus reads).
    private let observed = Mutex<[ServiceUUID: Observation]>([:])
    /// The starts under way in this process (see `beginStart`).
    private let starts = Mutex<[ServiceUUID: StartAttempt]>([:])
    /// Services whose run end this command recorded itself (`recordEnd`), until `persist` writes it;
    /// true when it was recorded before the stop job finished, so the claim stays for the unit's
    /// ExecStopPost, which may not have read it yet.
    private let recordedEnds = Mutex<[ServiceUUID: Bool]>([:])
    /// Services whose `svcunit stop` may return once the run has ended (`returningOnceEnded`).
    private let earlyEnds = Mutex<Set<ServiceUUID>>([])
    /// The unit's state when this command's stop job completed, for the next `checkStatus` of the
    /// service: the watch saw the end, and a unit systemd has already forgotten would otherwise cost
    /// two fresh lookups (the transient unit and the template instance) to read as stopped.
    private let stoppedStates = Mutex<[ServiceUUID: UnitStatus]>([:])

    /// A start under way: when it began and the run (if any) the unit had then, so that a run that
    /// ended since is known to be this start's.
    struct StartAttempt {
        /// Realtime µs since the epoch, taken before the start was asked of systemd.
        var since: UInt64
        /// The unit's `InvocationID` before the start (a run that ended long ago, or none).
        var previousInvocation: String?
        /// Whether the unit that stood for the service before the start was its `svcunit@` template
        /// instance (made persistent with `svcunit enable`, or running): then `provision` starts that
        /// instance, without asking the manager a second time.
        var persistent: Bool
    }

    /// One `checkStatus`: the unit it read and the state and reason derived from it.
    public struct Observation: Sendable {
        public var unit: UnitStatus
        public var state: ServiceState
        /// Why the service is in that state; empty when there is nothing to say (active, healthy).
        public var reason: String
    }

    /// The ports claimed between svcunit processes (`PortReservations`), for a start that gives up
    /// the port it chose (see `adoptStoredPort`); nil where nothing claims ports.
    let portClaims: PortClaims?

    public init(manager: SystemdManager, store: ServiceStore, entrypoint: String, portClaims: PortClaims? = nil) {
        self.manager = manager
        self.store = store
        self.entrypoint = entrypoint
        self.portClaims = portClaims
    }

    /// The running executable (`svcunit`, which runs units as `svcunit entrypoint …`), else the
    /// packaged `/usr/bin/svcunit`.
    public static func defaultEntrypoint() -> String {
        if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
           FileManager.default.isExecutableFile(atPath: me) {
            return me
        }
        return ServiceTemplate.installedEntrypoint
    }

    /// The argv prefix that runs the entrypoint: the executable and its hidden subcommand.
    var entrypointCommand: [String] { [entrypoint, "entrypoint"] }

    // MARK: - Unit properties

    /// The argv of the unit's main process: the entrypoint with the service file for a built-in
    /// kind; for a user's Python class its own interpreter running svcunit's runner, so the unit's
    /// main process *is* the Python service (`systemctl --user status` shows it).
    /// - Throws: `ServiceModelError` when a Python service has no usable interpreter or runner,
    ///   or a path would not survive systemd's transient unit file.
    public func mainCommand(for document: ServiceDocument) throws(ServiceModelError) -> [String] {
        let configFile = document.status.configFile ?? store.file(for: document.uuid)
        let argv = document.isPython
            // The runner is looked for only here: a command service's start never searches for it.
            ? try PythonService.command(for: document, configFile: configFile, runner: PythonService.runnerPath())
            : entrypointCommand + ["--config-file", configFile]
        for path in argv where path.hasPrefix("/") { try Self.checkRoundTrips(path, what: "the path") }
        return argv
    }

    /// The transient unit's properties for a service document.
    public func unitProperties(for document: ServiceDocument) throws(ServiceModelError) -> [UnitProperty] {
        let unit = ServiceUnit(document.uuid)
        let configFile = document.status.configFile ?? store.file(for: document.uuid)
        let silent = document.config.silentDaemon
        var properties: [UnitProperty] = [
            .description(Self.describe(document, runs: configFile)),
            // argv, never a shell.
            .execStart(argv: try mainCommand(for: document)),
            // `notify`: "active" means the service's own program runs. The command flavor's READY=1
            // comes only once its command has been exec'd: a helper of the entrypoint sees the
            // close-on-exec pipe close and sends it (hence NotifyAccess=all), so a program that does
            // not exist fails the start job instead of flashing "active". The sleeper notifies as it
            // begins; a Python service's runner once its class has loaded, from the main process.
            // Not Type=exec: it would only vouch for the entrypoint's exec, and running the command
            // as ExecStart itself would put its argv and environment into the unit's properties.
            .type(.notify),
            .notifyAccess(document.isPython ? "main" : "all"),
            .slice(ServiceUnit.slice),
            .syslogIdentifier(unit.syslogIdentifier),
            .standardOutput(silent ? .null : .journal),
            .standardError(silent ? .null : .journal),
            // Record how every run ended into the JSON, even when no svcunit command is watching.
            // Through sh, which exits at once when the stopping svcunit records the end (RunEndClaim).
            .execStopPost(argv: ["/bin/sh", store.root + "/" + RunEndClaim.scriptName, configFile, entrypoint], ignoreFailure: true),
            .stopTimeout(document.config.stopTimeout.map { Self.duration($0) } ?? Self.defaultStopTimeout),
        ]
        let restart = document.config.effectiveRestart
        if restart != .no {
            properties.append(.restart(UnitRestart(rawValue: restart.rawValue) ?? .no))
            properties.append(.restartDelay(document.config.restartDelay.map { Self.duration($0) } ?? .milliseconds(100)))
        }
        if let bytes = document.config.memoryMax, bytes > 0 { properties.append(.memoryMax(bytes: UInt64(bytes))) }
        if let percent = document.config.cpuQuota, percent > 0 { properties.append(.cpuQuota(percent: percent)) }
        properties += HealthUnits(document.uuid).serviceUnitProperties(document)
        return properties
    }

    /// `Description=`: the service's name and type, then its UUID or, for the service's own unit,
    /// the document it runs (`UnitOwnership.descriptionSuffix`, which lets `list` tell its units
    /// from another store's without reading each one's `ExecStart`); control characters become
    /// spaces (free text, but one line in `systemctl status`).
    static func describe(_ document: ServiceDocument, runs file: String? = nil) -> String {
        let type = document.serviceType
        let kind = document.isPython ? document.typeName ?? "python" : "\(type.type)/\(type.flavor)"
        let raw = "svcunit \(document.config.name) (\(kind))"
        let described = String(raw.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return described + (file.map(UnitOwnership.descriptionSuffix) ?? " \(document.uuid)")
    }

    /// systemd writes a transient unit's settings to a file and re-reads it at every daemon-reload;
    /// 252 does not round-trip `$`, `%`, `\`, `;` or quotes there, so a path with one of them would
    /// silently change under a running service. Refuse it up front.
    static func checkRoundTrips(_ path: String, what: String) throws(ServiceModelError) {
        let unsafe = path.unicodeScalars.first { "$%\\;\"'`".unicodeScalars.contains($0) || $0.properties.generalCategory == .control }
        if let unsafe {
            throw ServiceModelError(.unsafePath, "\(what) \(path.debugDescription) contains \(String(unsafe).debugDescription), which systemd unit files do not carry reliably",
                                    filePath: path, hint: "use a store directory (--root) whose path has only letters, digits and / . _ - + @ :")
        }
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }

    // MARK: - ServiceProvisioner

    public func provision(_ service: Service) async throws {
        let unit = ServiceUnit(service.uuid)
        service.update { document in document.status.runtimePath = store.directory(for: document.uuid) }
        // The start under way has just read which unit stands for the service (`unitStatus`).
        let persistent: Bool
        if let attempt = starts.withLock({ $0[service.uuid] }) { persistent = attempt.persistent } else { persistent = await isEnabled(unit) }
        if persistent {
            // Made persistent with `svcunit enable` (or its instance runs): start the template
            // instance, so that there is only ever one unit for the service.
            let watch = try await takeWatch(for: service.uuid, unit.templateInstance)
            watch.drain()
            keep(watch, for: service.uuid)
            if watch.current.activeState == .failed { try await resetFailed(unit.templateInstance) }
            try await persist(service)
            _ = try await manager.startUnit(unit.templateInstance, mode: .replace)
            return
        }
        let name = unit.transientUnit
        // The watch `SystemdServices` took before looking at the unit serves here too (it was taken
        // before this start): no second subscription and property read.
        let watch = try await takeWatch(for: service.uuid, name)
        watch.drain()
        var current = watch.current
        if current.isLoaded, current.activeState == .deactivating {
            // A stop is under way: let it finish, or the start would collide with the old unit.
            current = try await watch.wait(before: .now + Self.defaultStopTimeout + .seconds(5)) { $0.isFinished }
        }
        // Whatever runs (or failed) under the name now, another store may have started it since the
        // caller looked: never adopt it or reset its failure as this service's.
        try await checkOwnership(current, of: service.document, refusing: "adopting")
        if current.isLoaded, current.activeState != .inactive, current.activeState != .failed {
            keep(watch, for: service.uuid)  // already running (or restarting): nothing to provision
            // Started by another svcunit since the caller looked (two `svcunit start`s at once), or
            // restarting: the run listens on the stored document's port, written under the lock.
            if Self.readsUnderLock(service.document, store: store) {
                try await store.withLock(awaiting: service.uuid) { try adoptStoredPort(service) }
            }
            return
        }
        if current.isLoaded, current.activeState == .failed {
            try await resetFailed(name)
        }
        try Self.checkRoundTrips(entrypoint, what: "the entrypoint path")
        try Self.checkRoundTrips(service.document.status.configFile ?? store.file(for: service.uuid), what: "the service file's path")
        let properties = try unitProperties(for: service.document)
        // Health supervision: its timer and check are created with the unit (see `HealthUnits`).
        let health = HealthUnits(service.uuid)
        let aux = try health.auxiliaryUnits(service.document, root: store.root, executable: HealthUnits.executable(entrypoint: entrypoint))
        if !aux.isEmpty { try await clearHealthUnits(health) }
        _ = try store.ensureSupportFile(RunEndClaim.scriptName, RunEndClaim.stopPostScript)  // ExecStopPost's script
        // Whether this call started the unit (false when another svcunit had, a moment before).
        func startUnit() async throws -> Bool {
            do {
                _ = try await manager.startTransientUnit(name, mode: .fail, properties: properties, aux: aux)
                return true
            } catch {
                // UnitExists: another svcunit started this service a moment ago: one unit, both succeed,
                // but only if it is this store's service (the same UUID in another store names the same unit).
                if error.code != .unitExists { throw error }
                try await checkOwnership(try await manager.unitStatus(name), freshlyRead: true, of: service.document, refusing: "adopting")
                return false
            }
        }
        if Self.readsUnderLock(service.document, store: store) {
            // The document is written while the manager forks the unit (milliseconds; a write with its
            // fsyncs is about one), not before asking for the start. The entrypoint reads it under a
            // shared lock of the service (`EntrypointCommand.loadDocument`), and this exclusive one is
            // held from before the start until the write is done, so it always reads this write.
            try await store.withLock(awaiting: service.uuid) {
                // Unless this process dies in between: the lock goes with it, and the run reads the
                // document as it was. When that lacks what the run needs from this start (the port
                // it chose, on a first start or a change of port), the document is written first.
                if let before = try documentTheRunWouldMiss(service) {
                    try persistHoldingLock(service)
                    if try await startUnit() { return }
                    // Another start's unit runs, on the document that start wrote: put it back (no
                    // run can have read this one: it waits for this lock) and watch that run.
                    try store.write(before, for: service.uuid)
                    try adoptStoredPort(service)
                    return
                }
                let started = try await startUnit()
                guard started else {
                    // Another svcunit started the unit a moment ago, and wrote its document under
                    // this lock before this start got it: that run, on the port it chose, is the
                    // one to watch. Writing this start's document instead named a port nobody
                    // listened on: this start timed out, and `status` probed the wrong port.
                    try adoptStoredPort(service)
                    return
                }
                do { try persistHoldingLock(service) } catch {
                    // The document could not be written (a full disk): the unit, whose entrypoint
                    // waits for this lock and would run the document as it was, is stopped again,
                    // so that a start that fails has started nothing.
                    if started { _ = try? await manager.stopUnit(name) }
                    throw error
                }
            }
        } else {
            try await persist(service)
            _ = try await startUnit()
        }
        keep(watch, for: service.uuid)
    }

    /// Takes the endpoint's port from the stored document, which the svcunit that started the unit
    /// wrote (see `provision`): the one choice of a start that may differ between two of them.
    /// Everything else of this start stays (its admin state, which a document written before, by
    /// someone else, need not carry). The caller holds the service's lock.
    private func adoptStoredPort(_ service: Service) throws(ServiceModelError) {
        let stored = try storedDocument(service, decoding: try store.read(service.uuid))
        guard let port = stored.endpoint?.status.port else { return }
        let chosen = service.document.endpoint?.status.port
        service.update { $0.endpoint?.status.port = port }
        // The start's end releases the port it watched, and only that one: the port this start
        // claimed and does not use is released here (or this process would keep it from every
        // later start), and the adopted one is shared with the start that runs it, which it would
        // otherwise lose early.
        if chosen != port {
            if let chosen { PortReservations.release(chosen, claims: portClaims) }
            PortReservations.share(port, for: service.uuid)
        }
    }

    /// `data`, the service's file as read under its lock, decoded with the service's own kind.
    private func storedDocument(_ service: Service, decoding data: Data) throws(ServiceModelError) -> ServiceDocument {
        try store.document(service.uuid, decoding: data, with: try ServiceRegistry(kinds: [service.kind]))
    }

    /// The document on disk (its bytes), when the run about to start would read from it something
    /// other than what this start chose: its endpoint port, its runtime path, whether it is silent.
    /// Nil when the run needs nothing of this start's write (a start of a service on the port it
    /// had), or when there is no readable document (the write after the start then makes one).
    private func documentTheRunWouldMiss(_ service: Service) throws -> Data? {
        guard let data = try? store.read(service.uuid), let stored = try? storedDocument(service, decoding: data) else { return nil }
        let chosen = service.document
        let same = stored.endpoint?.status.port == chosen.endpoint?.status.port
            && stored.status.runtimePath == chosen.status.runtimePath && stored.status.silentDaemon == chosen.status.silentDaemon
        return same ? nil : data
    }

    /// Whether the unit's process reads the service's document only through the entrypoint from
    /// the store (which takes the service's shared lock first): not a Python service, whose own
    /// interpreter reads it, nor a document kept outside the store.
    static func readsUnderLock(_ document: ServiceDocument, store: ServiceStore) -> Bool {
        !document.isPython && (document.status.configFile ?? store.file(for: document.uuid)) == store.file(for: document.uuid)
    }

    public func deprovision(_ service: Service, force: Bool) async throws {
        let stopTimeout = service.document.config.stopTimeout.map { Self.duration($0) } ?? Self.defaultStopTimeout
        try await stopUnit(of: service.uuid, force: force, stopTimeout: stopTimeout, recordingInto: service)
    }

    /// Stops whichever unit runs the service now (SIGKILL first with `force`) and waits for the stop
    /// job; a failed unit is reset so the service reads as stopped. Needs no document: `stop` of a unit
    /// whose document is broken or missing uses it too (after checking what the unit runs).
    ///
    /// With `recordingInto`, this command records how the run ended into that service (see
    /// `RunEndClaim`): the unit's `ExecStopPost=` then exits at once instead of loading and writing
    /// the document itself, so the stop does not wait for a second svcunit process. The caller
    /// persists the service.
    public func stopUnit(of uuid: ServiceUUID, force: Bool, stopTimeout: Duration, recordingInto service: Service? = nil) async throws {
        let name = try await unitStatus(uuid).name
        let watch = try await takeWatch(for: uuid, name)
        defer { keep(watch, for: uuid) }
        watch.drain()
        guard watch.current.isLoaded, watch.current.activeState != .inactive else { return }
        if watch.current.activeState == .failed {
            try await resetFailed(name)
            await waitUntilUnloaded(watch)
            return
        }
        if force {
            do { try await manager.killUnit(name, whom: .all, signal: Signal.kill.rawValue) } catch {
                if error.code == .noSuchUnit { return }
                throw error
            }
        }
        // A forced stop SIGKILLs: only the unit's own ExecStopPost can tell an OOM kill from it.
        // A claim that could not be written (read-only store) is no claim: the unit records the end.
        let claimed = service != nil && !force ? watch.current.invocationID.flatMap { invocation in
            !invocation.isEmpty && RunEndClaim.claim(invocation, of: uuid, in: store) ? invocation : nil
        } : nil
        let jobs = manager.subscribeJobs()
        defer { jobs.cancel() }
        let early = claimed != nil && earlyEnds.withLock { $0.contains(uuid) }
        // Read before the stop: the main process and its start time, to know it again as a zombie.
        let processes = early ? UnitProcesses(controlGroup: watch.current.controlGroup, mainPID: watch.current.mainPID) : nil
        do {
            let job = try await manager.stopUnit(name)
            if let claimed, let service, early {
                // `svcunit stop`: done once the run has ended cleanly and is recorded here; systemd's
                // clean-up (the claimed ExecStopPost, which exits at once) goes on without us. The
                // kernel usually tells first (see `UnitProcesses`); systemd's signals otherwise.
                var seen = watch.current
                if let processes, let end = await Self.cleanEnd(of: processes, watch: watch, before: .now + stopTimeout + .seconds(5)) {
                    seen.activeState = .deactivating
                    seen.subState = .stopPost
                    switch end {
                    case .exited(let status): seen.execMainCode = .exited; seen.execMainStatus = status
                    case .killed(let signal): seen.execMainCode = .killed; seen.execMainStatus = signal
                    }
                } else {
                    seen = try await watch.wait(before: .now + stopTimeout + .seconds(5)) {
                        $0.isFinished || Self.endedCleanly($0, invocation: claimed)
                    }
                }
                if !seen.isFinished, Self.endedCleanly(seen, invocation: claimed) {
                    recordEnd(of: claimed, seen: seen, into: service, keepingClaim: true)
                    var stopped = seen
                    stopped.activeState = .inactive
                    stopped.subState = .dead
                    stoppedStates.withLock { $0[uuid] = stopped }
                    return
                }
            }
            _ = try await jobs.wait(for: job, unit: name, before: .now + stopTimeout + .seconds(5))
        } catch {
            if claimed != nil { RunEndClaim.release(of: uuid, in: store) }
            if error.code == .noSuchUnit { return }
            throw error
        }
        watch.drain()
        if let claimed, let service { recordEnd(of: claimed, seen: watch.current, into: service) }
        defer { if !watch.current.isLoaded { stoppedStates.withLock { $0[uuid] = watch.current } } }
        if watch.current.isLoaded, watch.current.activeState == .failed {
            // It ended badly while stopping (e.g. a non-zero exit on SIGTERM); ExecStopPost recorded
            // the run, so clear the unit and let the service read as stopped.
            try await resetFailed(name)
            await waitUntilUnloaded(watch)
        }
    }

    /// The record `svcunit entrypoint --record-exit` would have written for run `invocationID`,
    /// from the unit's final properties on this command's watch. Nothing when the watch did not see
    /// that run end (then the claim is released, and an ExecStopPost still to come records it).
    private func recordEnd(of invocationID: String, seen final: UnitStatus, into service: Service, keepingClaim: Bool = false) {
        guard final.invocationID == invocationID, final.activeState.isFinal || keepingClaim, let exit = final.exitDescription else {
            RunEndClaim.release(of: service.uuid, in: store)
            return
        }
        let result = final.result?.rawValue ?? "success"
        let run = LastRun(unit: final.name.rawValue, invocationID: invocationID, result: result, exit: exit,
                          finishedAt: Double(WallClock.microseconds()) / 1_000_000)
        service.update { document in
            document.status.lastRun = run
            if run.succeeded { document.status.updateState(.inactive) } else { document.status.updateState(.error, error: run.summary) }
        }
        // A claim the unit's ExecStopPost may still be about to read stays (it names this run only).
        recordedEnds.withLock { $0[service.uuid] = keepingClaim }
    }

    /// Polls the kernel (`UnitProcesses`) until every process of the unit is gone and its main
    /// process ended cleanly (see `endedCleanly`); nil as soon as systemd's own signals say the run
    /// ended or the stop finished first, when the end is not clean, or at `deadline`: then the caller
    /// waits for systemd. Polls every millisecond at first (a stop usually ends within a few), then
    /// every 10 ms.
    static func cleanEnd(of processes: UnitProcesses, watch: UnitWatch, before deadline: ContinuousClock.Instant) async -> UnitProcesses.End? {
        var polls = 0
        while ContinuousClock.now < deadline {
            if let end = processes.end() {
                switch end {
                case .exited(let status): return isClean(.exited, status) ? end : nil
                case .killed(let signal): return isClean(.killed, signal) ? end : nil
                }
            }
            watch.drain()
            if watch.current.isFinished || watch.current.subState == .stopPost { return nil }
            polls += 1
            // Cancelled: leave the wait to systemd's signals (a cancelled sleep would spin here).
            do { try await Task.sleep(for: polls < 200 ? .milliseconds(1) : .milliseconds(10)) } catch { return nil }
        }
        return nil
    }

    /// The run `invocation` has ended the way systemd counts as clean (`isClean`) and only
    /// `ExecStopPost=` remains: the unit will become inactive, not failed, so nothing is left for
    /// this command to reset.
    static func endedCleanly(_ status: UnitStatus, invocation: String) -> Bool {
        guard status.invocationID == invocation, status.subState == .stopPost,
              let code = status.execMainCode, let exit = status.execMainStatus else { return false }
        return isClean(code, exit)
    }

    /// systemd's default `SuccessExitStatus=`: exit 0, or death by SIGHUP, SIGINT, SIGTERM or SIGPIPE.
    static func isClean(_ code: ExecMainCode, _ status: Int32) -> Bool {
        switch code {
        case .exited: return status == 0
        case .killed: return [Signal.hangup, .interrupt, .terminate, .pipe].contains(Signal(rawValue: status))
        default: return false
        }
    }

    /// Lets `svcunit stop` of `uuid` return once the run has ended and is recorded (see `stopUnit`),
    /// for the duration of `body`. Other stops (delete, restart) wait for systemd's stop job.
    public func returningOnceEnded<T>(_ uuid: ServiceUUID, _ body: () async throws -> T) async rethrows -> T {
        earlyEnds.withLock { _ = $0.insert(uuid) }
        defer { earlyEnds.withLock { _ = $0.remove(uuid) } }
        return try await body()
    }

    public func checkStatus(_ service: Service) async -> (ServiceState, String) {
        let status: UnitStatus
        if let stopped = stoppedStates.withLock({ $0.removeValue(forKey: service.uuid) }), manager.lostConnection == nil {
            status = stopped
        } else {
            do { status = try await unitStatus(service.uuid) } catch {
                return (.error, "cannot read the state of \(ServiceUnit(service.uuid).transientUnit): \(error)")
            }
        }
        // A failed run's record is written by the unit's ExecStopPost, possibly after this command loaded
        // the document: read it from disk so that what only the record knows (an OOM kill) is reported.
        let lastRun = status.activeState == .failed || status.subState == .autoRestart
            ? recordedLastRun(service.uuid) ?? service.document.status.lastRun : service.document.status.lastRun
        var (state, reason) = StatusDerivation.derive(status, lastRun: lastRun)
        if state == .inactive, let ended = runEndedDuringStart(service.uuid) {
            // During a start, "not running" after this start's run has ended is its failure, now.
            (state, reason) = (.error, ended)
        } else if state == .inactive, let lastRun = service.document.status.lastRun, !lastRun.succeeded {
            reason += "; last run \(lastRun.summary)"
        }
        observed.withLock { $0[service.uuid] = Observation(unit: status, state: state, reason: reason) }
        return (state, reason)
    }

    public func waitForChange(_ service: Service, deadline: ContinuousClock.Instant, since: ContinuousClock.Instant) async {
        // Nothing can change any more that this connection would see; the caller checks `lostConnection`.
        if manager.lostConnection != nil { return }
        let now = ContinuousClock.now
        if let watch = watches.withLock({ $0[service.uuid] }) {
            // A loaded unit's state comes from the watch's signals, so the next check costs only a
            // probe of the endpoint: the tighter pace. Until the watch has seen the unit, a check
            // reads the manager again, at the manager's pace. Not drained here: a signal that came
            // during the last check must end this wait at once.
            let pace = watch.current.isLoaded ? Backoff.probeDelay(after: now - since) : Backoff.delay(after: now - since)
            _ = try? await watch.next(before: min(deadline, now + pace))
        } else {
            await Backoff.sleep(since: since, until: deadline)
        }
    }

    // MARK: - Starts

    /// Marks a start of the service as under way in this process from `since` (realtime µs): until
    /// `endStart`, a unit that ran since then and is no longer running reads as that start's failure
    /// (`checkStatus` says `error` with how it ended), instead of "not running" until the timeout.
    /// `before` is the unit as read just before the start (its invocation is the previous run's).
    public func beginStart(_ uuid: ServiceUUID, since: UInt64, before: UnitStatus) {
        let attempt = StartAttempt(since: since, previousInvocation: before.invocationID,
                                   persistent: before.name == ServiceUnit(uuid).templateInstance)
        starts.withLock { $0[uuid] = attempt }
    }

    public func endStart(_ uuid: ServiceUUID) {
        _ = starts.withLock { $0.removeValue(forKey: uuid) }
    }

    /// How the run of the start under way ended, when it has: from the unit's own record of the run
    /// (`last_run`, written by ExecStopPost before systemd reports the unit inactive or failed) or,
    /// when that is missing, from the unit's last properties as the watch saw them. Nil while no start
    /// is under way or its run has not ended.
    public func runEndedDuringStart(_ uuid: ServiceUUID) -> String? {
        guard let attempt = starts.withLock({ $0[uuid] }) else { return nil }
        if let run = recordedLastRun(uuid), let finished = run.finishedAt, finished * 1_000_000 >= Double(attempt.since),
           run.invocationID == nil || run.invocationID != attempt.previousInvocation {
            return StatusDerivation.endedWhileStarting(exit: run.outOfMemory ? run.summary : run.exit, otherwise: run.summary)
        }
        guard let watch = watches.withLock({ $0[uuid] }) else { return nil }
        watch.drain()
        let unit = watch.current
        guard let left = unit.inactiveExitTimestamp, left >= attempt.since, unit.activeState.isFinal, unit.jobID == 0,
              unit.invocationID != attempt.previousInvocation else { return nil }
        return StatusDerivation.endedWhileStarting(exit: unit.exitDescription, otherwise: "result \(unit.result?.rawValue ?? "unknown")")
    }

    /// A fresh read of the unit (not the watch's copy): an answer systemd gives after it has handled
    /// everything it received before this call, such as the exit of a program that ended at once.
    public func freshUnitStatus(_ name: UnitName) async throws(SystemdError) -> UnitStatus {
        try await manager.unitStatus(name)
    }

    /// Why this provisioner can no longer reach the user manager (see `SystemdManager.lostConnection`).
    public var lostConnection: (any Error)? { manager.lostConnection }

    // MARK: - Whose unit

    /// What a unit runs compared with this store's document for the UUID (see `UnitOwnership`).
    /// A unit that is not loaded, or `inactive` with no job queued, runs nothing and counts as this store's.
    ///
    /// Not obvious: `ExecStart` is read now, not taken from `unit`: a watch begun before the unit
    /// started holds no `ExecStart`, and systemd sends changes of it as invalidations, never as values. Only a template instance's `Environment` is read (it holds `SVCUNIT_ROOT`).
    public func ownership(of unit: UnitStatus, uuid: ServiceUUID) async throws(SystemdError) -> UnitOwnership {
        // An inactive unit with a job queued is one another start has just created: it counts.
        guard unit.isLoaded, unit.activeState != .inactive || unit.jobID != 0 else { return .ours }
        let execStart = try await manager.execStart(unit.name)
        let environment = unit.name == ServiceUnit(uuid).templateInstance ? try await manager.environment(unit.name) : []
        return UnitOwnership.of(execStart: execStart, environment: environment, ownFile: store.file(for: uuid))
    }

    /// Throws `UnitOwnershipError` when `unit` (loaded and not inactive) runs anything but this
    /// store's document of the service.
    /// - Parameter freshlyRead: `unit` was read from systemd just now, with what it runs
    ///   (`ownership(ofFreshlyRead:uuid:)`): no second call. Only when that read carried an
    ///   `ExecStart`: a unit that was not loaded then and runs now (its state came by signal) is
    ///   read again, as is a stub's empty one.
    public func checkOwnership(_ unit: UnitStatus, freshlyRead: Bool = false, of document: ServiceDocument, refusing action: String) async throws {
        let owner = freshlyRead && !unit.execStart.isEmpty
            ? ownership(ofFreshlyRead: unit, uuid: document.uuid) : try await ownership(of: unit, uuid: document.uuid)
        guard owner != .ours else { return }
        throw UnitOwnershipError(label: document.label, unit: unit.name, ownership: owner, ownFile: store.file(for: document.uuid), refused: action)
    }

    // MARK: - Helpers

    /// After a reset, waits (briefly) for the `UnitRemoved` that follows, so the next status check
    /// does not read the stale `failed` state.
    private func waitUntilUnloaded(_ watch: UnitWatch) async {
        _ = try? await watch.wait(before: .now + .seconds(5)) { !$0.isLoaded || $0.activeState == .inactive }
    }

    /// `ResetFailedUnit`, where "not loaded" means there is nothing left to reset.
    private func resetFailed(_ name: UnitName) async throws(SystemdError) {
        do { try await manager.resetFailedUnit(name) } catch {
            if error.code != .noSuchUnit { throw error }
        }
    }

    /// What the last `checkStatus` of the service read and derived, if it ran.
    public func lastObservation(_ uuid: ServiceUUID) -> Observation? {
        observed.withLock { $0[uuid] }
    }

    /// The status of the unit that runs the service now: the transient unit, or the svcunit@
    /// template instance when the service was made persistent. Through the watch held for the
    /// service when it shows a loaded unit, else fresh reads.
    public func unitStatus(_ uuid: ServiceUUID) async throws(SystemdError) -> UnitStatus {
        try await unitStatus(uuid, watchJustTaken: false)
    }

    /// `unitStatus`; `watchJustTaken`: the watch held for the service was taken a moment ago (by
    /// `watch(_:)`), so its own read of the transient unit, made as it subscribed, is that unit's
    /// state. Later, a not-loaded watch may only not have heard yet of a unit this command started,
    /// so the unit is read again.
    /// - Parameter instanceState: the template instance's side, when the caller asked for it already.
    private func unitStatus(_ uuid: ServiceUUID, watchJustTaken: Bool,
                            instanceState prefetched: (() async -> Result<InstanceState, SystemdError>)? = nil) async throws(SystemdError) -> UnitStatus {
        // A watch's state is frozen once the connection is gone: never report it as current.
        if let lost = manager.lostConnection { throw lost }
        let unit = ServiceUnit(uuid)
        var watched: UnitStatus?
        if let current = watchedStatus(uuid) {
            if current.isLoaded { return current }
            if watchJustTaken, current.name == unit.transientUnit { watched = current }
        }
        let transient: UnitStatus
        if let watched { transient = watched } else { transient = try await manager.unitStatus(unit.transientUnit) }
        if transient.isLoaded, transient.activeState != .inactive { return transient }
        // The template instance stands for the service only when it runs or is enabled; a merely
        // loadable instance (the template is installed) says nothing about this service.
        let read: Result<InstanceState, SystemdError>
        if let prefetched { read = await prefetched() } else { read = await instanceState(unit) }
        let state = try read.get()
        return ServiceUnit.standing(transient: transient, instance: state.instance, instanceEnabled: state.enabled) ?? transient
    }

    /// The template instance and whether its unit file is enabled.
    struct InstanceState {
        let instance: UnitStatus
        let enabled: Bool
    }

    /// Reads the template instance; for one the manager has let go of (stopped, nothing pulls it
    /// in until the next daemon-reload), which has no UnitFileState, the unit file, which loads nothing.
    /// Both are asked for at once: the instance of a service never enabled is not loaded, the case
    /// of almost every start, and the unit file's answer is cheap when it is not needed.
    private func instanceState(_ unit: ServiceUnit) async -> Result<InstanceState, SystemdError> {
        async let fileEnabled = isEnabled(unit)
        do throws(SystemdError) {
            let instance = try await manager.unitStatus(unit.templateInstance)
            let enabled = instance.isLoaded ? instance.unitFileState?.isEnabled == true : await fileEnabled
            return .success(InstanceState(instance: instance, enabled: enabled))
        } catch {
            return .failure(error)
        }
    }

    /// Whether `svcunit enable` made the service persistent (its template instance is enabled).
    public func isEnabled(_ unit: ServiceUnit) async -> Bool {
        (try? await manager.unitFileState(unit.templateInstance))?.isEnabled == true
    }

    /// Starts watching a service's unit (before acting on it) for the following waits, and returns
    /// the unit that stands for the service now (`unitStatus`), its transient unit's state taken from
    /// a new watch's own read instead of a second one.
    public func watch(_ uuid: ServiceUUID) async throws(SystemdError) -> UnitStatus {
        try await watchReading(uuid).unit
    }

    /// `watch`, and whether the unit was read from systemd just now (no watch was held for the
    /// service): then it carries what it runs, for `checkOwnership(_:freshlyRead:of:refusing:)`.
    /// - Parameter forStart: the caller is about to start the service, which is most often stopped:
    ///   then its transient unit is not loaded, and the template instance and its unit file decide
    ///   what stands for it. They are asked for while the transient unit is read, not after it
    ///   (three round trips one after another before; a stop or a status of a running service
    ///   needs neither, and keeps the old order).
    public func watchReading(_ uuid: ServiceUUID, forStart: Bool = false) async throws(SystemdError) -> (unit: UnitStatus, freshlyRead: Bool) {
        let name = ServiceUnit(uuid).transientUnit
        let held = watches.withLock { $0[uuid] != nil }
        let heldOnName = watches.withLock { $0[uuid]?.name == name }
        guard forStart, !heldOnName else {
            keep(try await takeWatch(for: uuid, name), for: uuid)
            return (try await unitStatus(uuid, watchJustTaken: !heldOnName), !held)
        }
        let unit = ServiceUnit(uuid)
        let instance = Task { await instanceState(unit) }
        keep(try await takeWatch(for: uuid, name), for: uuid)
        return (try await unitStatus(uuid, watchJustTaken: true, instanceState: { await instance.value }), !held)
    }

    /// The watch held for the service if it is on `name`, else a new one.
    private func takeWatch(for uuid: ServiceUUID, _ name: UnitName) async throws(SystemdError) -> UnitWatch {
        if let existing = watches.withLock({ $0[uuid] }), existing.name == name { return existing }
        return try await manager.watchUnit(name)
    }

    /// The unit as the watch held for the service has it now (every signal received applied),
    /// without asking the manager; nil when no watch is held.
    public func watchedStatus(_ uuid: ServiceUUID) -> UnitStatus? {
        guard let watch = watches.withLock({ $0[uuid] }) else { return nil }
        watch.drain()
        return watch.current
    }

    /// Whether this provisioner holds a watch on the service's unit (then `unitStatus` answers from it).
    public func isWatching(_ uuid: ServiceUUID) -> Bool {
        watches.withLock { $0[uuid] != nil }
    }

    private func keep(_ watch: UnitWatch, for uuid: ServiceUUID) {
        watches.withLock { $0[uuid] = watch }
    }

    /// Writes the service JSON under the store lock, keeping a `last_run` that the unit's
    /// `ExecStopPost` wrote meanwhile (it is newer than anything this process knows).
    /// - Parameter durable: false for a record a crash may lose (the previous document then stays,
    ///   whole): the state a start reached, whose request (`admin_state`) was written durably when it began.
    /// Not obvious: async so that waiting for the lock takes no thread of the cooperative pool (see
    /// `ServiceStore.withLock(awaiting:)`); a start of this process may hold it across its D-Bus call.
    public func persist(_ service: Service, durable: Bool = true) async throws {
        try await store.withLock(awaiting: service.uuid) { try persistHoldingLock(service, durable: durable) }
    }

    /// `persist` for synchronous code (storing a new service), which blocks its thread while
    /// another holds the lock.
    public func persistBlocking(_ service: Service) throws {
        try store.withLock(service.uuid) { try persistHoldingLock(service) }
    }

    /// `persist`, for a caller that holds the service's lock already.
    private func persistHoldingLock(_ service: Service, durable: Bool = true) throws {
        let keptClaim = recordedEnds.withLock { $0.removeValue(forKey: service.uuid) }
        let claimed = keptClaim != nil
        if let recorded = recordedLastRun(service.uuid) {
            service.update { document in
                // An end this command recorded itself stays, unless the unit recorded that very
                // run too (a SIGKILLed run, which only the unit can check for OOM kills).
                let mine = claimed ? document.status.lastRun : nil
                if mine == nil || recorded.invocationID == mine?.invocationID, document.status.lastRun != recorded {
                    document.status.lastRun = recorded
                }
            }
        }
        try store.save(service, syncingDirectory: durable)
        if claimed {
            if keptClaim == false { RunEndClaim.release(of: service.uuid, in: store) }
            PythonService.removeStalePIDFile(service.document)
        }
    }

    /// The `status.last_run` in the service's file on disk now, if it has a readable one.
    private func recordedLastRun(_ uuid: ServiceUUID) -> LastRun? {
        guard let data = try? store.read(uuid), let onDisk = try? JSONText.parse(data), case .object(let root) = onDisk,
              case .object(let status)? = root["status"] else { return nil }
        return status[LastRun.key].flatMap(LastRun.init(json:))
    }

    /// The last `count` lines the service's own processes wrote since `since` (µs since the epoch),
    /// for error messages: its stdout/stderr (`SYSLOG_IDENTIFIER=svcunit-<uuid>`) and whatever else its
    /// processes logged (`_SYSTEMD_USER_UNIT`/`_SYSTEMD_UNIT` of either unit), never the manager's own
    /// lines about the unit ("Started …", "Main process exited …"), which carry `USER_UNIT=` instead.
    public func serviceOutput(_ unit: ServiceUnit, since: UInt64, count: Int) async throws -> [String] {
        let reader = try await JournalReader(scope: .localOnly)
        defer { reader.close() }
        var groups: [[JournalMatch]] = [[try JournalMatch(field: "SYSLOG_IDENTIFIER", value: unit.syslogIdentifier)]]
        for name in [unit.transientUnit, unit.templateInstance] {
            groups.append([try JournalMatch(field: "_SYSTEMD_USER_UNIT", value: name.rawValue), try JournalMatch(field: "_UID", value: String(CurrentProcess.userID))])
            groups.append([try JournalMatch(field: "_SYSTEMD_UNIT", value: name.rawValue)])
        }
        try await reader.setFilter(JournalFilter(anyOf: groups))
        try await reader.seek(toRealtime: since)
        var lines: [String] = []
        while true {
            let batch = try await reader.readForward(limit: 1024)
            if batch.isEmpty { break }
            lines += batch.map(\.message)
            if lines.count > 4 * count { lines.removeFirst(lines.count - count) }
        }
        return Array(lines.suffix(count))
    }
}
