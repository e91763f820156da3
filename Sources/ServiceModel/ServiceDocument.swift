public import FoundationEssentials

/// One service as stored in `service.json`: ZenML's serialised `LocalDaemonService`, as a value.
///
/// Layout (keys in this order, 4-space indent): `type`, `uuid`, `admin_state`, `config`, `status`,
/// `endpoint` (null or object), `service_type`, then any unknown fields. Every nested object keeps
/// its unknown fields and key order, so loading and saving a document written by ZenML (or a newer
/// svcunit) changes nothing svcunit does not own. Not obvious: svcunit writes both `type` and
/// `service_type` for its built-in kinds, but a user's Python service keeps ZenML's shape (no
/// `service_type` unless it was read with one).
public struct ServiceDocument: Sendable {
    /// The largest service.json svcunit reads (16 MiB): a real one is a few KiB, and a 100 MB file
    /// would cost a gigabyte of memory to parse.
    public static let maximumSize = 16 << 20

    /// The service class. Fixed for the life of the document.
    public let kind: any ServiceKind.Type
    /// The top-level `type`; `nil` writes `svcunit.<ClassName>`.
    public var typeName: String?
    public let uuid: ServiceUUID
    /// The desired state: `active` after start, `inactive` after stop.
    public var adminState: ServiceState
    public var config: LocalDaemonServiceConfig
    public var status: LocalDaemonServiceStatus
    public var endpoint: ServiceEndpoint?
    /// As read from the document (name and description may differ from the class's); the class's own for new documents.
    public var serviceType: ServiceType
    /// svcunit's own settings (the top-level `svcunit` object): a Python service's interpreter,
    /// working directory and environment.
    public var svcunit: SvcUnitSettings?
    /// Whether `service_type` is written. ZenML 0.56+ documents have none, and a Python service's
    /// document is written back without one unless it was read with one.
    public var writesServiceType: Bool
    public var unknownFields: UnknownFields

    /// A new service of class `kind`. An empty `config.name` becomes the class name.
    public init(
        kind: any ServiceKind.Type, uuid: ServiceUUID = .random(), config: LocalDaemonServiceConfig,
        endpoint: ServiceEndpoint? = nil
    ) {
        self.kind = kind
        self.uuid = uuid
        self.adminState = .inactive
        self.config = config
        self.status = LocalDaemonServiceStatus()
        self.endpoint = endpoint
        self.serviceType = kind.serviceType
        self.unknownFields = UnknownFields()
        self.typeName = nil
        self.svcunit = nil
        self.writesServiceType = true
        if self.config.name.isEmpty { self.config.name = kind.className }
    }

    /// The class's own name: a Python service's last `type` component, else the built-in kind's.
    public var className: String {
        if kind == PythonService.self, let typeName { return TypeNames.lastComponent(typeName) }
        return kind.className
    }

    /// Whether this is a user's Python service class (run by its own interpreter).
    public var isPython: Bool { kind == PythonService.self }

    /// Decodes a document whose class has already been resolved (see `ServiceRegistry.decode`).
    init(reading reader: inout FieldReader, kind: any ServiceKind.Type, serviceType: ServiceType,
         writesServiceType: Bool = true) throws(ServiceModelError) {
        self.kind = kind
        self.serviceType = serviceType
        self.writesServiceType = writesServiceType
        typeName = try reader.optionalString("type")
        reader.markRead(["service_type"])
        guard let uuidValue = reader.raw("uuid") else { throw reader.missing("uuid", expected: "a UUID string") }
        guard case .string(let uuidText) = uuidValue else { throw reader.wrongKind("uuid", expected: "a UUID string", found: uuidValue) }
        uuid = try ServiceUUID(validating: uuidText, fieldPath: reader.fieldPath("uuid"))
        adminState = try reader.enumValue("admin_state", default: .inactive)
        var configReader = try reader.object("config")
        config = try LocalDaemonServiceConfig(reading: &configReader, kind: kind)
        var statusReader = try reader.object("status")
        status = try LocalDaemonServiceStatus(reading: &statusReader)
        if var endpointReader = try reader.optionalObject("endpoint") {
            endpoint = try ServiceEndpoint(reading: &endpointReader)
        } else {
            endpoint = nil
        }
        if var settingsReader = try reader.optionalObject(SvcUnitSettings.key) {
            svcunit = try SvcUnitSettings(reading: &settingsReader)
        } else {
            svcunit = nil
        }
        unknownFields = UnknownFields(from: reader)
        if config.name.isEmpty { config.name = kind == PythonService.self ? TypeNames.lastComponent(typeName ?? "") : kind.className }
    }

