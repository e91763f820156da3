import Foundation
import ServiceKinds
import ServiceModel
import Testing

@Suite("Service documents")
struct DocumentTests {
    static let fixtures = ["zenml-sleeper", "zenml-no-service-type", "unknown-fields", "svcunit-command"]

    @Test(arguments: fixtures)
    func loadSaveReloadIsIdentical(name: String) throws {
        let registry = BuiltinKinds.registry()
        let first = try registry.decode(data: try fixture(name))
        let saved = first.formatted()
        let second = try registry.decode(data: Data(saved.utf8))
        #expect(second.json == first.json)
        #expect(second.formatted() == saved)
    }

    @Test(arguments: ["zenml-sleeper", "svcunit-command"])
    func documentsInCanonicalFormAreWrittenBackByteForByte(name: String) throws {
        let text = try fixtureText(name)
        let document = try BuiltinKinds.registry().decode(data: Data(text.utf8))
        #expect(document.formatted() == text)
    }

    @Test func zenmlDocumentWithPythonClassPathsLoads() throws {
        let document = try BuiltinKinds.registry().decode(data: try fixture("zenml-sleeper"))
        #expect(same(document.kind, SleepingDaemon.self))
        #expect(document.uuid.rawValue == "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c")
        #expect(document.adminState == .active)
        #expect(document.config.name == "sleeper-1")
        #expect(document.config.common.pipelineRunID == "run-42")
        #expect(document.flavorConfig(as: SleepingDaemon.Config.self)?.wakeUpAfter == 10)
        #expect(document.status.lastState == .pendingStartup)
        #expect(document.status.configFile == "/home/user/.config/zenml/local_stores/services/8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c/service.json")
        let endpoint = try #require(document.endpoint)
        #expect(endpoint.status.uri == "http://localhost:8237/")
        guard case .http(let http)? = endpoint.monitor?.config else { Issue.record("not an HTTP monitor"); return }
        #expect(http.normalizedPath == "/health")
        #expect(http.httpTimeout == 5)
        // Python class paths are kept, not replaced by svcunit's names.
        #expect(document.formatted().contains("zenml.services.service_monitor.HTTPEndpointHealthMonitor"))
    }

    /// A ZenML 0.56+ document names the user's own class: one that happens to be called
    /// `SleepingDaemon` is that Python class, never svcunit's built-in Swift sleeper.
    @Test func aUsersClassNamedLikeABuiltinIsThatPythonClass() throws {
        let text = try fixtureText("zenml-no-service-type")
        let document = try BuiltinKinds.registry().decode(data: Data(text.utf8))
        #expect(same(document.kind, PythonService.self))
        #expect(document.isPython)
        #expect(document.className == "SleepingDaemon")
        #expect(document.config.name == "SleepingDaemon", "an empty name defaults to the class name")
        #expect(document.flavorConfig(as: SleepingDaemon.Config.self) == nil)
        #expect(document.endpoint == nil)
        guard case .object(let object) = document.json, case .object(let config)? = object["config"] else {
            Issue.record("not an object"); return
        }
        #expect(object["service_type"] == nil, "ZenML 0.98's shape: no service_type is added")
        #expect(object["type"] == .string("my_project.services.SleepingDaemon"))
        #expect(config["type"] == .string("my_project.services.SleepingDaemonConfig"))
        #expect(config["wake_up_after"] == .double(2.5), "the class's own config fields are kept as they are")
        #expect(document.description == "SleepingDaemon[\(document.uuid)] (my_project.services.SleepingDaemon)")
    }

    /// A Python service's config is the user's class's: a field named like one of svcunit's
    /// supervision fields is the user's, kept as it is and never interpreted.
    @Test func aPythonConfigKeepsFieldsNamedLikeSvcunitsOwn() throws {
        var text = try fixtureText("zenml-no-service-type")
        text = text.replacingOccurrences(of: "\"wake_up_after\": 2.5", with: "\"restart\": true, \"stop_timeout\": \"soon\"")
        let document = try BuiltinKinds.registry().decode(data: Data(text.utf8))
        #expect(document.config.restart == nil && document.config.stopTimeout == nil)
        #expect(document.formatted().contains("\"restart\": true"))
        #expect(document.formatted().contains("\"stop_timeout\": \"soon\""))
    }

