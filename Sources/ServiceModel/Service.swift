import Synchronization

/// A live service object: the one shared, mutable holder of a `ServiceDocument`, handed out by a
/// `ServiceRegistry` so every part of the program that loads the same UUID sees the same object.
///
/// A final class guarding its document with a mutex (rather than an actor) so callers can read a
/// consistent snapshot synchronously (`document`) and change it atomically (`update`). Not
/// obvious: nothing here does I/O; the lifecycle (`ServiceLifecycle`) and the store do.
public final class Service: Sendable, CustomStringConvertible {
    public let uuid: ServiceUUID
    public let kind: any ServiceKind.Type
    private let storage: Mutex<ServiceDocument>

    public init(_ document: ServiceDocument) {
        uuid = document.uuid
        kind = document.kind
        storage = Mutex(document)
    }

    /// A snapshot of the document.
    public var document: ServiceDocument { storage.withLock { $0 } }

    /// Changes the document atomically and returns what `body` returns.
    /// The UUID and the class cannot change: they are `let`s of the document.
    @discardableResult
    public func update<Result: Sendable, Failure: Error>(
        _ body: (inout ServiceDocument) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try storage.withLock { (document: inout ServiceDocument) throws(Failure) -> Result in
            try body(&document)
        }
    }

    /// Replaces the whole document with a newer version of the same service (same UUID and class),
    /// e.g. one re-read from disk. Returns `false` and changes nothing if the UUID or class differ.
    @discardableResult
    public func replace(with newer: ServiceDocument) -> Bool {
        guard newer.uuid == uuid, newer.kind == kind else { return false }
        storage.withLock { $0 = newer }
        return true
    }

    /// `SleepingDaemon[<uuid>] (type: daemon, flavor: sleeping)`, as ZenML prints services.
    public var description: String { document.description }
}
