import Synchronization

/// One live `Service` object per UUID, for the length of one process.
///
/// What needs it: `SystemdServices`. A start decides things the document did not say (the port it
/// allocated, the state it observed), and the step that reports the outcome, or a second operation
/// on the same service in the same command, must see that object, not a fresh copy from disk.
/// Not obvious: adopting a UUID that is already live returns the existing object and, unless
/// `refresh` is set, ignores the new document (ZenML's uniqueness rule for loaded services).
public final class LiveServices: Sendable {
    private let services = Mutex<[ServiceUUID: Service]>([:])

    public init() {}

    /// Makes `document` a live service (the existing object if its UUID is live).
    /// - Parameter refresh: when the UUID is live, replace its document with this one (same object).
    /// - Throws: `.invalidField` if the UUID is live with a different service class.
    public func adopt(_ document: ServiceDocument, refresh: Bool = false) throws(ServiceModelError) -> Service {
        let result: Result<Service, ServiceModelError> = services.withLock { services in
            if let existing = services[document.uuid] {
                guard existing.kind == document.kind else {
                    return .failure(ServiceModelError(
                        .invalidField,
                        "service \(document.uuid) is already loaded as \(existing.kind.className), not \(document.kind.className)",
                        fieldPath: "uuid"))
                }
                if refresh { existing.replace(with: document) }
                return .success(existing)
            }
            let service = Service(document)
            services[document.uuid] = service
            return .success(service)
        }
        return try result.get()
    }

    /// The live service for `uuid`, if any.
    public func service(_ uuid: ServiceUUID) -> Service? { services.withLock { $0[uuid] } }

    /// All live services, sorted by UUID.
    public var all: [Service] { services.withLock { $0.values.sorted { $0.uuid < $1.uuid } } }

    /// Drops a live service (e.g. after it was deleted).
    public func forget(_ uuid: ServiceUUID) { services.withLock { _ = $0.removeValue(forKey: uuid) } }
}
