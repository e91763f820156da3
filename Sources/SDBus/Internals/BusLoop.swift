// The owner of one sd_bus and everything made from it: its loop runs on an `OwnerThread` (SDWorker,
// shared with SDJournal), and every sd_bus_* call happens there.
internal import CSystemd
import Glibc
import SDWorker
import Synchronization

final class BusLoop: @unchecked Sendable {
    typealias Job = @Sendable (BusLoop) -> Void

    // Touched only on the loop thread (documented confinement; this is what @unchecked covers).
    private let bus: BusPointer
    private var pendingCalls: [UInt64: PendingCall] = [:]
    private var subscriptions: [UInt64: Subscription] = [:]
    private var nextKey: UInt64 = 1
    private var deadError: BusError?

    /// Why the connection died (set once, on the loop thread), readable from any thread.
    let disconnection = Mutex<BusError?>(nil)
    private let thread: OwnerThread<Job>

    init(bus: BusPointer) throws(BusError) {
        self.bus = bus
        do throws(OwnerThreadError) {
            thread = try OwnerThread<Job>()
        } catch {
            BusOpen.close(bus)
            throw BusError.fromErrno(error.errno, operation: "create the bus loop's \(error.operation)")
        }
        do throws(OwnerThreadError) {
            try thread.start { [self] owner in run(owner) }
        } catch {
            BusOpen.close(bus)
            throw BusError.fromErrno(error.errno, operation: "start the bus thread")
        }
    }

    /// Runs `job` on the loop thread. Returns false when the loop has shut down (the job is dropped).
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool { thread.submit(job) }

    /// Asks the loop to flush, fail what is pending, close the bus and end the thread.
    func shutdown() { thread.close() }

    private func run(_ owner: OwnerThread<Job>) {
        let busFD = BusIO.fd(bus)
        while true {
            let (jobs, closed) = owner.takeJobs()
            for job in jobs { job(self) }
            if closed { break }
            if deadError == nil {
                do {
                    while try BusIO.process(bus) {}
                } catch {
                    markDead(error)
                }
            }
            let events = deadError == nil ? Int16(truncatingIfNeeded: BusIO.events(bus)) : 0
            let timeout = deadError == nil ? BusIO.pollTimeoutMilliseconds(bus) : -1
            let polled = owner.poll([(busFD, events)], timeout: timeout)
            if let failure = polled.errno { markDead(BusError.fromErrno(failure, operation: "poll the bus")) }
        }
        // Jobs that raced with shutdown still run so their continuations resume.
        for job in owner.takeJobs().jobs { job(self) }
        if deadError == nil { BusIO.flush(bus) }
        markDead(BusError(code: .disconnected, message: "the bus connection was closed"))
        BusOpen.close(bus)
        owner.finish()
    }

    /// Fails every pending call and ends every subscription; later jobs fail at once.
    private func markDead(_ error: BusError) {
        if deadError == nil {
            deadError = error
            disconnection.withLock { $0 = error }
        }
        let calls = pendingCalls
        pendingCalls.removeAll()
        for (_, call) in calls { call.complete(.failure(error)) }
        let subs = subscriptions
        subscriptions.removeAll()
        for (_, sub) in subs {
            BusMessages.unrefSlot(sub.slot)
            sub.subscription?.end(error)
        }
    }

    // MARK: Jobs (all run on the loop thread)

    final class PendingCall {
        let key: UInt64
        unowned(unsafe) let loop: BusLoop
        let operation: String
        let replyKeys: Set<String>?
        /// Called once, on the bus thread, with the reply's arguments or the error.
        let complete: Completion
        init(key: UInt64, loop: BusLoop, operation: String, replyKeys: Set<String>?, complete: @escaping Completion) {
            self.key = key
            self.loop = loop
            self.operation = operation
            self.replyKeys = replyKeys
            self.complete = complete
        }
    }

    final class Subscription {
        let key: UInt64
        unowned(unsafe) let loop: BusLoop
        let rule: String
        var slot: SlotPointer! = nil
        // Weak: the consumer owns the subscription; when it is dropped its deinit removes this entry.
        weak var subscription: SignalSubscription?
        init(key: UInt64, loop: BusLoop, rule: String, subscription: SignalSubscription) {
            self.key = key
            self.loop = loop
            self.rule = rule
            self.subscription = subscription
        }
    }

    typealias Completion = @Sendable (Result<[BusValue], any Error>) -> Void

