public import ServiceModel

/// The service classes compiled into svcunit, for building a registry in `main`.
///
/// A list rather than a registry so each executable decides what it registers (and tests can add
/// their own classes next to these).
public enum BuiltinKinds {
    public static let all: [any ServiceKind.Type] = [SleepingDaemon.self, CommandService.self]

    /// A new registry holding the built-in classes.
    public static func registry() -> ServiceRegistry {
        // The built-in classes have distinct (type, flavor) keys, so registration cannot fail.
        try! ServiceRegistry(kinds: all)
    }
}
