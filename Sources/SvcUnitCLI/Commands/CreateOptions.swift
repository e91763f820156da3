public import ArgumentParser
import FoundationEssentials
import ServiceModel

/// The options `create command` and `create sleeper` share: name, endpoint and health monitor,
/// systemd supervision, and output.
///
/// Not obvious: every value is checked in `makeConfig`/`makeEndpoint` *before* anything is
/// written, so a bad option leaves the store untouched (exit 2, one line).
public struct CreateOptions: ParsableArguments, Sendable {
    @Option(help: "The service's name (config.name); usable instead of the UUID in other commands.")
    public var name: String?

    @Option(help: "A free-text description (config.description).")
    public var description: String?

    @Option(name: .customLong("protocol"), help: ArgumentHelp("The endpoint protocol: tcp, http or https.", valueName: "protocol"))
    public var endpointProtocol: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The preferred endpoint port (1-65535); {port} in the command is replaced by the chosen one.", valueName: "port"))
    public var port: Int?

    @Flag(help: "Fail to start when --port is busy instead of choosing another port.")
    public var noAllocatePort = false

    @Option(help: ArgumentHelp("Check health with an HTTP request to this path (e.g. /health).", valueName: "path"))
    public var healthPath: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The HTTP status a healthy endpoint answers (default 200).", valueName: "code"))
    public var healthStatus: Int?

    @Flag(help: "Use HEAD instead of GET for the health request.")
    public var head = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds the health request may take (1-86400, default 5).", valueName: "seconds"))
    public var healthTimeout: DurationValue?

    @Option(help: ArgumentHelp("systemd's restart policy: no, on-failure or always.", valueName: "policy"))
    public var restart: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait before a restart (0-86400).", valueName: "seconds"))
    public var restartDelay: DurationValue?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a stop may take before the process is killed (up to 86400).", valueName: "seconds"))
    public var stopTimeout: DurationValue?

    @Option(parsing: .unconditional, help: ArgumentHelp("Memory limit in bytes; K, M, G, T suffixes (1024-based) allowed.", valueName: "bytes"))
    public var memoryMax: ByteSizeValue?

    @Option(parsing: .unconditional, help: ArgumentHelp("CPU quota in percent of one CPU (e.g. 50 or 200%).", valueName: "percent"))
    public var cpuQuota: PercentValue?

    @Flag(help: "Discard the daemon's output instead of sending it to the journal.")
    public var silent = false

    @Flag(help: "Print the whole stored service document instead of its UUID.")
    public var json = false

    public init() {}

    /// The typed values, checked at parse time; `apply` and `makeEndpoint` read them again.
    public func validate() throws {
        try checkingValues {
            _ = try healthTimeout.map { try Self.wholeSeconds($0, option: "--health-timeout") }
            _ = try restartDelay?.seconds("--restart-delay", allowZero: true)
            _ = try stopTimeout?.seconds("--stop-timeout")
            _ = try memoryMax?.bytes("--memory-max")
            _ = try cpuQuota?.percent("--cpu-quota")
        }
    }

    /// A duration that must be whole seconds, at least 1 (ZenML keeps `http_timeout` as an int).
    static func wholeSeconds(_ value: DurationValue, option: String) throws(CLIError) -> Int {
        let seconds = try value.seconds(option)
        guard seconds >= 1, seconds == seconds.rounded() else {
            throw CLIError.usage("\(option) \(value.text) must be a whole number of seconds, at least 1")
        }
        return Int(seconds)
    }

    /// The `config` object for `flavor`, options validated.
    func makeConfig(flavor: any FlavorConfig) throws -> LocalDaemonServiceConfig {
        var config = LocalDaemonServiceConfig(flavor: flavor)
        try apply(to: &config)
        return config
    }

