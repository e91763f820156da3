/// How an endpoint's health is checked: the `endpoint.monitor` object.
///
/// The kind (HTTP or TCP) is chosen by the last component of the monitor's `type`
/// (`HTTPEndpointHealthMonitor` / `TCPEndpointHealthMonitor`), so both ZenML's class paths and
/// svcunit's names select it. Not obvious: this is only the *description* of a monitor; the probes
/// that do network I/O live in the ServiceHealth module behind `EndpointHealthChecker`.
public struct HealthMonitorSpec: Sendable, Hashable {
    /// The kinds of monitors svcunit knows.
    public enum Config: Sendable, Hashable {
        case http(HTTPHealthMonitorConfig)
        case tcp(TCPHealthMonitorConfig)
    }

    public var typeName: String?
    public var config: Config
    public var unknownFields: UnknownFields

    public init(_ config: Config, typeName: String? = nil, unknownFields: UnknownFields = UnknownFields()) {
        self.config = config
        self.typeName = typeName
        self.unknownFields = unknownFields
    }

    public static func http(_ config: HTTPHealthMonitorConfig = HTTPHealthMonitorConfig()) -> HealthMonitorSpec {
        HealthMonitorSpec(.http(config))
    }

    public static func tcp() -> HealthMonitorSpec { HealthMonitorSpec(.tcp(TCPHealthMonitorConfig())) }

    /// The class names that select each kind.
    static let httpClass = "HTTPEndpointHealthMonitor"
    static let tcpClass = "TCPEndpointHealthMonitor"

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        let type = try reader.requiredString("type")
        typeName = type
        var configReader = try reader.object("config")
        switch TypeNames.lastComponent(type) {
        case Self.httpClass: config = .http(try HTTPHealthMonitorConfig(reading: &configReader))
        case Self.tcpClass: config = .tcp(try TCPHealthMonitorConfig(reading: &configReader))
        default:
            throw reader.invalid(
                "type", "is \"\(type)\", not a known health monitor (known: \(Self.httpClass), \(Self.tcpClass))")
        }
        unknownFields = UnknownFields(from: reader)
    }

    var json: JSONValue {
        switch config {
        case .http(let http):
            unknownFields.object(known: [("type", .string(typeName ?? TypeNames.httpMonitor)), ("config", http.json)])
        case .tcp(let tcp):
            unknownFields.object(known: [("type", .string(typeName ?? TypeNames.tcpMonitor)), ("config", tcp.json)])
        }
    }

    /// A short human description, e.g. `HTTP GET /health expecting 200 within 5 s`.
    public var summary: String {
        switch config {
        case .http(let http):
            let path = http.normalizedPath.isEmpty ? "/" : http.normalizedPath
            return "HTTP \(http.useHeadRequest ? "HEAD" : "GET") \(path) expecting \(http.httpStatusCode) within \(http.httpTimeout) s"
        case .tcp: return "TCP connect"
        }
    }
}

/// The HTTP monitor's settings: ZenML's `HTTPEndpointHealthMonitorConfig`.
///
/// Not obvious: `healthcheckURIPath` may be written with or without a leading slash (ZenML appends
/// it to a URI that ends in `/`); it is normalised to one slash, and anything that could point the
/// probe at another host (`://`, a leading `//`) is rejected when the document is read.
public struct HTTPHealthMonitorConfig: Sendable, Hashable {
    public var typeName: String?
    public var healthcheckURIPath: String
    public var useHeadRequest: Bool
    public var httpStatusCode: Int
    /// Seconds (ZenML's default is 5).
    public var httpTimeout: Int
    public var unknownFields: UnknownFields

    /// ZenML's `DEFAULT_HTTP_HEALTHCHECK_TIMEOUT`.
    public static let defaultTimeout = 5

    public init(
        healthcheckURIPath: String = "", useHeadRequest: Bool = false, httpStatusCode: Int = 200,
        httpTimeout: Int = HTTPHealthMonitorConfig.defaultTimeout, typeName: String? = nil,
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.typeName = typeName
        self.healthcheckURIPath = healthcheckURIPath
        self.useHeadRequest = useHeadRequest
        self.httpStatusCode = httpStatusCode
        self.httpTimeout = httpTimeout
        self.unknownFields = unknownFields
    }

    /// `""` or the path with exactly one leading slash (`health` and `/health` both give `/health`).
    public var normalizedPath: String {
        let trimmed = healthcheckURIPath.drop(while: { $0 == "/" })
        return healthcheckURIPath.isEmpty ? "" : "/" + trimmed
    }

    /// Why `path` cannot be a health-check path, or `nil` when it can.
    public static func problem(withPath path: String) -> String? {
        // A byte search: `contains("://")` is _StringProcessing's, 400 KB of code that status, start
        // and stop would page in for this check alone (BENCHMARKS.md, "Peak RSS").
        if path.utf8.indices.contains(where: { path.utf8[$0...].starts(with: "://".utf8) }) {
            return "is an absolute URL; give a path on the endpoint, e.g. /health"
        }
        if path.hasPrefix("//") { return "starts with //, which names another host; give a path such as /health" }
        if path.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            return "contains spaces or control characters"
        }
        return nil
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        healthcheckURIPath = try reader.string("healthcheck_uri_path", default: "")
        if let problem = Self.problem(withPath: healthcheckURIPath) {
            throw reader.invalid("healthcheck_uri_path", "\"\(healthcheckURIPath)\" \(problem)")
        }
        useHeadRequest = try reader.bool("use_head_request", default: false)
        let code = try reader.int("http_status_code", default: 200)
        guard (100...599).contains(code) else { throw reader.invalid("http_status_code", "is \(code), expected an HTTP status between 100 and 599") }
        httpStatusCode = Int(code)
        let timeout = try reader.int("http_timeout", default: Int64(Self.defaultTimeout))
        guard (1...86_400).contains(timeout) else {
            throw reader.invalid("http_timeout", "is \(timeout) s, expected 1 to 86400 seconds")
        }
        httpTimeout = Int(timeout)
        unknownFields = UnknownFields(from: reader)
    }

    var json: JSONValue {
        unknownFields.object(known: [
            ("type", .string(typeName ?? TypeNames.httpMonitorConfig)),
            ("healthcheck_uri_path", .string(healthcheckURIPath)), ("use_head_request", .bool(useHeadRequest)),
            ("http_status_code", .int(Int64(httpStatusCode))), ("http_timeout", .int(Int64(httpTimeout))),
        ])
    }
}

/// The TCP monitor's settings: ZenML's `TCPEndpointHealthMonitorConfig`, which has no fields.
public struct TCPHealthMonitorConfig: Sendable, Hashable {
    public var typeName: String?
    public var unknownFields: UnknownFields

    public init(typeName: String? = nil, unknownFields: UnknownFields = UnknownFields()) {
        self.typeName = typeName
        self.unknownFields = unknownFields
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        unknownFields = UnknownFields(from: reader)
    }

    var json: JSONValue {
        unknownFields.object(known: [("type", .string(typeName ?? TypeNames.tcpMonitorConfig))])
    }
}

/// Checks an endpoint's health: the seam between the model and the probes in ServiceHealth.
///
/// Returns ZenML's pair: the observed state and a message a user can act on (empty when healthy).
/// Not obvious: the checker is only asked about endpoints that have a monitor; an endpoint without
/// one is taken to be in its admin state, without I/O.
public protocol EndpointHealthChecker: Sendable {
    /// Probes `endpoint` according to `monitor`.
    func checkEndpoint(_ endpoint: ServiceEndpoint, monitor: HealthMonitorSpec) async -> (ServiceState, String)
}
