/// The configuration every service has, whatever its flavor: ZenML's `ServiceConfig` fields.
///
/// Not obvious: an empty `name` is replaced by the service class's name (e.g. `SleepingDaemon`)
/// when a service is created or loaded, as ZenML's `BaseService.__init__` does, so the written file
/// always carries a name.
public struct ServiceConfig: Hashable, Sendable {
    public var name: String
    public var description: String
    public var pipelineName: String
    public var pipelineRunID: String
    public var pipelineStepName: String

    public init(
        name: String = "", description: String = "", pipelineName: String = "", pipelineRunID: String = "",
        pipelineStepName: String = ""
    ) {
        self.name = name
        self.description = description
        self.pipelineName = pipelineName
        self.pipelineRunID = pipelineRunID
        self.pipelineStepName = pipelineStepName
    }

    static let keys = ["type", "name", "description", "pipeline_name", "pipeline_run_id", "pipeline_step_name"]

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        name = try reader.string("name", default: "")
        description = try reader.string("description", default: "")
        pipelineName = try reader.string("pipeline_name", default: "")
        pipelineRunID = try reader.string("pipeline_run_id", default: "")
        pipelineStepName = try reader.string("pipeline_step_name", default: "")
    }

    var fields: [(key: String, value: JSONValue)] {
        [
            ("name", .string(name)), ("description", .string(description)), ("pipeline_name", .string(pipelineName)),
            ("pipeline_run_id", .string(pipelineRunID)), ("pipeline_step_name", .string(pipelineStepName)),
        ]
    }
}

/// When systemd should restart a service's process: the `restart` config field.
///
/// The raw values are systemd's `Restart=` spellings for the three policies svcunit offers.
public enum RestartPolicy: String, Sendable, Hashable, CaseIterable {
    case no
    case onFailure = "on-failure"
    case always
}

/// The fields a flavor adds to the `config` object (e.g. the sleeper's `wake_up_after`).
///
/// A flavor's `ServiceKind.decodeConfig` produces one of these from the same `config` object the
/// common fields are read from. Not obvious: the fields it encodes are written after the common
/// ones, as pydantic writes a subclass's fields after its parent's.
public protocol FlavorConfig: Sendable {
    /// The flavor's fields in the order they are written.
    func encodeFields() -> [(key: String, value: JSONValue)]
}

/// The flavor config of a service class that adds no config fields.
public struct EmptyFlavorConfig: FlavorConfig, Hashable {
    public init() {}
    public func encodeFields() -> [(key: String, value: JSONValue)] { [] }
}

/// A local daemon service's `config` object: the common fields, ZenML's `LocalDaemonServiceConfig`
/// fields, svcunit's optional supervision fields, and the flavor's fields.
///
/// svcunit's supervision fields (`restart`, `restart_delay`, `stop_timeout`, `memory_max`,
/// `cpu_quota`) are written only when set, so a file svcunit writes for a ZenML-compatible service
/// stays free of them unless the user asked for them; ZenML ignores them either way.
public struct LocalDaemonServiceConfig: Sendable {
    /// The object's `type`; `nil` writes the flavor's default (`svcunit.<Class>Config`).
    public var typeName: String?
    public var common: ServiceConfig
    /// Suppress the daemon's output (ZenML redirects it to /dev/null).
    public var silentDaemon: Bool
    /// Where the service's runtime files go; `nil` lets the provisioner choose.
    public var rootRuntimePath: String?
    /// Restart policy; `nil` means `no`.
    public var restart: RestartPolicy?
    /// Seconds to wait before a restart (0…86400).
    public var restartDelay: Double?
    /// Seconds to wait for the process to stop before it is killed (more than 0, at most 86400).
    public var stopTimeout: Double?
    /// Memory limit in bytes (more than 0).
    public var memoryMax: Int64?
    /// CPU quota in percent of one CPU (more than 0, at most 102400).
    public var cpuQuota: Double?
    /// The flavor's own fields.
    public var flavor: any FlavorConfig
    public var unknownFields: UnknownFields

    public init(
        common: ServiceConfig = ServiceConfig(), silentDaemon: Bool = false, rootRuntimePath: String? = nil,
        restart: RestartPolicy? = nil, restartDelay: Double? = nil, stopTimeout: Double? = nil,
        memoryMax: Int64? = nil, cpuQuota: Double? = nil, flavor: any FlavorConfig = EmptyFlavorConfig(),
        typeName: String? = nil, unknownFields: UnknownFields = UnknownFields()
    ) {
        self.typeName = typeName
        self.common = common
        self.silentDaemon = silentDaemon
        self.rootRuntimePath = rootRuntimePath
        self.restart = restart
        self.restartDelay = restartDelay
        self.stopTimeout = stopTimeout
        self.memoryMax = memoryMax
        self.cpuQuota = cpuQuota
        self.flavor = flavor
        self.unknownFields = unknownFields
    }