    /// Sets the `config` fields given on the command line (each validated) and leaves the others:
    /// `create` applies them to an empty config, `set` to the stored one.
    func apply(to config: inout LocalDaemonServiceConfig) throws {
        if let name {
            try Self.checkName(name, option: "--name")
            config.common.name = name
        }
        if let description { config.common.description = description }
        if silent { config.silentDaemon = true }
        if let restart {
            guard let policy = RestartPolicy(rawValue: restart) else {
                throw CLIError.usage("--restart \"\(restart)\" is not a restart policy; give no, on-failure or always")
            }
            config.restart = policy
        }
        if let restartDelay { config.restartDelay = try restartDelay.seconds("--restart-delay", allowZero: true) }
        if let stopTimeout { config.stopTimeout = try stopTimeout.seconds("--stop-timeout") }
        if let memoryMax { config.memoryMax = try memoryMax.bytes("--memory-max") }
        if let cpuQuota { config.cpuQuota = try cpuQuota.percent("--cpu-quota") }
    }

    /// A service name is one printable line that cannot be taken for a UUID. `option` is how the
    /// message names where it came from (`--name`, or `config.name` in an edited document).
    static func checkName(_ name: String, option: String) throws(CLIError) {
        if name.isEmpty || name.contains(where: \.isNewline) {
            throw CLIError.usage("\(option) must be a non-empty single line")
        }
        // A name is printed by list, start, status and in errors: no control character may reach a
        // terminal through it (the error shows it escaped).
        if name.unicodeScalars.contains(where: Output.isControl) {
            throw CLIError.usage("\(option) \"\(Output.escaped(name))\" contains control characters; give printable text")
        }
        if ServiceUUID(rawValue: name) != nil {
            throw CLIError.usage("\(option) \(name) looks like a UUID; choose a name that cannot be mistaken for one")
        }
    }

    /// The options given (other than `--json`), by name, in the order of `--help`.
    var given: [String] {
        [("--name", name != nil), ("--description", description != nil), ("--protocol", endpointProtocol != nil),
         ("--port", port != nil), ("--no-allocate-port", noAllocatePort), ("--health-path", healthPath != nil),
         ("--health-status", healthStatus != nil), ("--head", head), ("--health-timeout", healthTimeout != nil),
         ("--restart", restart != nil), ("--restart-delay", restartDelay != nil), ("--stop-timeout", stopTimeout != nil),
         ("--memory-max", memoryMax != nil), ("--cpu-quota", cpuQuota != nil), ("--silent", silent)]
            .filter(\.1).map(\.0)
    }

    /// Whether any option that configures the endpoint was given.
    var changesEndpoint: Bool {
        endpointProtocol != nil || port != nil || noAllocatePort || healthPath != nil || healthStatus != nil || head
            || healthTimeout != nil
    }

    /// The endpoint, or nil when no endpoint option was given. A port or protocol alone gets a TCP
    /// monitor; `--health-path` an HTTP one (protocol http unless https was asked for).
    func makeEndpoint() throws -> ServiceEndpoint? { try apply(to: nil) }

