import Foundation
import ServiceKinds
import ServiceModel
import Testing

/// A second class claiming the sleeper's (type, flavor), with a different name.
enum ImpostorSleeper: ServiceKind {
    static let serviceType = ServiceType(type: "daemon", flavor: "sleeping", name: "impostor")
    static let className = "ImpostorSleeper"
    static func run(_ document: ServiceDocument) async throws {}
}

@Suite("Service registry")
struct RegistryTests {
    @Test func secondClassForSameTypeAndFlavorIsRejectedNamingBoth() throws {
        let registry = BuiltinKinds.registry()
        let error = try #require(modelError { try registry.register(ImpostorSleeper.self) })
        #expect(error.code == .duplicateServiceType)
        #expect(error.message.contains("daemon/sleeping"))
        #expect(error.message.contains("SleepingDaemon"))
        #expect(error.message.contains("ImpostorSleeper"))
    }

    @Test func lookupIgnoresNameAndDescription() {
        let registry = BuiltinKinds.registry()
        #expect(same(registry.kind(for: ServiceType(type: "daemon", flavor: "sleeping", name: "other", description: "x")), SleepingDaemon.self))
        #expect(registry.kind(for: ServiceType(type: "daemon", flavor: "nope")) == nil)
    }

    @Test func unregisteredTypeNamesTypeAndFlavorAndListsKnownOnes() throws {
        let text = sleeperJSON { $0["service_type"] = .object(["type": .string("model-serving"), "flavor": .string("mlflow")]) }
        let error = try #require(decodeError(text))
        #expect(error.code == .unregisteredServiceType)
        #expect(error.message.contains("type 'model-serving'"))
        #expect(error.message.contains("flavor 'mlflow'"))
        #expect(error.description.contains("daemon/sleeping (SleepingDaemon)"))
        #expect(error.description.contains("daemon/command (CommandService)"))
    }

    @Test func noServiceTypeAndNoTypeIsReported() throws {
        let text = sleeperJSON {
            $0["service_type"] = nil
            $0["type"] = nil
        }
        let error = try #require(decodeError(text))
        #expect(error.code == .missingServiceType)
        #expect(error.message.contains("service_type"))
    }

    /// Any class path outside svcunit's namespace is a Python service class, whatever its last name.
    @Test(arguments: ["zenml.integrations.mlflow.services.mlflow_deployment.MLFlowDeploymentService",
                      "my_pkg.services.SleepingDaemon", "my_pkg.CommandService", "svc.Http2"])
    func aClassPathIsAPythonService(typeName: String) throws {
        let text = sleeperJSON {
            $0["service_type"] = nil
            $0["type"] = .string(typeName)
        }
        let document = try BuiltinKinds.registry().decode(data: Data(text.utf8))
        #expect(document.isPython)
        #expect(document.typeName == typeName)
        #expect(!document.formatted().contains("service_type"))
    }

    /// ZenML 0.55 wrote `service_type` next to the class path: a registered one is the built-in
    /// kind, as before; an unregistered one (an integration's) is the Python class.
    @Test func aDeclaredServiceTypeDecidesFirst() throws {
        let builtin = try BuiltinKinds.registry().decode(data: Data(sleeperJSON { $0["type"] = .string("zenml.services.SleepingDaemon") }.utf8))
        #expect(same(builtin.kind, SleepingDaemon.self))
        let python = try BuiltinKinds.registry().decode(data: Data(sleeperJSON {
            $0["type"] = .string("zenml.integrations.mlflow.services.MLFlowDeploymentService")
            $0["service_type"] = .object(["type": .string("model-serving"), "flavor": .string("mlflow")])
        }.utf8))
        #expect(python.isPython)
        #expect(python.formatted().contains("\"flavor\": \"mlflow\""), "the declared service_type is kept")
    }

