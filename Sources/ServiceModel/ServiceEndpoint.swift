/// The protocol a service endpoint speaks: ZenML's `ServiceEndpointProtocol`.
public enum EndpointProtocol: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case tcp, http, https
    public var description: String { rawValue }
}

/// What a service's endpoint should look like: the `endpoint.config` object
/// (ZenML's `LocalDaemonServiceEndpointConfig`).
///
/// Not obvious: `port` is a *preference*; the port actually used is chosen at start by `PortPolicy`
/// and recorded in the endpoint's status.
public struct ServiceEndpointConfig: Sendable, Hashable {
    public var typeName: String?
    public var name: String
    public var description: String
    public var `protocol`: EndpointProtocol
    /// The preferred port; `nil` for any.
    public var port: TCPPort?
    /// Whether another port may be chosen when `port` is busy.
    public var allocatePort: Bool
    public var unknownFields: UnknownFields

    public init(
        name: String = "", description: String = "", protocol: EndpointProtocol = .tcp, port: TCPPort? = nil,
        allocatePort: Bool = true, typeName: String? = nil, unknownFields: UnknownFields = UnknownFields()
    ) {
        self.typeName = typeName
        self.name = name
        self.description = description
        self.protocol = `protocol`
        self.port = port
        self.allocatePort = allocatePort
        self.unknownFields = unknownFields
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        name = try reader.string("name", default: "")
        description = try reader.string("description", default: "")
        `protocol` = try reader.enumValue("protocol", default: .tcp)
        port = try reader.optionalPort("port")
        allocatePort = try reader.bool("allocate_port", default: true)
        unknownFields = UnknownFields(from: reader)
    }

    var json: JSONValue {
        unknownFields.object(known: [
            ("type", .string(typeName ?? TypeNames.endpointConfig)), ("name", .string(name)),
            ("description", .string(description)), ("protocol", .string(`protocol`.rawValue)),
            ("port", port.map { .int(Int64($0.value)) } ?? .null), ("allocate_port", .bool(allocatePort)),
        ])
    }
}

/// Where a service's endpoint was last seen and how healthy it was: the `endpoint.status` object
/// (ZenML's `ServiceEndpointStatus`).
public struct ServiceEndpointStatus: OperationalStatus, Sendable, Hashable {
    public var typeName: String?
    public var state: ServiceState
    public var lastState: ServiceState
    public var lastError: String
    public var `protocol`: EndpointProtocol
    public var hostname: String?
    public var port: TCPPort?
    public var unknownFields: UnknownFields

    public init(
        state: ServiceState = .inactive, lastState: ServiceState = .inactive, lastError: String = "",
        protocol: EndpointProtocol = .tcp, hostname: String? = nil, port: TCPPort? = nil, typeName: String? = nil,
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.typeName = typeName
        self.state = state
        self.lastState = lastState
        self.lastError = lastError
        self.protocol = `protocol`
        self.hostname = hostname
        self.port = port
        self.unknownFields = unknownFields
    }

    /// `protocol://hostname:port/`, or `nil` until hostname and port are known (ZenML's `uri`).
    public var uri: String? {
        authority.map { "\(`protocol`.rawValue)://\($0)/" }
    }

    /// `hostname:port` as a URL writes it (an IPv6 literal in brackets), or `nil` until both are known:
    /// what an HTTP probe sends as `Host`.
    public var authority: String? {
        guard let hostname, !hostname.isEmpty, let port else { return nil }
        let host = hostname.contains(":") && !hostname.hasPrefix("[") ? "[\(hostname)]" : hostname
        return "\(host):\(port)"
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        state = try reader.enumValue("state", default: .inactive)
        lastState = try reader.enumValue("last_state", default: .inactive)
        lastError = try reader.string("last_error", default: "")
        `protocol` = try reader.enumValue("protocol", default: .tcp)
        hostname = try reader.optionalString("hostname")
        port = try reader.optionalPort("port")
        unknownFields = UnknownFields(from: reader)
    }

    var json: JSONValue {
        unknownFields.object(known: [
            ("type", .string(typeName ?? TypeNames.endpointStatus)), ("state", .string(state.rawValue)),
            ("last_state", .string(lastState.rawValue)), ("last_error", .string(lastError)),
            ("protocol", .string(`protocol`.rawValue)), ("hostname", hostname.map(JSONValue.string) ?? .null),
            ("port", port.map { .int(Int64($0.value)) } ?? .null),
        ])
    }
}

/// A service's network endpoint: the `endpoint` object (ZenML's `LocalDaemonServiceEndpoint`).
///
/// Not obvious: like the service, the endpoint has its own `admin_state`; svcunit sets it together
/// with the service's on start and stop, and an endpoint without a monitor is taken to be in its
/// admin state (ZenML's rule).
public struct ServiceEndpoint: Sendable, Hashable {
    public var typeName: String?
    public var adminState: ServiceState
    public var config: ServiceEndpointConfig
    public var status: ServiceEndpointStatus
    public var monitor: HealthMonitorSpec?
    public var unknownFields: UnknownFields

    /// The hostname recorded for local daemon endpoints (ZenML writes `localhost`).
    public static let localHostname = "localhost"

    public init(
        config: ServiceEndpointConfig = ServiceEndpointConfig(), status: ServiceEndpointStatus = ServiceEndpointStatus(),
        monitor: HealthMonitorSpec? = nil, adminState: ServiceState = .inactive, typeName: String? = nil,
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.typeName = typeName
        self.adminState = adminState
        self.config = config
        self.status = status
        self.monitor = monitor
        self.unknownFields = unknownFields
        // ZenML names an unnamed endpoint after its class.
        if self.config.name.isEmpty { self.config.name = TypeNames.lastComponent(typeName ?? TypeNames.endpoint) }
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        adminState = try reader.enumValue("admin_state", default: .inactive)
        var configReader = try reader.object("config")
        config = try ServiceEndpointConfig(reading: &configReader)
        var statusReader = try reader.object("status")
        status = try ServiceEndpointStatus(reading: &statusReader)
        if var monitorReader = try reader.optionalObject("monitor") {
            monitor = try HealthMonitorSpec(reading: &monitorReader)
        } else {
            monitor = nil
        }
        unknownFields = UnknownFields(from: reader)
        if config.name.isEmpty { config.name = TypeNames.lastComponent(typeName ?? TypeNames.endpoint) }
    }

    var json: JSONValue {
        unknownFields.object(known: [
            ("type", .string(typeName ?? TypeNames.endpoint)), ("admin_state", .string(adminState.rawValue)),
            ("config", config.json), ("status", status.json), ("monitor", monitor?.json ?? .null),
        ])
    }

    /// Records protocol, hostname and the chosen port in the status before a start (ZenML's `prepare_for_start`).
    /// - Parameter keepingPort: a run of the service is already under way and listens (or will) on
    ///   `status.port`, which it read when it began: keep that port rather than choose again (its
    ///   own server makes it look taken).
    /// - Parameter service: the service starting: a port held for it (by another start of it) is its own.
    /// - Throws: the `PortPolicy` errors (`.portUnavailable`, `.noFreePort`).
    public mutating func prepareForStart(portPolicy: PortPolicy, keepingPort: Bool = false, for service: ServiceUUID? = nil) throws(ServiceModelError) {
        status.protocol = config.protocol
        status.hostname = Self.localHostname
        if keepingPort, status.port != nil { return }
        status.port = try portPolicy.selectPort(preferred: config.port, allocate: config.allocatePort, lastUsed: status.port, for: service)
    }
}
