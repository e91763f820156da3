public import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit delete SERVICE... [--force]`: stops services if they run, then removes them from the store.
    ///
    /// Not obvious: the directory is removed only once systemd reports the unit gone, so a service
    /// that refuses to stop is kept (exit non-zero) rather than left running without its file. Two
    /// cases differ: a service whose document proves it never started (`SystemdServices.neverStarted`)
    /// is deleted without a user manager when none is reachable; and with --force an entry whose
    /// document cannot be loaded is removed once neither of its units runs.
    public struct Delete: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "delete",
            _superCommandName: SvcUnit.toolName,
            abstract: "Stop services if needed and remove them from the store.",
            discussion: """
                With --force, also removes a stored entry whose document cannot be loaded \
                (malformed, too large, unknown type, a directory without service.json), after \
                stopping a unit that still runs this store's file for it; name it by UUID or UUID \
                prefix. A service that was never started (no status.runtime_path, no \
                last run recorded, not enabled) is deleted even when no user manager is reachable.

                EXAMPLES
                  svcunit delete web
                  svcunit delete 3f2a 9c41 --force
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var selection: ServiceSelection

        @Flag(help: "Kill running processes with SIGKILL instead of stopping them gracefully; remove entries whose document cannot be loaded.")
        public var force = false

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            let force = force
            let timeout = try selection.timeout.duration("--timeout")
            // With --force a full UUID without an entry still resolves: its unit may run on (an orphan).
            let targets = try context.lookup().resolveAll(selection.services, allowingMissing: force)
            let store = try context.store(create: false)
            // Asked once for all; a service that cannot be running is deleted without it.
            let connection: Result<SystemdServices, any Error>
            do { connection = .success(try await context.services(store: store)) } catch { connection = .failure(error) }
            let registry = context.registry
            try await Batch.run(targets, verb: "deleting", json: selection.json, root: global.root) { target in
                let document: ServiceDocument
                do {
                    document = try store.load(target.uuid, with: registry).document
                } catch let error as ServiceModelError where Self.isUnloadable(error) {
                    guard force else {
                        let hint = "`svcunit delete --force \(target.uuid)` removes the entry once no unit of it runs"
                        throw ServiceModelError(error.code, error.message, fieldPath: error.fieldPath, filePath: error.filePath,
                                                hint: error.hint.map { "\($0); \(hint)" } ?? hint)
                    }
                    let systemd = try connection.get()
                    // A unit still running this store's file for the UUID (an orphan) is stopped first;
                    // when there is no entry, that unit was all there was to delete.
                    do {
                        if let orphan = try await systemd.delete(target.uuid, timeout: timeout, force: true) { return orphan }
                    } catch let stopped as ServiceModelError where Self.isUnloadable(stopped) {
                        // Stopped, or nothing ran: the entry itself is removed below.
                    }
                    guard store.hasEntry(for: target.uuid) else { throw error }
                    try await systemd.deleteUnloadable(target.uuid)
                    return "deleted \(target.uuid) (its document could not be loaded)"
                }
                switch connection {
                case .success(let systemd):
                    if let orphan = try await systemd.delete(target.uuid, timeout: timeout, force: force) { return orphan }
                case .failure(let error):
                    guard SystemdServices.neverStarted(document) else { throw error }
                    try store.delete(target.uuid)
                }
                return "deleted \(target.label)"
            }
        }

        /// A stored entry whose document cannot be loaded (as opposed to one svcunit refuses to touch,
        /// a symbolic link, or cannot read, a permission error): bad input, or no service.json at all.
        static func isUnloadable(_ error: ServiceModelError) -> Bool {
            ExitCodes.status(for: error.code) == .badInput || error.code == .fileNotFound
        }
    }
}
