import FoundationEssentials
import ServiceModel
import SystemdManager
import SystemdProvisioning

/// What `set` and `edit` share: checking a changed document the way every later command will read
/// it, and reaching a service that runs.
///
/// Not obvious: a change never restarts anything by itself. A running unit keeps the command,
/// environment and limits it was started with; the stored document is what the next start reads.
enum ServiceChange {
    /// `changed` as the store will read it back: encoded and decoded by the registry (so every field
    /// rule of the loader applies), the same UUID as `previous`, a changed name printable and not
    /// another service's, and `{port}` only with an endpoint.
    /// - Throws: the loader's `ServiceModelError` (exit 5); `CLIError` for the rest.
    static func validated(_ changed: ServiceDocument, previous: ServiceDocument?, uuid: ServiceUUID,
                          context: CommandContext, store: ServiceStore) throws -> ServiceDocument {
        let decoded = try context.registry.decode(data: changed.encoded())
        guard decoded.uuid == uuid else {
            throw CLIError("uuid cannot change: the service is \(uuid) (its identity for systemd and ZenML), not \(decoded.uuid)",
                           status: .badInput)
        }
        if decoded.config.name != previous?.config.name {
            try CreateOptions.checkName(decoded.config.name, option: "config.name")
            try CreateOptions.checkNameIsFree(decoded.config.name, for: uuid, option: "name", store: store, context: context)
        }
        try CommandOptions.checkPortPlaceholder(decoded)
        return decoded
    }

    /// `error` with the service named first (`web (d761e1eb): …`), its exit status kept.
    static func named(_ error: any Error, _ label: String) -> any Error {
        if let model = error as? ServiceModelError, model.failure != nil { return error }
        let status = ExitCodes.domainStatus(for: error) ?? .usage
        let text = ExitCodes.oneLine(error)
        return text.hasPrefix(label) ? error : CLIError("\(label): \(text)", status: status)
    }

    /// After a stored change: restarts the service when `restartNow` and it runs, else tells that a
    /// running service gets the change at its next start. `quiet` (for `--json`) sends that notice to
    /// stderr instead of stdout. Without a user manager nothing of this user runs, so there is nothing
    /// to say (and `--restart-now` reports the missing manager).
    static func reach(_ target: ServiceLookup.Candidate, label: String, context: CommandContext, store: ServiceStore,
                      restartNow: Bool, timeout: Duration, root: String?, quiet: Bool) async throws {
        let systemd: SystemdServices
        do {
            systemd = try await context.services(store: store)
        } catch let error as SystemdError where error.code == .noUserManager && !restartNow {
            return
        }
        let unit = try await systemd.provisioner.unitStatus(target.uuid)
        let say: (String) -> Void = { quiet ? Output.note($0) : print(Output.escaped($0)) }
        guard unit.isLoaded, !unit.activeState.isFinal else {
            if restartNow { say("\(label) is not running: the change applies when it starts") }
            return
        }
        if restartNow {
            try await Batch.run([target], verb: "restarting", root: root) { target in
                try await SvcUnit.Restart.restart(target, systemd, timeout)
            }
        } else {
            say("\(label) is running (\(unit.name)): the change applies at its next start; "
                + "`svcunit restart \(ErrorReport.quoted(target.name ?? target.uuid.rawValue))` applies it now")
        }
    }
}
