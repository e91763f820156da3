public import SDBus
import Synchronization
import OSCalls

/// A client of one systemd manager (`org.freedesktop.systemd1`), usually the user's.
///
/// The counterpart of go-systemd's `dbus.Conn`: typed methods for the Manager interface and typed
/// unit state, with waits driven by `JobRemoved` and `PropertiesChanged` signals rather than polling.
/// Safe to share between tasks; calls run concurrently over one connection. Not obvious: on a broker
/// connection systemd only broadcasts unit signals after `Subscribe()`, which `init` does; on the direct
/// `systemd/private` socket every signal reaches every peer and no subscription is needed.
public final class SystemdManager: Sendable {
    public let bus: BusConnection

    static let destination = "org.freedesktop.systemd1"
    static let managerPath: ObjectPath = "/org/freedesktop/systemd1"
    static let managerInterface = "org.freedesktop.systemd1.Manager"
    public static let unitInterface = "org.freedesktop.systemd1.Unit"
    public static let serviceInterface = "org.freedesktop.systemd1.Service"

    /// Wraps an open connection to a systemd manager, subscribing to its signals when it is a broker.
    ///
    /// - Throws: `SystemdError` with code `.noUserManager` when the manager does not answer.
    public init(bus: BusConnection) async throws(SystemdError) {
        self.bus = bus
        if bus.isBrokered {
            do {
                _ = try await bus.call(MethodCall(destination: Self.destination, path: Self.managerPath,
                                                  interface: Self.managerInterface, member: "Subscribe"))
            } catch let error as BusError where error.name == SystemdErrorName.alreadySubscribed {
                // Another user of this connection subscribed first: that is all we need.
            } catch {
                throw SystemdManager.unreachable(error, address: bus.address)
            }
        }
    }

    /// Connects to the current user's systemd manager the way `systemctl --user` does: the direct
    /// socket `$XDG_RUNTIME_DIR/systemd/private` first (no broker hop, all signals), then the user bus.
    ///
    /// - Parameter environment: where to read `XDG_RUNTIME_DIR` and `SVCUNIT_FORCE_BUS` (set it to
    ///   `1` to skip the direct socket, e.g. to test the broker path).
    /// - Throws: `SystemdError` with code `.noUserManager` and a hint of what to check.
    public static func connectUser(environment: [String: String] = currentEnvironment()) async throws(SystemdError) -> SystemdManager {
        let runtimeDir = environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        if environment["SVCUNIT_FORCE_BUS"] != "1", let runtimeDir {
            let privateSocket = runtimeDir + "/systemd/private"
            // No extra round trip to prove it: a socket nobody listens on fails at connect, and every
            // command's first call reports a peer that is not systemd clearly enough.
            if PathFacts.exists(privateSocket),
               let bus = try? BusConnection.connect(address: BusConnection.unixAddress(path: privateSocket), brokered: false),
               let manager = try? await SystemdManager(bus: bus) {
                return manager
            }
        }
        // The user bus at the address `sd_bus_open_user` would choose, but taken from `environment`
        // (which that call ignores: it reads the process's own).
        guard let (address, shown) = userBusAddress(environment) else {
            throw unreachable(BusError(code: .connectionFailed, message: "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set"),
                              address: "$XDG_RUNTIME_DIR/bus")
        }
        let bus: BusConnection
        do {
            bus = try BusConnection.connect(address: address, brokered: true)
        } catch {
            throw unreachable(error, address: shown)
        }
        return try await SystemdManager(bus: bus)
    }

    /// The user bus's address as libsystemd derives it, `$DBUS_SESSION_BUS_ADDRESS`, else
    /// `unix:path=$XDG_RUNTIME_DIR/bus`, and how to name it in messages (the socket's path for the
    /// latter); nil when neither variable is set.
    static func userBusAddress(_ environment: [String: String]) -> (address: String, shown: String)? {
        if let address = environment["DBUS_SESSION_BUS_ADDRESS"], !address.isEmpty { return (address, address) }
        guard let runtimeDir = environment["XDG_RUNTIME_DIR"], !runtimeDir.isEmpty else { return nil }
        return (BusConnection.unixAddress(path: runtimeDir + "/bus"), runtimeDir + "/bus")
    }