    @Test(arguments: [
        ("__main__.HttpDaemon", "__main__", "move the class into a module"),
        ("HttpDaemon", "not a Python class path", nil),
        ("my pkg.Http", "not a Python class path", nil),
        ("my_pkg..Http", "not a Python class path", nil),
        ("svcunit.NoSuchDaemon", "names no built-in svcunit service class", "SleepingDaemon"),
    ] as [(String, String, String?)])
    func typesThatNameNoRunnableClassAreRefused(typeName: String, problem: String, hint: String?) throws {
        let text = sleeperJSON {
            $0["service_type"] = nil
            $0["type"] = .string(typeName)
        }
        let error = try #require(decodeError(text))
        #expect(error.fieldPath == "type")
        #expect(error.message.contains(problem), "\(error)")
        #expect(error.message.contains(typeName), "\(error)")
        if let hint { #expect(error.description.contains(hint), "\(error)") }
    }

    @Test(arguments: [
        ("endpoint.config.port", JSONValue.string("8080"), "endpoint.config.port"),
        ("endpoint.status.hostname", JSONValue.int(1), "endpoint.status.hostname"),
        ("config.silent_daemon", JSONValue.string("yes"), "config.silent_daemon"),
        ("admin_state", JSONValue.int(1), "admin_state"),
        ("config", JSONValue.array([]), "config"),
        ("endpoint.monitor.config.http_timeout", JSONValue.double(2.5), "endpoint.monitor.config.http_timeout"),
        ("config.wake_up_after", JSONValue.string("soon"), "config.wake_up_after"),
    ])
    func wrongKindOfValueNamesTheFieldPath(field: String, value: JSONValue, path: String) throws {
        let error = try #require(decodeError(sleeperJSON { $0.set(field, value) }))
        #expect(error.code == .invalidField)
        #expect(error.fieldPath == path)
        #expect(error.message.contains("`\(path)`"), "\(error.message)")
    }

    @Test(arguments: [Int64(0), -1, 65536, 70000])
    func outOfRangePortsAreRejectedNamingTheField(port: Int64) throws {
        for field in ["endpoint.config.port", "endpoint.status.port"] {
            let error = try #require(decodeError(sleeperJSON { $0.set(field, .int(port)) }))
            #expect(error.fieldPath == field)
            #expect(error.message.contains("\(port)"))
            #expect(error.message.contains("1 and 65535"))
        }
    }

    @Test func invalidStateValueListsTheAllowedOnes() throws {
        let error = try #require(decodeError(sleeperJSON { $0["admin_state"] = .string("running") }))
        #expect(error.fieldPath == "admin_state")
        #expect(error.message.contains("\"running\""))
        #expect(error.message.contains("\"pending_startup\""))
    }

    @Test func uuidThatIsNotAUUIDIsRejected() throws {
        let error = try #require(decodeError(sleeperJSON { $0["uuid"] = .string("not-a-uuid") }))
        #expect(error.code == .invalidUUID)
        #expect(error.message.contains("not-a-uuid"))
        #expect(error.fieldPath == "uuid")
        let missing = try #require(decodeError(sleeperJSON { $0["uuid"] = nil }))
        #expect(missing.message.contains("`uuid` is missing"))
    }

    @Test func emptyTruncatedAndMalformedTextAreReported() throws {
        #expect(decodeError("")?.code == .emptyDocument)
        let truncated = String(sleeperJSON().prefix(80))
        #expect(decodeError(truncated)?.code == .truncatedJSON)
        let malformed = try #require(decodeError("{\"uuid\": tru}"))
        #expect(malformed.code == .malformedJSON)
        #expect(malformed.message.contains("line 1, column 10"))
        let notObject = try #require(decodeError("[1, 2]"))
        #expect(notObject.message.contains("the document must be an object"))
    }

    @Test(arguments: [
        ("http://evil.example/health", "absolute URL"), ("//evil.example/health", "starts with //"),
        ("https://localhost:1/x", "absolute URL"), ("/health?next=http://evil.example/", "absolute URL"), ("a b", "spaces"),
    ])
    func unsafeHealthcheckPathsAreRejected(path: String, problem: String) throws {
        let error = try #require(decodeError(sleeperJSON { $0.set("endpoint.monitor.config", .object(["healthcheck_uri_path": .string(path)])) }))
        #expect(error.fieldPath == "endpoint.monitor.config.healthcheck_uri_path")
        #expect(error.message.contains(problem))
    }

    @Test func healthcheckPathIsNormalisedToOneSlash() {
        #expect(HTTPHealthMonitorConfig(healthcheckURIPath: "health").normalizedPath == "/health")
        #expect(HTTPHealthMonitorConfig(healthcheckURIPath: "/health").normalizedPath == "/health")
        #expect(HTTPHealthMonitorConfig(healthcheckURIPath: "").normalizedPath == "")
        #expect(HTTPHealthMonitorConfig(healthcheckURIPath: "/").normalizedPath == "/")
    }

    @Test func unknownMonitorTypeIsRejectedListingKnownOnes() throws {
        let error = try #require(decodeError(sleeperJSON { $0.set("endpoint.monitor.type", .string("x.GRPCHealthMonitor")) }))
        #expect(error.fieldPath == "endpoint.monitor.type")
        #expect(error.message.contains("GRPCHealthMonitor"))
        #expect(error.message.contains("TCPEndpointHealthMonitor"))
    }

    @Test(arguments: [
        ("stop_timeout", JSONValue.int(-1), "0"), ("stop_timeout", JSONValue.int(0), "more than 0"),
        ("restart_delay", JSONValue.int(90_000), "one day"), ("memory_max", JSONValue.int(0), "bytes"),
        ("cpu_quota", JSONValue.double(-5), "percentage"), ("restart", JSONValue.string("sometimes"), "on-failure"),
        ("wake_up_after", JSONValue.int(-3), "negative"),
    ])
    func supervisionFieldsAreRangeChecked(key: String, value: JSONValue, words: String) throws {
        let error = try #require(decodeError(sleeperJSON { $0.set("config.\(key)", value) }))
        #expect(error.fieldPath == "config.\(key)")
        #expect(error.message.contains(words), "\(error.message)")
    }

    @Test func missingFlavorFieldIsNamed() throws {
        let error = try #require(decodeError(sleeperJSON { $0.set("config.wake_up_after", nil) }))
        #expect(error.fieldPath == "config.wake_up_after")
        #expect(error.message.contains("missing"))
    }

    @Test func adoptingTheSameUUIDTwiceYieldsTheSameInstance() throws {
        let registry = BuiltinKinds.registry()
        let live = LiveServices()
        let first = try live.adopt(registry.decode(JSONText.parse(sleeperJSON())))
        let second = try live.adopt(registry.decode(JSONText.parse(sleeperJSON { $0.set("config.name", .string("changed")) })))
        #expect(first === second)
        #expect(second.document.config.name == "SleepingDaemon", "without refresh the existing object is unchanged")
        let third = try live.adopt(registry.decode(JSONText.parse(sleeperJSON { $0.set("config.name", .string("changed")) })), refresh: true)
        #expect(third === first)
        #expect(first.document.config.name == "changed")
        #expect(live.all.count == 1)
        #expect(live.service(first.uuid) === first)
        live.forget(first.uuid)
        #expect(live.service(first.uuid) == nil)
    }

    @Test func liveServicesAreIndependentAndTheRegistryKeepsNone() throws {
        let registry = BuiltinKinds.registry()
        let one = LiveServices(), two = LiveServices()
        let document = try registry.decode(JSONText.parse(sleeperJSON()))
        #expect(try one.adopt(document) !== two.adopt(document))
        // Decoding twice gives two documents, never a shared object: the registry caches nothing.
        #expect(try registry.decode(JSONText.parse(sleeperJSON())).json == document.json)
    }
}
