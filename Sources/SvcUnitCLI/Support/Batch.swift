import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdProvisioning

/// Runs one operation on several services concurrently and reports each outcome on its own line.
///
/// Not obvious: outcomes are printed in command-line order (not completion order), and the exit
/// status is that of the first failed service in that order, so scripts see a stable result.
enum Batch {
    /// - Parameters:
    ///   - verb: for the spinner, e.g. "starting".
    ///   - json: print one JSON array on stdout (an object per service: uuid, name, ok, and message
    ///     or error with the facts of `ErrorReport.json`) instead of lines.
    ///   - root: the `--root` given on the command line, for the `see:` line of a failure.
    ///   - operation: returns the success line for one service.
    /// - Throws: `ExitCode` with the first failure's documented status (errors already printed).
    static func run(
        _ targets: [ServiceLookup.Candidate], verb: String, json: Bool = false, root: String? = nil,
        _ operation: @escaping @Sendable (ServiceLookup.Candidate) async throws -> String
    ) async throws {
        let spinner = Spinner(Output.escaped("\(verb) \(targets.count == 1 ? targets[0].label : "\(targets.count) services")…"))
        // One task per service, awaited in command-line order, so lines come out in the order the
        // user named the services without re-sorting. (An earlier task-group version lost results
        // in release builds; the cause was never pinned down, so this is not a claim about task
        // groups: `list` uses one.)
        let tasks = targets.map { target in
            Task { () -> Result<String, any Error> in
                do { return .success(try await operation(target)) } catch { return .failure(error) }
            }
        }
        var results: [Result<String, any Error>?] = []
        for task in tasks { results.append(await task.value) }
        await spinner.stop()
        var firstFailure: ExitCodes?
        var objects: [JSONValue] = []
        for (target, result) in zip(targets, results) {
            var o = JSONObject()
            o["uuid"] = .string(target.uuid.rawValue)
            o["name"] = target.name.map(JSONValue.string) ?? .null
            switch result {
            case .success(let line)?:
                if json {
                    o["ok"] = .bool(true)
                    o["message"] = .string(line)
                    objects.append(.object(o))
                } else {
                    print(Output.escaped(line))  // names and addresses come from documents
                }
            case .failure(let error)?:
                let status = ExitCodes.domainStatus(for: error) ?? .failure
                if firstFailure == nil { firstFailure = status }
                if json {
                    o["ok"] = .bool(false)
                    o["error"] = .object(ErrorReport.facts(of: error, status: status, root: root))
                    objects.append(.object(o))
                }
                // stderr says it for people in either mode: every error's first stderr line is `svcunit: error: …`.
                var lines = ErrorReport.lines(for: error, root: root)
                let named = (error as? ServiceModelError)?.failure != nil || lines[0].contains(target.uuid.rawValue)
                if !named { lines[0] = "\(target.label): \(lines[0])" }
                Output.error(lines.joined(separator: "\n"))
            case nil: break
            }
        }
        if json { Output.json(.array(objects)) }
        if let firstFailure { throw ExitCode(firstFailure.rawValue) }
    }

    /// " at http://localhost:8000/" when the service has an endpoint address.
    static func endpointSuffix(_ services: SystemdServices, _ uuid: ServiceUUID) -> String {
        guard let uri = services.live.service(uuid)?.document.endpoint?.status.uri else { return "" }
        return " at \(uri)"
    }
}
