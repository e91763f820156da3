import Synchronization

/// The signals selected by one `SignalMatch`, buffered in arrival order until read.
///
/// Not obvious: unlike an `AsyncStream`, a read that times out or whose task is cancelled leaves the
/// subscription intact, so one subscription can serve a sequence of waits with deadlines ("until
/// active, within 5 s", then "until inactive, within 10 s") without missing a signal between them.
/// It keeps its connection open, and ends when `cancel()` is called, when it is released, or when the
/// connection dies.
public final class SignalSubscription: AsyncSequence, Sendable {
    public typealias Element = BusSignal

    private struct State {
        var buffer: [BusSignal] = []
        var head = 0
        var ended = false
        var endError: BusError?
        var waiter: (id: UInt64, continuation: CheckedContinuation<BusSignal?, any Error>, timer: Task<Void, Never>?)?
        var nextWaiterID: UInt64 = 1
        /// Reads cancelled before their waiter was registered (the handler can run first).
        var cancelledEarly: Set<UInt64> = []
        mutating func pop() -> BusSignal? {
            guard head < buffer.count else { return nil }
            let s = buffer[head]
            head += 1
            if head > 64 && head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return s
        }
    }

    private let state = Mutex(State())
    private let onCancel: @Sendable () -> Void
    /// Keeps the connection (and its thread) alive as long as someone may read from it.
    private let connection: BusConnection?

    init(connection: BusConnection?, onCancel: @escaping @Sendable () -> Void) {
        self.connection = connection
        self.onCancel = onCancel
    }

    deinit { onCancel() }

    // MARK: Producer side (the bus thread)

    func deliver(_ signal: BusSignal) {
        let waiter = state.withLock { s -> (CheckedContinuation<BusSignal?, any Error>, Task<Void, Never>?)? in
            if s.ended { return nil }
            if let w = s.waiter {
                s.waiter = nil
                return (w.continuation, w.timer)
            }
            s.buffer.append(signal)
            return nil
        }
        if let (continuation, timer) = waiter {
            timer?.cancel()
            continuation.resume(returning: signal)
        }
    }

    func end(_ error: BusError?) {
        let waiter = state.withLock { s -> (CheckedContinuation<BusSignal?, any Error>, Task<Void, Never>?)? in
            if s.ended { return nil }
            s.ended = true
            s.endError = error
            let w = s.waiter
            s.waiter = nil
            return w.map { ($0.continuation, $0.timer) }
        }
        if let (continuation, timer) = waiter {
            timer?.cancel()
            if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: nil) }
        }
    }

    // MARK: Consumer side

    /// The next signal already received, without waiting; nil when none is buffered.
    public func poll() -> BusSignal? {
        state.withLock { $0.pop() }
    }

    /// The next signal, or nil when `deadline` passes first or the subscription was cancelled.
    ///
    /// - Throws: `BusError` when the connection died; `CancellationError` when the task is cancelled.
    public func next(before deadline: ContinuousClock.Instant? = nil) async throws -> BusSignal? {
        let fast = state.withLock { s -> Result<BusSignal?, BusError>? in
            if let sig = s.pop() { return .success(sig) }
            if s.ended { return s.endError.map { .failure($0) } ?? .success(nil) }
            return nil
        }
        if let fast { return try fast.get() }
        if let deadline, deadline <= .now { return nil }
        try Task.checkCancellation()

        let id = state.withLock { s -> UInt64 in
            defer { s.nextWaiterID += 1 }
            return s.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<BusSignal?, any Error>) in
                let immediate = state.withLock { s -> Result<BusSignal?, any Error>? in
                    if let sig = s.pop() { return .success(sig) }
                    if s.ended { return s.endError.map { .failure($0) } ?? .success(nil) }
                    if s.cancelledEarly.remove(id) != nil { return .failure(CancellationError()) }
                    s.waiter = (id, continuation, nil)
                    return nil
                }
                if let immediate { return continuation.resume(with: immediate) }
                // The timer starts only once the waiter is registered: a timer that fired before
                // would find nothing to expire and leave this read waiting for the next signal.
                guard let deadline else { return }
                let timer = Task { [weak self] in
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    if !Task.isCancelled { self?.expire(id, with: .success(nil)) }
                }
                let attached = state.withLock { s -> Bool in
                    guard s.waiter?.id == id else { return false }
                    s.waiter?.timer = timer
                    return true
                }
                if !attached { timer.cancel() }
            }
        } onCancel: {
            self.cancel(waiter: id)
        }
    }

    private func cancel(waiter id: UInt64) {
        let waiter = state.withLock { s -> (CheckedContinuation<BusSignal?, any Error>, Task<Void, Never>?)? in
            guard let w = s.waiter, w.id == id else {
                s.cancelledEarly.insert(id)
                return nil
            }
            s.waiter = nil
            return (w.continuation, w.timer)
        }
        if let (continuation, timer) = waiter {
            timer?.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }

    private func expire(_ id: UInt64, with result: Result<BusSignal?, any Error>) {
        let waiter = state.withLock { s -> (CheckedContinuation<BusSignal?, any Error>, Task<Void, Never>?)? in
            guard let w = s.waiter, w.id == id else { return nil }
            s.waiter = nil
            return (w.continuation, w.timer)
        }
        if let (continuation, timer) = waiter {
            timer?.cancel()
            continuation.resume(with: result)
        }
    }

    /// Removes the match from the bus; pending and later reads return nil.
    public func cancel() {
        end(nil)
        onCancel()
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: SignalSubscription
        public mutating func next() async throws -> BusSignal? { try await subscription.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
}