    /// svcunit's own object round-trips, and a document with it still has ZenML's shape otherwise.
    @Test func svcunitSettingsRoundTrip() throws {
        var document = try BuiltinKinds.registry().decode(data: try fixture("zenml-no-service-type"))
        document.svcunit = SvcUnitSettings(
            python: "/home/u/venv/bin/python", workdir: "/home/u/project",
            environment: [("ZENML_CONFIG_PATH", "/home/u/.config/zenml"), ("PYTHONPATH", "src")],
            daemonEnvironment: [("ZENML_SERVER", "1")])
        let again = try BuiltinKinds.registry().decode(data: document.encoded())
        #expect(again.svcunit == document.svcunit)
        #expect(again.svcunit?.environment.map(\.key) == ["ZENML_CONFIG_PATH", "PYTHONPATH"], "order kept")
        #expect(again.encoded() == document.encoded())
        #expect(again.formatted().contains("\"svcunit\": {"))
    }

    @Test func unknownFieldsSurviveAtEveryLevel() throws {
        let registry = BuiltinKinds.registry()
        let document = try registry.decode(data: try fixture("unknown-fields"))
        let text = document.formatted()
        let reread = try JSONText.parse(text)
        guard case .object(let top) = reread, case .object(let config)? = top["config"], case .object(let status)? = top["status"],
            case .object(let endpoint)? = top["endpoint"], case .object(let endpointConfig)? = endpoint["config"],
            case .object(let endpointStatus)? = endpoint["status"], case .object(let monitor)? = endpoint["monitor"],
            case .object(let monitorConfig)? = monitor["config"], case .object(let serviceType)? = top["service_type"]
        else { Issue.record("structure lost"); return }
        #expect(top["future_top_level"] == (try JSONText.parse(#"{"nested": [1, 2.0, "three", null, true], "order": {"z": 1, "a": 2}}"#)))
        #expect(top["trailing_unknown"] == .double(1e100))
        #expect(top.keys.last == "trailing_unknown")
        #expect(config["model_name"] == .string("resnet"))
        #expect(config["replicas"] == .int(3))
        #expect(config["ratio"] == .double(0.25))
        #expect(config.keys.firstIndex(of: "model_name") == 2, "key order of the file is kept")
        #expect(status["pid_hint"] == .int(4242))
        #expect(endpoint["extra_endpoint_field"] == .string("kept"))
        #expect(endpointConfig["ip_address"] == .string("127.0.0.1"))
        #expect(endpointStatus["tls"] == .object(["enabled": .bool(false)]))
        #expect(monitor["interval"] == .int(10))
        #expect(monitorConfig["retries"] == .int(3))
        #expect(serviceType["logo_url"] == .string("https://example.invalid/logo.png"))
        #expect(document.status.lastError == "daemon exited with status 1\nsee the journal")
    }

    @Test func serviceTypeNameAndDescriptionDoNotAffectLookup() throws {
        let document = try BuiltinKinds.registry().decode(data: try fixture("unknown-fields"))
        #expect(same(document.kind, SleepingDaemon.self))
        #expect(document.serviceType.name == "a different name", "the document's own name is kept")
    }

