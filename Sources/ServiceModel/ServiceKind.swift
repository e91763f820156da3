/// A class of runnable services (a "flavor"), e.g. the sleeper or the command service: the Swift
/// counterpart of a ZenML `LocalDaemonService` subclass.
///
/// Conformers are usually caseless enums: everything is static, and a `ServiceRegistry` maps
/// `serviceType.key` to the conforming type. Not obvious: `run` is executed inside the daemon
/// process (by the entrypoint executable), never by the process that starts the service.
public protocol ServiceKind: Sendable {
    /// The identity written as `service_type`; its (type, flavor) is the registry key.
    static var serviceType: ServiceType { get }
    /// The class name, e.g. `SleepingDaemon`: the default `config.name` and the last component of
    /// the top-level `type` used to find the class when a document has no `service_type`.
    static var className: String { get }
    /// Reads the flavor's own fields from the `config` object (the reader also holds the common
    /// fields, already read). Read only your own keys; the rest are kept as unknown fields.
    /// - Throws: `ServiceModelError` naming the field, e.g. `config.wake_up_after`.
    static func decodeConfig(_ reader: inout FieldReader) throws(ServiceModelError) -> any FlavorConfig
    /// Runs the service in the current process until it is done. Implementations may replace the
    /// process (`execve`) and never return.
    static func run(_ document: ServiceDocument) async throws
    /// Whether svcunit's own supervision fields (`restart`, `stop_timeout`, `memory_max`, …) are
    /// read from the `config` object. `false` for classes whose config fields belong to someone
    /// else (a user's Python config class may well have a `restart` field of its own).
    static var readsSupervisionFields: Bool { get }
}

extension ServiceKind {
    /// The `type` svcunit writes for services of this class, `svcunit.<className>`.
    public static var typeName: String { TypeNames.service(className: className) }

    public static func decodeConfig(_ reader: inout FieldReader) throws(ServiceModelError) -> any FlavorConfig {
        EmptyFlavorConfig()
    }

    public static var readsSupervisionFields: Bool { true }
}