    /// `existing` with the endpoint options given on the command line applied (each validated); the
    /// options not given keep their values. Without an endpoint, the rules of `create` make one.
    /// `--health-path` switches the monitor to HTTP, `--protocol tcp` to TCP; `--health-status`,
    /// `--head` and `--health-timeout` need an HTTP monitor (the existing one, or `--health-path`).
    func apply(to existing: ServiceEndpoint?) throws -> ServiceEndpoint? {
        guard changesEndpoint else { return existing }
        var proto: EndpointProtocol?
        if let endpointProtocol {
            guard let p = EndpointProtocol(rawValue: endpointProtocol.lowercased()) else {
                throw CLIError.usage("--protocol \"\(endpointProtocol)\" is not a protocol; give tcp, http or https")
            }
            proto = p
        }
        var tcpPort: TCPPort?
        if let port {
            guard let p = TCPPort(port) else { throw CLIError.usage("--port \(port) is not a TCP port; give 1 to 65535") }
            tcpPort = p
        }
        var http: HTTPHealthMonitorConfig?
        if case .http(let config)? = existing?.monitor?.config, proto != .tcp { http = config }
        let httpOnly = [("--health-status", healthStatus != nil), ("--head", head), ("--health-timeout", healthTimeout != nil)]
        if healthPath == nil, http == nil, let (option, _) = httpOnly.first(where: { $0.1 }) {
            throw CLIError.usage("\(option) needs --health-path (it configures the HTTP health check)")
        }
        if noAllocatePort && tcpPort == nil && existing?.config.port == nil {
            throw CLIError.usage("--no-allocate-port needs --port")
        }
        if let healthPath {
            if let problem = HTTPHealthMonitorConfig.problem(withPath: healthPath) {
                throw CLIError.usage("--health-path \"\(healthPath)\" \(problem)")
            }
            if proto == .tcp { throw CLIError.usage("--health-path needs --protocol http or https, not tcp") }
            var config = http ?? HTTPHealthMonitorConfig(httpTimeout: HTTPHealthMonitorConfig.defaultTimeout)
            config.healthcheckURIPath = healthPath
            http = config
        }
        if var config = http {
            if let healthStatus {
                guard (100...599).contains(healthStatus) else {
                    throw CLIError.usage("--health-status \(healthStatus) is not an HTTP status; give 100 to 599")
                }
                config.httpStatusCode = healthStatus
            }
            if head { config.useHeadRequest = true }
            if let healthTimeout { config.httpTimeout = try Self.wholeSeconds(healthTimeout, option: "--health-timeout") }
            http = config
        }
        // An HTTP monitor speaks HTTP: the protocol follows it unless https was (or is) chosen.
        let current = existing?.config.protocol
        let resolved = proto ?? (http == nil ? current ?? .tcp : current == .https ? .https : .http)
        var endpoint = existing ?? ServiceEndpoint(status: ServiceEndpointStatus(protocol: resolved))
        endpoint.config.protocol = resolved
        if let tcpPort { endpoint.config.port = tcpPort }
        if existing == nil || noAllocatePort { endpoint.config.allocatePort = !noAllocatePort }
        if let http {
            if case .http? = endpoint.monitor?.config { endpoint.monitor?.config = .http(http) } else { endpoint.monitor = .http(http) }
        } else if case .tcp? = endpoint.monitor?.config {
            // Kept as it is (with any fields it was read with).
        } else {
            endpoint.monitor = .tcp()
        }
        return endpoint
    }

    /// Stores a new service (refusing a `--name` another stored service has) and prints it.
    ///
    /// Not obvious: the name check and the write happen under the store lock, so of concurrent
    /// `create --name dup` processes exactly one stores its service; and a document too large to be
    /// read back is refused before the store is touched.
    func store(_ document: ServiceDocument, context: CommandContext) throws {
        var document = document
        let store = try context.store(create: true)
        if document.config.rootRuntimePath == nil { document.config.rootRuntimePath = store.root }
        let data = try document.encodedForStore()
        try store.withStoreLock {
            if let name { try Self.checkNameIsFree(name, for: document.uuid, option: "--name", store: store, context: context) }
            try store.withLock(document.uuid) { try store.write(data, for: document.uuid) }
        }
        if json {
            print(document.formatted(), terminator: "")
        } else {
            print(document.uuid.rawValue)
        }
    }

    /// Refuses a name another stored service (not `uuid`) already has.
    static func checkNameIsFree(_ name: String, for uuid: ServiceUUID, option: String, store: ServiceStore,
                                context: CommandContext) throws {
        let lookup = ServiceLookup(store: store, root: context.root, registry: context.registry)
        if let taken = lookup.named(name, among: try lookup.candidates()).first(where: { $0.uuid != uuid }) {
            throw CLIError("a service named \"\(name)\" already exists: \(taken.uuid); choose another \(option)", status: .failure)
        }
    }
}