    /// The flavor config as the flavor's own type, or `nil` if it is another type.
    public func flavorConfig<Config: FlavorConfig>(as type: Config.Type) -> Config? {
        config.flavor as? Config
    }

    /// The whole document as JSON, in svcunit's key order (or the order it was read in).
    public var json: JSONValue {
        var known: [(key: String, value: JSONValue)] = [
            ("type", .string(typeName ?? kind.typeName)),
            ("uuid", .string(uuid.rawValue)),
            ("admin_state", .string(adminState.rawValue)),
            ("config", config.json(kind: kind)),
            ("status", status.json),
            ("endpoint", endpoint?.json ?? .null),
        ]
        if writesServiceType { known.append(("service_type", serviceTypeJSON)) }
        if let svcunit { known.append((SvcUnitSettings.key, svcunit.json)) }
        return unknownFields.object(known: known)
    }

    /// The pretty-printed file contents: 4-space indent and a final newline.
    public func formatted() -> String { JSONText.format(json, indent: 4) }

    /// `formatted()` as UTF-8.
    public func encoded() -> Data { Data(utf8: formatted()) }

    /// `encoded()`, refused when it is larger than any svcunit reads back (`maximumSize`): the store
    /// would then hold a service that reads as "no service". Call it before touching the store.
    /// - Throws: `.documentTooLarge` naming the service, the size and what to do.
    public func encodedForStore() throws(ServiceModelError) -> Data {
        let data = encoded()
        if data.count > Self.maximumSize { throw Self.tooLarge(size: data.count, what: label) }
        return data
    }

    /// The error for a document of `size` bytes that would be too large to read back.
    static func tooLarge(size: Int, what: String) -> ServiceModelError {
        let mebibytes = (Double(size) / Double(1 << 20) * 10).rounded(.down) / 10
        return ServiceModelError(
            .documentTooLarge,
            "\(what): its service.json would be \(mebibytes) MiB, more than the \(maximumSize >> 20) MiB svcunit reads; nothing was written",
            hint: "keep large data out of the service: put it in a file and pass the file's path (in --env or the command)")
    }

    /// `service_type` keeps any unknown fields it was read with.
    public var serviceTypeUnknownFields = UnknownFields()

    private var serviceTypeJSON: JSONValue {
        serviceTypeUnknownFields.object(known: [
            ("type", .string(serviceType.type)), ("flavor", .string(serviceType.flavor)),
            ("name", .string(serviceType.name)), ("description", .string(serviceType.description)),
        ])
    }
}

extension ServiceDocument {
    /// How messages name a service: `web (d761e1eb)`, its name and the first 8 digits of its UUID.
    public var label: String { "\(config.name) (\(uuid.short))" }
}

extension ServiceUUID {
    /// The first 8 hex digits, as `git` abbreviates: enough for a person to tell services apart.
    public var short: String { String(rawValue.prefix(8)) }
}

extension ServiceDocument: CustomStringConvertible {
    /// ZenML's `repr`: `SleepingDaemon[<uuid>] (type: daemon, flavor: sleeping)`; a Python
    /// service shows its class path instead of a type and flavor.
    public var description: String {
        if isPython { return "\(className)[\(uuid)] (\(typeName ?? ""))" }
        return "\(kind.className)[\(uuid)] (type: \(serviceType.type), flavor: \(serviceType.flavor))"
    }
}