    @Test func newDocumentsUseSvcunitTypeNamesAndTheClassName() throws {
        let document = ServiceDocument(
            kind: SleepingDaemon.self, config: LocalDaemonServiceConfig(flavor: SleepingDaemon.Config(wakeUpAfter: 3)),
            endpoint: ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http), monitor: .tcp()))
        #expect(document.config.name == "SleepingDaemon")
        let text = document.formatted()
        #expect(text.contains(#""type": "svcunit.SleepingDaemon""#))
        #expect(text.contains(#""type": "svcunit.SleepingDaemonConfig""#))
        #expect(text.contains(#""type": "svcunit.TCPEndpointHealthMonitor""#))
        #expect(text.contains(#""wake_up_after": 3"#))
        #expect(!text.contains("restart"), "optional supervision fields are written only when set")
        let reread = try BuiltinKinds.registry().decode(data: Data(text.utf8))
        #expect(reread.formatted() == text)
    }

    @Test func commandConfigAndSupervisionFieldsDecode() throws {
        let document = try BuiltinKinds.registry().decode(data: try fixture("svcunit-command"))
        let config = try #require(document.flavorConfig(as: CommandService.Config.self))
        #expect(config.command == ["python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"])
        #expect(config.environment.map(\.name) == ["PORT", "GREETING"])
        #expect(config.workingDirectory == "/tmp")
        #expect(document.config.restart == .onFailure)
        #expect(document.config.restartDelay == 0.5)
        #expect(document.config.stopTimeout == 10)
        #expect(document.config.memoryMax == 268_435_456)
        #expect(document.config.cpuQuota == 50)
    }

    @Test func commandPortPlaceholderIsSubstituted() throws {
        let document = try BuiltinKinds.registry().decode(data: try fixture("svcunit-command"))
        let invocation = try CommandService.invocation(for: document)
        #expect(invocation.argv.last == "8123")
        #expect(invocation.environment.first == CommandService.EnvironmentVariable(name: "PORT", value: "8123"))
        #expect(invocation.environment.last?.value == "héllo \"world\"")
    }

    @Test func everyPortPlaceholderOfAnArgumentIsSubstituted() throws {
        var document = try BuiltinKinds.registry().decode(data: try fixture("svcunit-command"))
        var config = try #require(document.flavorConfig(as: CommandService.Config.self))
        config.command = ["/bin/echo", "{port}:{port}", "é{port}wörld{port}!", "{{port}}", "{por}t {Port} {port", ""]
        document.config.flavor = config
        #expect(try CommandService.invocation(for: document).argv
            == ["/bin/echo", "8123:8123", "é8123wörld8123!", "{8123}", "{por}t {Port} {port", ""])
    }

    @Test func commandPortPlaceholderWithoutPortIsAnErrorNamingTheField() throws {
        var document = try BuiltinKinds.registry().decode(data: try fixture("svcunit-command"))
        document.endpoint = nil
        let error = try #require(modelError { _ = try CommandService.invocation(for: document) })
        #expect(error.fieldPath == "config.command")
        #expect(error.message.contains("{port}"))
    }

    @Test func statusUpdateRules() {
        var status = ServiceStatus()
        status.updateState(.pendingStartup)
        #expect(status.state == .pendingStartup && status.lastState == .inactive)
        status.updateState(.pendingStartup, error: "slow")
        #expect(status.lastState == .inactive, "last_state moves only when the state changes")
        #expect(status.lastError == "slow")
        status.updateState(.active, error: "")
        #expect(status.state == .active && status.lastState == .pendingStartup)
        #expect(status.lastError == "slow", "an empty error does not erase last_error")
        status.updateState(nil, error: "boom")
        #expect(status.state == .active && status.lastError == "boom")
        status.clearError()
        #expect(status.lastError == "")
        #expect(ServiceState.allCases.map(\.rawValue) == ["active", "pending_startup", "inactive", "pending_shutdown", "error"])
    }

    @Test func endpointURIIsKnownOnlyWithHostnameAndPort() {
        var status = ServiceEndpointStatus(protocol: .https)
        #expect(status.uri == nil && status.authority == nil)
        status.hostname = "localhost"
        #expect(status.uri == nil && status.authority == nil)
        status.port = TCPPort(8443)
        #expect(status.uri == "https://localhost:8443/")
        #expect(status.authority == "localhost:8443")
        status.hostname = "::1"
        #expect(status.uri == "https://[::1]:8443/")
        #expect(status.authority == "[::1]:8443")
    }

    /// A bad enum value names the field and every allowed value (the list is built only for errors).
    @Test func aBadEnumValueNamesTheFieldAndTheAllowedValues() throws {
        let text = try fixtureText("svcunit-command").replacingOccurrences(of: #""admin_state": "inactive","#, with: #""admin_state": "bogus","#)
        let error = try #require(modelError { _ = try BuiltinKinds.registry().decode(data: Data(text.utf8)) })
        #expect(error.code == .invalidField)
        #expect(error.message.contains(#"field `admin_state` is "bogus", expected one of "active", "pending_startup", "inactive", "pending_shutdown", "error""#), "\(error.message)")
    }

    /// The canonical form is taken as it is, any other case is lowered, and anything else is refused
    /// naming the field.
    @Test(arguments: ["8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3", "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3cd", "8f14e45f_ceea-467f-a0e6-1d4a0c1a2b3c",
                      "8f14e45g-ceea-467f-a0e6-1d4a0c1a2b3c", "", "8f14e45fceea467fa0e61d4a0c1a2b3c0000"])
    func aUUIDThatIsNotOneIsRefused(text: String) throws {
        let error = try #require(modelError { _ = try ServiceUUID(validating: text, fieldPath: "endpoint.uuid") })
        #expect(error.code == .invalidUUID)
        #expect(error.message.contains("field `endpoint.uuid`"), "\(error.message)")
        #expect(ServiceUUID(rawValue: text) == nil)
    }

    @Test func uuidIsCanonicalLowerCase() throws {
        let uuid = try ServiceUUID(validating: "8F14E45F-CEEA-467F-A0E6-1D4A0C1A2B3C")
        #expect(uuid.rawValue == "8f14e45f-ceea-467f-a0e6-1d4a0c1a2b3c")
        let random = ServiceUUID.random()
        #expect(random.rawValue == random.rawValue.lowercased())
    }
}
