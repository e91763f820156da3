public import FoundationEssentials
import Synchronization

/// Maps service types to service classes and decodes documents into them: ZenML's
/// `ServiceRegistry` of classes, without its cache of live services (ZenML dropped that singleton
/// in 0.56; the one place svcunit needs one object per UUID is `LiveServices`).
///
/// Build one in `main` (or a test), register the classes the program knows, and pass it to
/// whatever decodes documents. Not obvious: a class is found by its (type, flavor) only; name and
/// description play no part.
public final class ServiceRegistry: Sendable {
    private struct State {
        var kinds: [ServiceTypeKey: any ServiceKind.Type] = [:]
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
}
