import Diagnostics
import Glibc
import Logging
import Synchronization

/// A connection to a D-Bus bus (a dbus-daemon broker or systemd's direct socket), safe to share.
///
/// The `sd_bus` inside is owned by one thread that this object starts; every method here hands work
/// to that thread and awaits the answer, so any number of tasks may call concurrently and many calls
/// can be in flight at once over the one connection. Not obvious: closing (or dropping the last
/// reference) fails every pending call and ends every signal stream with `BusError.Code.disconnected`.
public final class BusConnection: Sendable {
    let loop: BusLoop
    /// Whether the peer is a broker (Hello was sent); false for systemd's `systemd/private` socket.
    public let isBrokered: Bool
    /// The address this connection was opened on, for messages.
    public let address: String

    private init(loop: BusLoop, isBrokered: Bool, address: String) {
        self.loop = loop
        self.isBrokered = isBrokered
        self.address = address
    }

    deinit { loop.shutdown() }

    /// A bus at an explicit D-Bus address such as `unix:path=/run/user/1000/systemd/private`.
    ///
    /// - Parameter brokered: true to say Hello (a dbus-daemon); false for a direct peer such as
    ///   systemd's private socket, which has no broker and no unique names.
    /// - Throws: `BusError` with code `.connectionFailed`.
    public static func connect(address: String, brokered: Bool) throws(BusError) -> BusConnection {
        let bus = try BusOpen.address(address, brokered: brokered)
        return BusConnection(loop: try BusLoop(bus: bus), isBrokered: brokered, address: address)
    }