    /// What to do first, then what was tried: the errno text ("No medium found", "Connection
    /// refused") means little to a user and says nothing about the remedy, so it comes last.
    static func unreachable(_ error: any Error, address: String) -> SystemdError {
        if let bus = error as? BusError, bus.code == .libraryUnavailable { return SystemdError.libraryUnavailable(bus) }
        return SystemdError(code: .noUserManager,
                     message: "no systemd user manager is reachable: log in to a session of this user (or run `loginctl enable-linger $USER` "
                        + "for services without one), then check that `systemctl --user status` works and XDG_RUNTIME_DIR is set "
                        + "(tried \(address): \((error as? BusError)?.message ?? "\(error)"))",
                     busError: error as? BusError)
    }

    /// Why this client can no longer talk to the manager (the user manager exited or was killed, or
    /// the connection was closed), as a `.noUserManager` error; nil while the connection is up.
    ///
    /// Not obvious: a wait that keeps a unit's state from signals (`UnitWatch`) would otherwise keep
    /// seeing the last state forever; it checks this to end at once (exit 6 in the CLI).
    public var lostConnection: SystemdError? {
        guard let error = bus.disconnection else { return nil }
        return SystemdError(code: .noUserManager,
                            message: "lost the connection to the systemd user manager (\(error.message)); it exited, was killed or restarted",
                            busError: error, hint: "check `systemctl --user status`, then run the command again")
    }

    /// The current process's environment as a dictionary (`CurrentProcess.environmentVariables`).
    public static func currentEnvironment() -> [String: String] { CurrentProcess.environmentVariables }

    // MARK: - Calls

    func managerCall(_ member: String, _ arguments: [BusValue], unit: UnitName?, timeout: Duration? = nil) async throws(SystemdError) -> [BusValue] {
        let call = MethodCall(destination: Self.destination, path: Self.managerPath, interface: Self.managerInterface,
                              member: member, arguments: arguments)
        do {
            return try await bus.call(call, timeout: timeout)
        } catch {
            throw SystemdError.from(error, operation: member, unit: unit)
        }
    }

    func jobPath(_ reply: [BusValue], _ operation: String, unit: UnitName?) throws(SystemdError) -> ObjectPath {
        guard let path = reply.first?.objectPathValue else {
            throw SystemdError(code: .protocolError, message: "\(operation) returned no job path", unit: unit)
        }
        return path
    }

    /// The manager's `Version` property, e.g. `252.38-1~deb12u1`.
    public func version() async throws(SystemdError) -> String {
        do {
            let reply = try await bus.call(.getProperty(destination: Self.destination, path: Self.managerPath,
                                                        interface: Self.managerInterface, property: "Version"))
            return reply.first?.stringValue ?? ""
        } catch {
            throw SystemdError.from(error, operation: "read Version", unit: nil)
        }
    }

    /// `StartTransientUnit(s name, s mode, a(sv) properties, a(sa(sv)) aux) → o job`.
    ///
    /// - Parameter aux: further transient units created with it (e.g. a socket's service); usually empty.
    /// - Throws: `SystemdError`: `.unitExists` when a unit of that name is loaded (running, or failed and
    ///   not reset), `.invalidProperty` when systemd refuses a property.
    public func startTransientUnit(_ name: UnitName, mode: JobMode = .fail, properties: [UnitProperty],
                                   aux: [(UnitName, [UnitProperty])] = []) async throws(SystemdError) -> ObjectPath {
        let auxValue = BusValue.array(of: "(sa(sv))", aux.map { unit, props in
            .structure([.string(unit.rawValue), .array(of: "(sv)", props.map(\.busValue))])
        })
        let reply = try await managerCall("StartTransientUnit", [
            .string(name.rawValue), .string(mode.rawValue), .array(of: "(sv)", properties.map(\.busValue)), auxValue,
        ], unit: name)
        return try jobPath(reply, "StartTransientUnit", unit: name)
    }

    /// `StartUnit(s name, s mode) → o job`.
    public func startUnit(_ name: UnitName, mode: JobMode = .replace) async throws(SystemdError) -> ObjectPath {
        try jobPath(try await managerCall("StartUnit", [.string(name.rawValue), .string(mode.rawValue)], unit: name), "StartUnit", unit: name)
    }

    /// `StopUnit(s name, s mode) → o job`. On a failed unit the job succeeds but the unit stays
    /// `failed` until `resetFailedUnit`.
    public func stopUnit(_ name: UnitName, mode: JobMode = .replace) async throws(SystemdError) -> ObjectPath {
        try jobPath(try await managerCall("StopUnit", [.string(name.rawValue), .string(mode.rawValue)], unit: name), "StopUnit", unit: name)
    }

