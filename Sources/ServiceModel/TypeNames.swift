/// The `type` strings svcunit writes for its typed JSON objects.
///
/// ZenML's `BaseTypedModel` writes the Python class path in every typed object's `type` field
/// (`zenml.services.service_monitor.HTTPEndpointHealthMonitor`). svcunit writes
/// `svcunit.<ZenML class name>` for objects it creates, and keeps whatever `type` a loaded
/// document had, so a ZenML file saved by svcunit still carries ZenML's class paths.
/// Not obvious: only the last dot-separated component matters when svcunit reads a `type`, which
/// is why svcunit's names end in the same class names as ZenML's.
public enum TypeNames {
    public static let prefix = "svcunit."
    public static let serviceConfig = prefix + "LocalDaemonServiceConfig"
    public static let serviceStatus = prefix + "LocalDaemonServiceStatus"
    public static let endpoint = prefix + "LocalDaemonServiceEndpoint"
    public static let endpointConfig = prefix + "LocalDaemonServiceEndpointConfig"
    public static let endpointStatus = prefix + "LocalDaemonServiceEndpointStatus"
    public static let httpMonitor = prefix + "HTTPEndpointHealthMonitor"
    public static let httpMonitorConfig = prefix + "HTTPEndpointHealthMonitorConfig"
    public static let tcpMonitor = prefix + "TCPEndpointHealthMonitor"
    public static let tcpMonitorConfig = prefix + "TCPEndpointHealthMonitorConfig"

    /// The type name svcunit writes for a service class, e.g. `svcunit.SleepingDaemon`.
    public static func service(className: String) -> String { prefix + className }

    /// The last dot-separated component: `zenml.services.service_monitor.TCPEndpointHealthMonitor` → `TCPEndpointHealthMonitor`.
    public static func lastComponent(_ typeName: String) -> String {
        String(typeName.split(separator: ".", omittingEmptySubsequences: false).last ?? Substring(typeName))
    }
}
