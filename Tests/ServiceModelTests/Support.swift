import Foundation
import ServiceKinds
import ServiceModel
import Testing

/// Loads a fixture from the test bundle's Fixtures directory.
func fixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
    return try Data(contentsOf: url)
}

func fixtureText(_ name: String) throws -> String {
    String(decoding: try fixture(name), as: UTF8.self)
}

/// Decodes `text`, expecting a `ServiceModelError`, and returns it.
func decodeError(_ text: String, registry: ServiceRegistry = BuiltinKinds.registry()) -> ServiceModelError? {
    do {
        _ = try registry.decode(data: Data(text.utf8))
        return nil
    } catch {
        return error
    }
}

/// A fresh, private temporary directory (mode 0700) removed by the caller.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "svcunit-tests-" + UUID().uuidString.lowercased()
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    return path
}

/// A minimal valid sleeper document, with `patch` applied to its JSON before encoding.
func sleeperJSON(_ patch: (inout JSONObject) -> Void = { _ in }) -> String {
    var object: JSONObject = [
        "type": .string("svcunit.SleepingDaemon"),
        "uuid": .string("11111111-2222-4333-8444-555555555555"),
        "config": .object(["wake_up_after": .int(1)]),
        "endpoint": .object([
            "config": .object(["protocol": .string("http"), "port": .int(8080)]),
            "status": .object(["hostname": .string("localhost"), "port": .int(8080)]),
            "monitor": .object(["type": .string("svcunit.HTTPEndpointHealthMonitor"), "config": .object([:])]),
        ]),
        "service_type": .object(["type": .string("daemon"), "flavor": .string("sleeping")]),
    ]
    patch(&object)
    return JSONText.format(.object(object))
}

extension JSONObject {
    /// Sets a value at a dotted path of nested objects (creating none).
    mutating func set(_ path: String, _ value: JSONValue?) {
        let parts = path.split(separator: ".").map(String.init)
        if parts.count == 1 { self[parts[0]] = value; return }
        guard case .object(var child)? = self[parts[0]] else { return }
        child.set(parts.dropFirst().joined(separator: "."), value)
        self[parts[0]] = .object(child)
    }
}

/// Runs `body` and returns the `ServiceModelError` it throws (recording an issue if it throws nothing or something else).
func modelError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ServiceModelError? {
    do { try body() } catch { return expectModelError(error, sourceLocation) }
    Issue.record("expected a ServiceModelError, nothing was thrown", sourceLocation: sourceLocation)
    return nil
}

func modelError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> ServiceModelError? {
    do { try await body() } catch { return expectModelError(error, sourceLocation) }
    Issue.record("expected a ServiceModelError, nothing was thrown", sourceLocation: sourceLocation)
    return nil
}

private func expectModelError(_ error: any Error, _ sourceLocation: SourceLocation) -> ServiceModelError? {
    if let error = error as? ServiceModelError { return error }
    Issue.record("expected a ServiceModelError, got \(error)", sourceLocation: sourceLocation)
    return nil
}

/// Whether two service classes are the same (existential metatypes compare only with each other).
func same(_ lhs: (any ServiceKind.Type)?, _ rhs: any ServiceKind.Type) -> Bool {
    guard let lhs else { return false }
    return ObjectIdentifier(lhs) == ObjectIdentifier(rhs)
}