    /// `RestartUnit(s name, s mode) → o job`.
    public func restartUnit(_ name: UnitName, mode: JobMode = .replace) async throws(SystemdError) -> ObjectPath {
        try jobPath(try await managerCall("RestartUnit", [.string(name.rawValue), .string(mode.rawValue)], unit: name), "RestartUnit", unit: name)
    }

    /// `KillUnit(s name, s whom, i signal)`: sends `signal` without queuing a job.
    public func killUnit(_ name: UnitName, whom: KillTarget = .all, signal: Int32) async throws(SystemdError) {
        _ = try await managerCall("KillUnit", [.string(name.rawValue), .string(whom.rawValue), .int32(signal)], unit: name)
    }

    /// `ResetFailedUnit(s name)`: clears `failed`; a failed transient unit is unloaded at once.
    public func resetFailedUnit(_ name: UnitName) async throws(SystemdError) {
        _ = try await managerCall("ResetFailedUnit", [.string(name.rawValue)], unit: name)
    }

    /// `GetUnit(s name) → o`: only for loaded units.
    ///
    /// - Throws: `SystemdError` with code `.noSuchUnit` when the unit is not loaded.
    public func getUnit(_ name: UnitName) async throws(SystemdError) -> ObjectPath {
        let reply = try await managerCall("GetUnit", [.string(name.rawValue)], unit: name)
        guard let path = reply.first?.objectPathValue else {
            throw SystemdError(code: .protocolError, message: "GetUnit returned no path", unit: name)
        }
        return path
    }

    /// `ListUnitsByPatterns(as states, as patterns)`: the loaded units whose names match the globs,
    /// in one call. Units that are not loaded are absent (they are inactive by definition).
    public func listUnitsByPatterns(states: [String] = [], patterns: [String]) async throws(SystemdError) -> [UnitListEntry] {
        let reply = try await managerCall("ListUnitsByPatterns", [.stringArray(states), .stringArray(patterns)], unit: nil)
        return (reply.first?.arrayValue ?? []).compactMap(UnitListEntry.init)
    }

    /// One change `EnableUnitFiles`/`DisableUnitFiles` made: (`symlink`|`unlink`, path, target).
    public struct UnitFileChange: Sendable, Hashable {
        public var type: String
        public var path: String
        public var destination: String
    }

    /// `EnableUnitFiles(as files, b runtime, b force) → (b carries_install_info, a(sss) changes)`:
    /// creates the `[Install]` symlinks (`systemctl --user enable`), e.g. for `svcunit@<uuid>.service`.
    public func enableUnitFiles(_ names: [UnitName], runtime: Bool = false, force: Bool = true) async throws(SystemdError) -> [UnitFileChange] {
        let reply = try await managerCall("EnableUnitFiles", [.stringArray(names.map(\.rawValue)), .bool(runtime), .bool(force)],
                                          unit: names.first)
        return Self.changes(reply.count > 1 ? reply[1] : nil)
    }

    /// `DisableUnitFiles(as files, b runtime) → a(sss) changes` (`systemctl --user disable`).
    public func disableUnitFiles(_ names: [UnitName], runtime: Bool = false) async throws(SystemdError) -> [UnitFileChange] {
        let reply = try await managerCall("DisableUnitFiles", [.stringArray(names.map(\.rawValue)), .bool(runtime)], unit: names.first)
        return Self.changes(reply.first)
    }

    /// `GetUnitFileState(s file) → s`: `enabled`, `disabled`, `static`, `linked`, …
    /// - Throws: `.protocolError` for an answer that is not one of systemd's unit file states.
    public func unitFileState(_ name: UnitName) async throws(SystemdError) -> UnitFileState {
        let word = try await managerCall("GetUnitFileState", [.string(name.rawValue)], unit: name).first?.stringValue ?? ""
        guard let state = UnitFileState(rawValue: word) else {
            throw SystemdError(code: .protocolError, message: "GetUnitFileState answered \(word.debugDescription), not a unit file state", unit: name)
        }
        return state
    }

    static func changes(_ value: BusValue?) -> [UnitFileChange] {
        (value?.arrayValue ?? []).compactMap { item in
            guard let f = item.structureValue, f.count == 3, let t = f[0].stringValue, let p = f[1].stringValue,
                  let d = f[2].stringValue else { return nil }
            return UnitFileChange(type: t, path: p, destination: d)
        }
    }

    /// `Reload()`: re-reads unit files (`systemctl --user daemon-reload`).
    public func reload() async throws(SystemdError) {
        _ = try await managerCall("Reload", [], unit: nil, timeout: .seconds(90))
    }