    /// Escapes a filesystem path into a `unix:path=` address, as libsystemd does for `$XDG_RUNTIME_DIR`.
    public static func unixAddress(path: String) -> String {
        var out = "unix:path="
        for b in path.utf8 {
            let plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: "/") || b == UInt8(ascii: ".")
            if plain { out.unicodeScalars.append(Unicode.Scalar(b)) }
            else { out += "%" + String(b, radix: 16).leftPadded(to: 2) }
        }
        return out
    }

    /// Sends a method call and returns the reply's arguments.
    ///
    /// - Parameter timeout: how long to wait for the reply; nil means libsystemd's default (25 s).
    /// - Throws: `BusError`: `.methodError` with the peer's D-Bus error name, `.timedOut`,
    ///   `.disconnected`, or `.invalidArgument` when the call cannot be built.
    public func call(_ call: MethodCall, timeout: Duration? = nil) async throws -> [BusValue] {
        try await busLog.timed("D-Bus \(call.operationDescription)") { () async throws -> [BusValue] in
            try await send(call, timeout: timeout)
        }
    }

    private func send(_ call: MethodCall, timeout: Duration?) async throws -> [BusValue] {
        let usec = Self.microseconds(timeout)
        return try await withCheckedThrowingContinuation { continuation in
            let accepted = loop.submit { loop in
                loop.startCall(call, timeoutMicroseconds: usec) { continuation.resume(with: $0) }
            }
            if !accepted {
                continuation.resume(throwing: BusError(code: .disconnected, message: "the bus connection is closed",
                                                       operation: call.operationDescription))
            }
        }
    }

    /// Sends all `calls` at once and returns each one's reply arguments or error, in order.
    ///
    /// Not obvious: this is `call` for many, without a task and a continuation each: the calls are
    /// handed to the bus thread in one job and sent back to back (the peer answers them as they come),
    /// and the caller resumes once, when the last reply is in. For reads of one property of many
    /// objects, which D-Bus has no single call for.
    public func callAll(_ calls: [MethodCall], timeout: Duration? = nil) async -> [Result<[BusValue], any Error>] {
        if calls.isEmpty { return [] }
        let usec = Self.microseconds(timeout)
        return await busLog.timed("D-Bus \(calls.count) calls, the first \(calls[0].operationDescription)") { () async -> [Result<[BusValue], any Error>] in
            await send(calls, timeoutMicroseconds: usec)
        }
    }

    private func send(_ calls: [MethodCall], timeoutMicroseconds usec: UInt64) async -> [Result<[BusValue], any Error>] {
        await withCheckedContinuation { continuation in
            let replies = ReplyCollector(count: calls.count, continuation)
            let accepted = loop.submit { loop in
                for (index, call) in calls.enumerated() {
                    loop.startCall(call, timeoutMicroseconds: usec) { replies.set(index, $0) }
                }
            }
            if !accepted {
                continuation.resume(returning: calls.map { .failure(BusError(code: .disconnected, message: "the bus connection is closed",
                                                                             operation: $0.operationDescription)) })
            }
        }
    }

    /// libsystemd's call timeout for `timeout` (0: its default).
    static func microseconds(_ timeout: Duration?) -> UInt64 {
        timeout.map { d in
            let (s, atto) = d.components
            return UInt64(max(0, s)) * 1_000_000 + UInt64(max(0, atto)) / 1_000_000_000_000
        } ?? 0
    }

    /// Starts receiving the signals that `match` selects.
    ///
    /// The match is queued on the bus before this returns, so a call made afterwards cannot cause a
    /// signal that the subscription misses (the bus thread handles both in order). Signals are buffered
    /// until read. Cancel the subscription when done with it.
    public func subscribe(_ match: SignalMatch) -> SignalSubscription {
        subscribe([match])
    }

    /// One subscription fed by several match rules, in arrival order (e.g. a unit's
    /// `PropertiesChanged` and the manager's `UnitRemoved`), so one reader sees both in sequence.
    public func subscribe(_ matches: [SignalMatch]) -> SignalSubscription {
        let keyBox = SubscriptionKey()
        let loop = self.loop
        let subscription = SignalSubscription(connection: self, onCancel: {
            loop.submit { loop in
                for key in keyBox.keys { loop.removeSubscription(key) }
            }
        })
        let accepted = loop.submit { [weak subscription] loop in
            guard let subscription else { return }
            for match in matches {
                guard let key = loop.addSubscription(match, subscription: subscription) else { break }
                keyBox.keys.append(key)
            }
        }
        if !accepted {
            subscription.end(BusError(code: .disconnected, message: "the bus connection is closed"))
        }
        return subscription
    }

    /// Writes `call` into a message and reads it back without sending it (for codec tests).
    func readBack(_ call: MethodCall) async throws -> [BusValue] {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = loop.submit { loop in continuation.resume(with: loop.readBack(call)) }
            if !accepted { continuation.resume(throwing: BusError(code: .disconnected, message: "closed")) }
        }
    }

    /// Why the connection can no longer be used (the peer went away, or `close()`), nil while it can.
    ///
    /// Not obvious: set as soon as the bus thread sees the socket end, before any caller asks; a
    /// wait that holds cached state (a unit watch) checks it to learn that the state is frozen.
    public var disconnection: BusError? { loop.disconnection.withLock { $0 } }

    /// Closes the connection: pending calls fail and signal streams end.
    public func close() { loop.shutdown() }
}

/// Set and read only on the loop thread; a class so the termination handler can find the key later.
final class SubscriptionKey: @unchecked Sendable {
    var keys: [UInt64] = []
}


/// Every method call with its duration, at debug level (`Diagnostics`).
let busLog = Logger(label: "svcunit.bus")

/// The replies of `callAll`, filled in by the bus thread; resumes the caller with all of them once
/// the last has arrived.
final class ReplyCollector: Sendable {
    private struct State {
        var replies: [Result<[BusValue], any Error>?]
        var missing: Int
    }
    private let state: Mutex<State>
    private let continuation: CheckedContinuation<[Result<[BusValue], any Error>], Never>

    init(count: Int, _ continuation: CheckedContinuation<[Result<[BusValue], any Error>], Never>) {
        state = Mutex(State(replies: Array(repeating: nil, count: count), missing: count))
        self.continuation = continuation
    }

    func set(_ index: Int, _ reply: Result<[BusValue], any Error>) {
        let done = state.withLock { state -> [Result<[BusValue], any Error>]? in
            guard state.replies[index] == nil else { return nil }
            state.replies[index] = reply
            state.missing -= 1
            return state.missing == 0 ? state.replies.map { $0! } : nil
        }
        if let done { continuation.resume(returning: done) }
    }
}
