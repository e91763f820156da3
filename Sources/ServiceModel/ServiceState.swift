/// The operational (observed) or administrative (desired) state of a service or endpoint.
///
/// The raw values are ZenML's `ServiceState` strings exactly, because they are written in
/// `service.json`. Not obvious: the same enum serves both roles; `admin_state` only ever holds
/// `active` or `inactive`, while `status.state` can hold any value.
public enum ServiceState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case active
    case pendingStartup = "pending_startup"
    case inactive
    case pendingShutdown = "pending_shutdown"
    case error

    public var description: String { rawValue }
}

/// A status that tracks an operational state, the state before it, and the last error: ZenML's
/// `ServiceStatus` fields, shared by service and endpoint statuses.
///
/// The update rules live in this protocol's extension so every status kind follows them the same way.
public protocol OperationalStatus {
    var state: ServiceState { get set }
    var lastState: ServiceState { get set }
    var lastError: String { get set }
}

extension OperationalStatus {
    /// Records a newly observed state and/or error, with ZenML's `update_state` rules.
    ///
    /// `lastState` moves only when the state actually changes, so it always holds the previous
    /// *different* state; an empty `error` does not erase `lastError` (use `clearError()`), so
    /// the cause of a failure stays visible after the next successful check.
    /// - Parameters:
    ///   - newState: the observed state, or `nil` to record only an error.
    ///   - error: the error seen by this check; empty for none.
    public mutating func updateState(_ newState: ServiceState?, error: String = "") {
        if let newState, newState != state {
            lastState = state
            state = newState
        }
        if !error.isEmpty { lastError = error }
    }

    /// Forgets the last error message.
    public mutating func clearError() { lastError = "" }
}

/// The plain status of a service (ZenML `ServiceStatus`): state, last state and last error.
public struct ServiceStatus: OperationalStatus, Hashable, Sendable {
    public var state: ServiceState
    public var lastState: ServiceState
    public var lastError: String
    public init(state: ServiceState = .inactive, lastState: ServiceState = .inactive, lastError: String = "") {
        self.state = state
        self.lastState = lastState
        self.lastError = lastError
    }
}