    /// Every property of the unit (its `Unit` interface and its type's, e.g. `Service`), in ONE
    /// `GetAll` call.
    ///
    /// Not obvious: the call names no interface (`""`), which sd-bus answers with the properties of
    /// every interface of the object (systemd's own `systemctl show` does the same), so a status costs
    /// one round trip instead of one per interface; and only `UnitStatus.propertyNames` of its 400 or
    /// so are decoded (decoding them all was most of the CPU time of `start` of 100 services).
    ///
    /// A unit the manager does not hold in memory is never loaded: `GetUnit` asks first, and such a
    /// unit reads as not loaded and `inactive` (empty `properties`). A `GetAll` on its path would load
    /// it (a `not-found` stub, or an idle template instance), announce it with `UnitNew` to every
    /// peer of the private socket, collect it and announce `UnitRemoved`: with a dozen svcunit
    /// processes polling, that churn kept the manager's event loop so busy that its job queue (run
    /// at idle priority) did not start a queued unit for 27 s (seen in the fault suite).
    public func unitStatus(_ name: UnitName) async throws(SystemdError) -> UnitStatus {
        do {
            _ = try await getUnit(name)
        } catch let error where error.code == .noSuchUnit {
            return UnitStatus(name: name, properties: [:])
        }
        do {
            let reply = try await bus.call(.getAllProperties(destination: Self.destination, path: name.objectPath, interface: "",
                                                             keeping: UnitStatus.propertyNames))
            return UnitStatus(name: name, properties: reply.first?.stringKeyedDictionary ?? [:])
        } catch {
            throw SystemdError.from(error, operation: "read the properties of", unit: name)
        }
    }

    /// One property of a unit, e.g. `("org.freedesktop.systemd1.Service", "MainPID")`.
    public func unitProperty(_ name: UnitName, interface: String, property: String) async throws(SystemdError) -> BusValue {
        do {
            let reply = try await bus.call(.getProperty(destination: Self.destination, path: name.objectPath,
                                                        interface: interface, property: property))
            guard let v = reply.first else {
                throw SystemdError(code: .protocolError, message: "Get \(property) returned nothing", unit: name)
            }
            return v.unwrappedVariant
        } catch {
            throw SystemdError.from(error, operation: "read \(property) of", unit: name)
        }
    }

    // MARK: - Waiting on events

    /// Subscribes to `JobRemoved` before anything is started, so no job's end can be missed.
    public func subscribeJobs() -> JobWatch {
        JobWatch(subscription: bus.subscribe(SignalMatch(path: Self.managerPath, interface: Self.managerInterface,
                                                         member: "JobRemoved")))
    }

    /// Subscribes to a unit's `PropertiesChanged` (and its `UnitRemoved`), then reads its current
    /// properties, so every change after the snapshot arrives as a signal.
    public func watchUnit(_ name: UnitName) async throws(SystemdError) -> UnitWatch {
        let subscription = bus.subscribe([
            .propertiesChanged(path: name.objectPath),
            SignalMatch(path: Self.managerPath, interface: Self.managerInterface, member: "UnitRemoved", arg0: name.rawValue),
        ])
        do {
            let status = try await unitStatus(name)
            return UnitWatch(name: name, initial: status, subscription: subscription,
                             refresh: { [weak self] in try await self?.unitStatus(name) })
        } catch {
            subscription.cancel()
            throw error
        }
    }
}

/// `JobRemoved(u id, o job, s unit, s result)` signals, for waiting on the jobs one started.
///
/// Create it (with `SystemdManager.subscribeJobs()`) before the call that queues the job; then
/// `wait(for:)` with the returned job path. Cancel it when done.
public final class JobWatch: Sendable {
    let subscription: SignalSubscription

    init(subscription: SignalSubscription) { self.subscription = subscription }

    /// Waits for the job at `job` to finish and returns its result.
    ///
    /// - Throws: `SystemdError` with code `.timedOut` when `deadline` passes first.
    public func wait(for job: ObjectPath, unit: UnitName? = nil, before deadline: ContinuousClock.Instant? = nil) async throws(SystemdError) -> JobResult {
        while true {
            let signal: BusSignal?
            do {
                signal = try await subscription.next(before: deadline)
            } catch {
                throw SystemdError.from(error, operation: "wait for job \(job)", unit: unit)
            }
            guard let signal else {
                throw SystemdError(code: .timedOut, message: "timed out waiting for job \(job)", unit: unit)
            }
            let args = signal.arguments
            guard args.count == 4, args[1].objectPathValue == job, let result = args[3].stringValue else { continue }
            return JobResult(rawValue: result)
        }
    }