    func startCall(_ call: MethodCall, timeoutMicroseconds: UInt64,
                   complete: @escaping Completion) {
        if let deadError { return complete(.failure(deadError.with(operation: call.operationDescription))) }
        let key = nextKey
        nextKey += 1
        let pending = PendingCall(key: key, loop: self, operation: call.operationDescription, replyKeys: call.replyKeys,
                                  complete: complete)
        do {
            let m = try BusMessages.newMethodCall(bus, call)
            defer { BusMessages.unref(m) }
            pendingCalls[key] = pending
            try BusMessages.callAsync(bus, m, timeoutMicroseconds: timeoutMicroseconds,
                                      handler: BusLoop.replyHandler,
                                      userdata: Unmanaged.passUnretained(pending).toOpaque())
        } catch {
            pendingCalls[key] = nil
            complete(.failure(error.with(operation: call.operationDescription)))
        }
    }

    private static let replyHandler: MessageHandler = { m, userdata, _ in
        let pending = Unmanaged<PendingCall>.fromOpaque(userdata!).takeUnretainedValue()
        pending.loop.finishCall(pending, reply: m!)
        return 1
    }

    private func finishCall(_ pending: PendingCall, reply m: MessagePointer) {
        guard pendingCalls.removeValue(forKey: pending.key) != nil else { return }
        if let error = BusMessages.error(of: m) {
            pending.complete(.failure(error.with(operation: pending.operation)))
            return
        }
        do {
            if let keys = pending.replyKeys {
                pending.complete(.success(try BusMessages.readPropertyMap(m, keeping: keys)))
            } else {
                pending.complete(.success(try BusMessages.readAll(m)))
            }
        } catch {
            pending.complete(.failure(error.with(operation: pending.operation)))
        }
    }

    func readBack(_ call: MethodCall) -> Result<[BusValue], BusError> {
        do throws(BusError) { return .success(try BusMessages.readBack(bus, call)) }
        catch { return .failure(error) }
    }

    func addSubscription(_ match: SignalMatch, subscription: SignalSubscription) -> UInt64? {
        if let deadError {
            subscription.end(deadError)
            return nil
        }
        let key = nextKey
        nextKey += 1
        let sub = Subscription(key: key, loop: self, rule: match.rule, subscription: subscription)
        do {
            sub.slot = try BusMessages.addMatch(bus, rule: match.rule, handler: BusLoop.signalHandler,
                                                installed: BusLoop.installHandler,
                                                userdata: Unmanaged.passUnretained(sub).toOpaque())
            subscriptions[key] = sub
            return key
        } catch {
            subscription.end(error)
            return nil
        }
    }

    func removeSubscription(_ key: UInt64) {
        guard let sub = subscriptions.removeValue(forKey: key) else { return }
        BusMessages.unrefSlot(sub.slot)
        sub.subscription?.end(nil)
    }

    private static let signalHandler: MessageHandler = { m, userdata, _ in
        let sub = Unmanaged<Subscription>.fromOpaque(userdata!).takeUnretainedValue()
        sub.loop.deliverSignal(m!, to: sub)
        return 0  // let other matches see it too
    }

    private static let installHandler: MessageHandler = { m, userdata, _ in
        let sub = Unmanaged<Subscription>.fromOpaque(userdata!).takeUnretainedValue()
        if let m, let error = BusMessages.error(of: m) {
            sub.loop.failSubscription(sub, error.with(operation: "AddMatch \(sub.rule)"))
        }
        return 0
    }

    private func deliverSignal(_ m: MessagePointer, to sub: Subscription) {
        guard subscriptions[sub.key] != nil else { return }
        let header = BusMessages.header(of: m)
        do {
            let args = try BusMessages.readAll(m)
            sub.subscription?.deliver(BusSignal(sender: header.sender, path: header.path, interface: header.interface,
                                             member: header.member, arguments: args))
        } catch {
            // A signal we cannot parse is dropped, not fatal: the next one may be fine.
        }
    }

    private func failSubscription(_ sub: Subscription, _ error: BusError) {
        guard subscriptions.removeValue(forKey: sub.key) != nil else { return }
        BusMessages.unrefSlot(sub.slot)
        sub.subscription?.end(error)
    }
}

extension BusError {
    func with(operation: String) -> BusError {
        var copy = self
        if copy.operation == nil { copy.operation = operation }
        return copy
    }
}
