public import FoundationEssentials
import Synchronization

/// Maps service types to service classes and UUIDs to live service objects: ZenML's
/// `ServiceRegistry`, minus the process-wide singleton.
///
/// Build one in `main` (or a test), register the classes the program knows, and pass it to
/// whatever loads services. Not obvious: loading a UUID that is already loaded returns the
/// existing object (ZenML's uniqueness rule) and, unless `refresh` is set, ignores the new data;
/// use `decode` for a stand-alone document that must not enter the cache.
public final class ServiceRegistry: Sendable {
    private struct State {
        var kinds: [ServiceTypeKey: any ServiceKind.Type] = [:]
        var services: [ServiceUUID: Service] = [:]
    }
    private let state = Mutex(State())

    /// A registry with `kinds` registered.
    /// - Throws: `.duplicateServiceType` if two of them share a (type, flavor).
    public init(kinds: [any ServiceKind.Type] = []) throws(ServiceModelError) {
        for kind in kinds { try register(kind) }
    }

    // MARK: Classes

    /// Registers a service class under its (type, flavor).
    /// - Throws: `.duplicateServiceType` naming the key and both classes.
    public func register(_ kind: any ServiceKind.Type) throws(ServiceModelError) {
        let key = kind.serviceType.key
        let existing: (any ServiceKind.Type)? = state.withLock { state in
            if let existing = state.kinds[key] { return existing }
            state.kinds[key] = kind
            return nil
        }
        if let existing {
            throw ServiceModelError(
                .duplicateServiceType,
                "service type \(key) is already registered to \(existing.className); cannot also register \(kind.className)")
        }
    }

    /// The class registered for (type, flavor); name and description play no part.
    public func kind(for key: ServiceTypeKey) -> (any ServiceKind.Type)? {
        state.withLock { $0.kinds[key] }
    }

    /// The class registered for a service type (by its type and flavor only).
    public func kind(for serviceType: ServiceType) -> (any ServiceKind.Type)? { kind(for: serviceType.key) }

    /// All registered classes, sorted by key.
    public var kinds: [any ServiceKind.Type] {
        state.withLock { state in state.kinds.sorted { $0.key < $1.key }.map(\.value) }
    }

    private var knownTypesText: String {
        let known = kinds.map { "\($0.serviceType.key) (\($0.className))" }
        return known.isEmpty ? "none are registered" : "known: " + known.joined(separator: ", ")
    }

    // MARK: Decoding

    /// Decodes a document without touching the cache of live services.
    /// - Throws: `ServiceModelError`: `.missingServiceType`, `.unregisteredServiceType`,
    ///   `.invalidField` (naming the field path), `.invalidUUID`.
    ///
    /// Which code a document names: `service_type` naming a registered (type, flavor) is that
    /// built-in kind (documents of svcunit and of ZenML 0.55); a top-level `type` in svcunit's
    /// namespace (`svcunit.CommandService`) is the built-in class of that exact name; any other
    /// `type` is a user's Python class (`PythonService`), never matched to a built-in kind by its
    /// last component. `__main__.X` is refused: no one can import it.
    public func decode(_ json: JSONValue) throws(ServiceModelError) -> ServiceDocument {
        var reader = try FieldReader(json, path: "")
        let typeName = try reader.optionalString("type")
        var serviceTypeUnknown = UnknownFields()
        var declared: ServiceType?
        if var typeReader = try reader.optionalObject("service_type") {
            let type = try typeReader.requiredString("type")
            let flavor = try typeReader.requiredString("flavor")
            declared = ServiceType(
                type: type, flavor: flavor, name: try typeReader.string("name", default: ""),
                description: try typeReader.string("description", default: ""))
            serviceTypeUnknown = UnknownFields(from: typeReader)
        }
        let kind: any ServiceKind.Type
        if let declared, let found = self.kind(for: declared.key) {
            kind = found
        } else if let typeName, !typeName.isEmpty, !typeName.hasPrefix(TypeNames.prefix) {
            // A user's Python class (ZenML 0.56+ writes no `service_type`; 0.55's integration
            // services had one svcunit does not implement).
            try PythonService.validateClassPath(typeName)
            kind = PythonService.self
        } else if let declared {
            throw ServiceModelError(
                .unregisteredServiceType,
                "cannot load service with unregistered service type: type '\(declared.type)', flavor '\(declared.flavor)'"
                    + (declared.name.isEmpty ? "" : " (name '\(declared.name)')"),
                fieldPath: "service_type", hint: knownTypesText)
        } else if let typeName, !typeName.isEmpty {
            let className = String(typeName.dropFirst(TypeNames.prefix.count))
            guard let found = kinds.first(where: { $0.className == className }) else {
                throw ServiceModelError(
                    .unregisteredServiceType, "the document's `type` \"\(typeName)\" names no built-in svcunit service class",
                    fieldPath: "type", hint: knownTypesText)
            }
            kind = found
        } else {
            throw ServiceModelError(
                .missingServiceType,
                "the document has neither `service_type` nor a top-level `type` naming the service class",
                fieldPath: "type", hint: "ZenML writes the service's Python class path as `type`; " + knownTypesText)
        }
        var document = try ServiceDocument(
            reading: &reader, kind: kind, serviceType: declared ?? kind.serviceType,
            writesServiceType: kind != PythonService.self || declared != nil)
        document.serviceTypeUnknownFields = serviceTypeUnknown
        return document
    }

    /// Decodes JSON text (UTF-8) without touching the cache.
    public func decode(data: Data) throws(ServiceModelError) -> ServiceDocument {
        try decode(JSONText.parse(data))
    }

    // MARK: Live services

    /// Loads a service from its JSON value, returning the live object for its UUID.
    /// - Parameter refresh: when the UUID is already loaded, replace its document with this one
    ///   (same object); when `false` (ZenML's behaviour) the existing object is returned unchanged.
    public func load(_ json: JSONValue, refresh: Bool = false) throws(ServiceModelError) -> Service {
        let document = try decode(json)
        return try adopt(document, refresh: refresh)
    }

    /// Loads a service from JSON text.
    public func load(text: String, refresh: Bool = false) throws(ServiceModelError) -> Service {
        try load(JSONText.parse(text), refresh: refresh)
    }

    /// Makes `document` a live service (the existing object if its UUID is loaded).
    /// - Throws: `.invalidField` if the UUID is loaded with a different service class.
    public func adopt(_ document: ServiceDocument, refresh: Bool = false) throws(ServiceModelError) -> Service {
        let result: Result<Service, ServiceModelError> = state.withLock { state in
            if let existing = state.services[document.uuid] {
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
            state.services[document.uuid] = service
            return .success(service)
        }
        return try result.get()
    }

    /// The live service for `uuid`, if loaded.
    public func service(_ uuid: ServiceUUID) -> Service? { state.withLock { $0.services[uuid] } }

    /// All live services, sorted by UUID.
    public var services: [Service] { state.withLock { $0.services.values.sorted { $0.uuid < $1.uuid } } }

    /// Drops a live service from the cache (e.g. after it was deleted).
    public func forget(_ uuid: ServiceUUID) { state.withLock { _ = $0.services.removeValue(forKey: uuid) } }
}