    public func cancel() { subscription.cancel() }
}

/// A unit's properties kept current from `PropertiesChanged`, for waiting on state changes.
///
/// Not obvious: the first signal after a start may still say `inactive` (a snapshot from before the
/// job ran); predicates should check `UnitStatus.isFinished` (no job pending), not `ActiveState` alone.
/// Waiting is meant for one task at a time (two waiters would split the signals between them), but
/// reading `current` is safe from anywhere: the properties are guarded by the watch itself.
public final class UnitWatch: Sendable {
    public let name: UnitName
    private let properties: Mutex<[String: BusValue]>
    private let subscription: SignalSubscription
    private let refresh: @Sendable () async throws -> UnitStatus?

    /// After each stretch this long without a signal, `wait` re-reads the properties (one `GetAll`
    /// call): a safety net for a change whose signal systemd coalesced away (seen around a concurrent
    /// daemon-reload). A wait of a minute costs at most about 120 cheap calls.
    static let resyncAfterSilence: Duration = .seconds(1)

    init(name: UnitName, initial: UnitStatus, subscription: SignalSubscription,
         refresh: @escaping @Sendable () async throws -> UnitStatus?) {
        self.name = name
        self.properties = Mutex(initial.properties)
        self.subscription = subscription
        self.refresh = refresh
    }

    deinit { subscription.cancel() }

    /// The latest known status.
    public var current: UnitStatus { properties.withLock { UnitStatus(name: name, properties: $0) } }

    /// The next change (possibly to the same state), or nil when `deadline` passes.
    public func next(before deadline: ContinuousClock.Instant? = nil) async throws(SystemdError) -> UnitStatus? {
        let signal: BusSignal?
        do {
            signal = try await subscription.next(before: deadline)
        } catch {
            throw SystemdError.from(error, operation: "watch", unit: name)
        }
        guard let signal else { return nil }
        apply(signal)
        return current
    }

    /// Applies every change already received, without waiting, so `current` is up to date.
    public func drain() {
        while let signal = subscription.poll() { apply(signal) }
    }

    private func apply(_ signal: BusSignal) {
        properties.withLock { properties in
            if signal.member == "UnitRemoved" {
                // Garbage-collected after a clean exit or a reset: systemd forgot the unit. A daemon-reload
                // also sends UnitRemoved (and UnitNew) for units that live on, so only a unit with nothing
                // running can have been collected.
                if UnitStatus(name: name, properties: properties).activeState.isFinal {
                    properties["LoadState"] = .string(LoadState.notFound.rawValue)
                }
                return
            }
            guard signal.arguments.count >= 2, let changed = signal.arguments[1].stringKeyedDictionary else { return }
            properties.merge(changed) { _, new in new }
            // LoadState is constant, so it never comes in a signal; but systemd only sends them for loaded
            // units. A watch begun on a unit the manager did not hold yet (no LoadState), or one it
            // had collected (`not-found`), now watches a loaded unit: say so.
            let loadState = properties["LoadState"]?.stringValue
            if loadState == nil || loadState == LoadState.notFound.rawValue {
                properties["LoadState"] = .string(LoadState.loaded.rawValue)
            }
        }
    }

    /// Waits until `predicate` holds for the unit's status, checking the current one first.
    ///
    /// - Throws: `SystemdError` with code `.timedOut` (naming the last state) when `deadline` passes.
    public func wait(before deadline: ContinuousClock.Instant?, until predicate: (UnitStatus) -> Bool) async throws(SystemdError) -> UnitStatus {
        var status = current
        while !predicate(status) {
            let slice = ContinuousClock.now.advanced(by: Self.resyncAfterSilence)
            let wake = deadline.map { min($0, slice) } ?? slice
            if let next = try await next(before: wake) {
                status = next
                continue
            }
            if let deadline, ContinuousClock.now >= deadline {
                throw SystemdError(code: .timedOut,
                                   message: "timed out waiting for \(name) (last state \(status.activeState.rawValue)/\(status.subState))",
                                   unit: name)
            }
            if let fresh = try? await refresh() {
                // A full read is the truth: a unit the manager no longer holds has no properties
                // left to merge, so its read replaces the old ones.
                properties.withLock { properties in
                    if fresh.isLoaded { properties.merge(fresh.properties) { _, new in new } } else { properties = fresh.properties }
                }
                status = current
            }
        }
        return status
    }

    public func cancel() { subscription.cancel() }
}
