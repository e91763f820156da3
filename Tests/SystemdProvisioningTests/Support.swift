import Foundation
import ServiceKinds
import ServiceModel
import SystemdManager
import SystemdProvisioning
import SystemdTestSupport
import Testing

/// A private store, the built entrypoint, and the real user manager, for one test.
struct Harness {
    let root: String
    let services: SystemdServices

    init() async throws {
        root = NSTemporaryDirectory() + "svcunit-prov-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let manager = try await LiveSystemd.manager()
        services = SystemdServices(store: try ServiceStore(root: root), registry: BuiltinKinds.registry(),
                                   manager: manager, entrypoint: Harness.entrypoint)
    }

    /// `svcunit` as built beside the test bundle: units run it as `svcunit entrypoint …`.
    static var entrypoint: String {
        let bundle = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
        var dir = bundle.deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("svcunit").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("svcunit").path
    }

    func command(_ argv: [String], name: String = "test", endpoint: ServiceEndpoint? = nil,
                 environment: [CommandService.EnvironmentVariable] = [], restart: RestartPolicy? = nil) throws -> Service {
        let config = LocalDaemonServiceConfig(common: ServiceConfig(name: name), restart: restart,
                                              restartDelay: restart == nil ? nil : 0.1,
                                              flavor: CommandService.Config(command: argv, environment: environment))
        return try services.create(ServiceDocument(kind: CommandService.self, config: config, endpoint: endpoint))
    }

    /// Stops every service the test created and removes the store.
    func cleanUp(_ uuids: [ServiceUUID]) async {
        for uuid in uuids {
            let unit = ServiceUnit(uuid).transientUnit
            await LiveSystemd.cleanUp(unit, manager: services.manager)
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// A free port picked at random: tests run in parallel, and ZenML's "first free port from 8000"
/// would hand two services started at the same moment the same port.
func randomFreePort() -> TCPPort {
    TCPPort(TestPorts.free())!
}

func httpEndpoint(path: String = "/") -> ServiceEndpoint {
    ServiceEndpoint(config: ServiceEndpointConfig(protocol: .http, port: randomFreePort()),
                    monitor: .http(HTTPHealthMonitorConfig(healthcheckURIPath: path, httpTimeout: 2)))
}

func tcpEndpoint(port: Int? = nil) -> ServiceEndpoint {
    ServiceEndpoint(config: ServiceEndpointConfig(protocol: .tcp, port: port.flatMap { TCPPort($0) } ?? randomFreePort(),
                                                  allocatePort: port == nil), monitor: .tcp())
}

/// The command line of a process, as NUL-separated words.
func commandLine(of pid: UInt32) -> [String] {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
    return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}

/// Awaits `body`, failing the test if it throws something other than `E`; returns the error.
func expectError<E: Error>(_ type: E.Type, _ body: () async throws -> Void) async -> E? {
    do {
        try await body()
        Issue.record("expected \(E.self), nothing was thrown")
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected \(E.self), got \(error)")
    }
    return nil
}
