/// Describes a class of services: ZenML's `ServiceType`, written as the `service_type` object of
/// every `service.json`.
///
/// Only `type` and `flavor` identify the class (see `key`); `name` and `description` are for
/// people, so a document whose name or description differs from the registered class still loads.
public struct ServiceType: Hashable, Sendable, CustomStringConvertible {
    /// The broad kind of service, e.g. `daemon`, `model-serving`.
    public var type: String
    /// The implementation within the type, e.g. `sleeping`, `command`.
    public var flavor: String
    /// A short human name, e.g. `sleeper`.
    public var name: String
    /// A one-line human description.
    public var description: String

    public init(type: String, flavor: String, name: String = "", description: String = "") {
        self.type = type
        self.flavor = flavor
        self.name = name
        self.description = description
    }

    /// The registry key: (type, flavor) only.
    public var key: ServiceTypeKey { ServiceTypeKey(type: type, flavor: flavor) }

    public var json: JSONValue {
        .object([
            "type": .string(type), "flavor": .string(flavor), "name": .string(name), "description": .string(description),
        ])
    }
}

/// The part of a `ServiceType` the registry looks classes up by.
public struct ServiceTypeKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: String
    public var flavor: String
    public init(type: String, flavor: String) {
        self.type = type
        self.flavor = flavor
    }
    /// `daemon/sleeping`.
    public var description: String { "\(type)/\(flavor)" }
    public static func < (lhs: ServiceTypeKey, rhs: ServiceTypeKey) -> Bool {
        (lhs.type, lhs.flavor) < (rhs.type, rhs.flavor)
    }
}