    /// The effective restart policy.
    public var effectiveRestart: RestartPolicy { restart ?? .no }

    public var name: String {
        get { common.name }
        set { common.name = newValue }
    }

    /// Reads the `config` object; the flavor's fields are read by `kind`.
    init(reading reader: inout FieldReader, kind: any ServiceKind.Type) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        common = try ServiceConfig(reading: &reader)
        silentDaemon = try reader.bool("silent_daemon", default: false)
        rootRuntimePath = try reader.optionalString("root_runtime_path")
        flavor = try kind.decodeConfig(&reader)
        guard kind.readsSupervisionFields else {
            unknownFields = UnknownFields(from: reader)
            return
        }
        restart = try reader.optionalEnumValue("restart", as: RestartPolicy.self)
        restartDelay = try reader.optionalNumber("restart_delay")
        try validateSeconds(restartDelay, "restart_delay", in: reader)
        stopTimeout = try reader.optionalNumber("stop_timeout")
        try validateSeconds(stopTimeout, "stop_timeout", in: reader, allowZero: false)
        memoryMax = try reader.optionalInt("memory_max")
        if let memoryMax, memoryMax <= 0 {
            throw reader.invalid("memory_max", "is \(memoryMax), expected a number of bytes greater than 0")
        }
        cpuQuota = try reader.optionalNumber("cpu_quota")
        if let cpuQuota, cpuQuota <= 0 || cpuQuota > 102_400 {
            throw reader.invalid(
                "cpu_quota", "is \(JSONText.formatCompact(.number(cpuQuota))), expected a percentage above 0 and at most 102400")
        }
        unknownFields = UnknownFields(from: reader)
    }

    func json(kind: any ServiceKind.Type) -> JSONValue {
        var known: [(key: String, value: JSONValue)] = [("type", .string(typeName ?? TypeNames.service(className: kind.className + "Config")))]
        known += common.fields
        known.append(("silent_daemon", .bool(silentDaemon)))
        known.append(("root_runtime_path", rootRuntimePath.map(JSONValue.string) ?? .null))
        if let restart { known.append(("restart", .string(restart.rawValue))) }
        if let restartDelay { known.append(("restart_delay", .number(restartDelay))) }
        if let stopTimeout { known.append(("stop_timeout", .number(stopTimeout))) }
        if let memoryMax { known.append(("memory_max", .int(memoryMax))) }
        if let cpuQuota { known.append(("cpu_quota", .number(cpuQuota))) }
        known += flavor.encodeFields()
        return unknownFields.object(known: known)
    }
}

/// A local daemon service's `status` object: ZenML's `LocalDaemonServiceStatus`.
///
/// Not obvious: `configFile` is derived (runtime_path/service.json) and never written, as in ZenML.
public struct LocalDaemonServiceStatus: OperationalStatus, Sendable, Hashable {
    public var typeName: String?
    public var state: ServiceState
    public var lastState: ServiceState
    public var lastError: String
    /// The directory holding the daemon's runtime files; `nil` until first started.
    public var runtimePath: String?
    /// Copied from `config.silent_daemon` at start.
    public var silentDaemon: Bool
    public var unknownFields: UnknownFields

    public init(
        state: ServiceState = .inactive, lastState: ServiceState = .inactive, lastError: String = "",
        runtimePath: String? = nil, silentDaemon: Bool = false, typeName: String? = nil,
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.typeName = typeName
        self.state = state
        self.lastState = lastState
        self.lastError = lastError
        self.runtimePath = runtimePath
        self.silentDaemon = silentDaemon
        self.unknownFields = unknownFields
    }

    /// The file the daemon is started from: `<runtime_path>/service.json`, or `nil` before the first start.
    public var configFile: String? {
        guard let runtimePath, !runtimePath.isEmpty else { return nil }
        return runtimePath.hasSuffix("/") ? runtimePath + "service.json" : runtimePath + "/service.json"
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        typeName = try reader.optionalString("type")
        state = try reader.enumValue("state", default: .inactive)
        lastState = try reader.enumValue("last_state", default: .inactive)
        lastError = try reader.string("last_error", default: "")
        runtimePath = try reader.optionalString("runtime_path")
        silentDaemon = try reader.bool("silent_daemon", default: false)
        unknownFields = UnknownFields(from: reader)
    }

    var json: JSONValue {
        unknownFields.object(known: [
            ("type", .string(typeName ?? TypeNames.serviceStatus)), ("state", .string(state.rawValue)),
            ("last_state", .string(lastState.rawValue)), ("last_error", .string(lastError)),
            ("runtime_path", runtimePath.map(JSONValue.string) ?? .null), ("silent_daemon", .bool(silentDaemon)),
        ])
    }
}
