// The thread that owns one sd_bus and everything made from it.
//
// Why a dedicated thread and not an actor: the bus must be polled while nobody is calling (signals
// arrive unprompted), and a blocking poll() on Swift's cooperative pool would starve it (this machine
// has 2 cores, so 2 pool threads). Callers hand closures over through a mutex-guarded queue and an
// eventfd wakes the poll; every sd_bus_* call then happens on this one thread.
internal import CSystemd
import Glibc
import Synchronization

final class BusLoop: @unchecked Sendable {
    typealias Job = @Sendable (BusLoop) -> Void

    // Touched only on the loop thread (documented confinement; this is what @unchecked covers).
    private let bus: BusPointer
    private var pendingCalls: [UInt64: PendingCall] = [:]
    private var subscriptions: [UInt64: Subscription] = [:]
    private var nextKey: UInt64 = 1
    private var deadError: BusError?

    // Shared between threads.
    private let queue = Mutex<(jobs: [Job], closed: Bool)>(([], false))
    /// Why the connection died (set once, on the loop thread), readable from any thread.
    let disconnection = Mutex<BusError?>(nil)
    // A self-pipe: the write end wakes poll(); the read end is drained by the loop.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init(bus: BusPointer) throws(BusError) {
        self.bus = bus
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            BusOpen.close(bus)
            throw BusError.fromErrno(errno, operation: "create the bus loop's wake pipe")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        self.wakeRead = fds[0]
        self.wakeWrite = fds[1]
        let unmanaged = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let r = pthread_create(&thread, nil, { raw in
            let loop = Unmanaged<BusLoop>.fromOpaque(raw!).takeRetainedValue()
            loop.run()
            return nil
        }, unmanaged.toOpaque())
        guard r == 0 else {
            unmanaged.release()
            Glibc.close(fds[0])
            Glibc.close(fds[1])
            BusOpen.close(bus)
            throw BusError.fromErrno(r, operation: "start the bus thread")
        }
        pthread_detach(thread)
    }

    /// Runs `job` on the loop thread. Returns false when the loop has shut down (the job is dropped).
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        // The wake write happens under the lock so it can never hit the pipe after the loop closed it.
        queue.withLock { state -> Bool in
            if state.closed { return false }
            state.jobs.append(job)
            wake()
            return true
        }
    }

    /// Asks the loop to flush, fail what is pending, close the bus and end the thread.
    func shutdown() {
        queue.withLock { state in
            if state.closed { return }
            state.closed = true
            wake()
        }
    }

    private func wake() {
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)  // a full pipe already means "awake": ignore EAGAIN
    }

    private func run() {
        let busFD = BusIO.fd(bus)
        while true {
            let (jobs, closed) = queue.withLock { state -> ([Job], Bool) in
                let jobs = state.jobs
                state.jobs.removeAll(keepingCapacity: true)
                return (jobs, state.closed)
            }
            for job in jobs { job(self) }
            if closed { break }
            if deadError == nil {
                do {
                    while try BusIO.process(bus) {}
                } catch {
                    markDead(error)
                }
            }
            var fds = [
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                pollfd(fd: busFD, events: deadError == nil ? Int16(truncatingIfNeeded: BusIO.events(bus)) : 0, revents: 0),
            ]
            let timeout = deadError == nil ? BusIO.pollTimeoutMilliseconds(bus) : -1
            let r = poll(&fds, nfds_t(fds.count), timeout)
            if r < 0 && errno != EINTR { markDead(BusError.fromErrno(errno, operation: "poll the bus")) }
            if fds[0].revents & Int16(POLLIN) != 0 {
                var buf = [UInt8](repeating: 0, count: 64)
                while Glibc.read(wakeRead, &buf, buf.count) > 0 {}
            }
        }
        // Jobs that raced with shutdown still run so their continuations resume.
        let late = queue.withLock { state -> [Job] in
            let jobs = state.jobs
            state.jobs.removeAll()
            return jobs
        }
        for job in late { job(self) }
        if deadError == nil { BusIO.flush(bus) }
        markDead(BusError(code: .disconnected, message: "the bus connection was closed"))
        BusOpen.close(bus)
        queue.withLock { _ in
            Glibc.close(wakeRead)
            Glibc.close(wakeWrite)
        }
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
