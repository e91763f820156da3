import Diagnostics
import FoundationEssentials
import ServiceKinds
import ServiceModel
import SystemdManager
import SystemdProvisioning
import ServiceHealth
import OSCalls

/// What a command works on: the store, the registry of service classes and, only when asked,
/// a connection to the systemd user manager.
///
/// Not obvious: connecting is explicit (`services()`), so `create`, `register`, `inspect`,
/// `--help` and `--version` never open a D-Bus connection or the journal.
struct CommandContext {
    let root: String
    let entrypointOverride: String?
    let registry: ServiceRegistry
    /// The process's environment, read once.
    let environment: [String: String]

    init(_ global: GlobalOptions) {
        // Built once: each read copies the whole environment into a new dictionary.
        environment = CurrentProcess.environmentVariables
        Diagnostics.bootstrap(verbose: global.verbose, environment: environment)
        root = global.resolvedRoot(environment: environment)
        entrypointOverride = global.resolvedEntrypoint(environment: environment)
        registry = BuiltinKinds.registry()
    }

    /// Opens the store, creating the directory (0700) when `create` is true.
    func store(create: Bool) throws -> ServiceStore {
        try ServiceStore(root: root, create: create)
    }

    /// The store if its directory exists, else `nil` (nothing is stored yet).
    func existingStore() throws -> ServiceStore? {
        guard FileManager.default.fileExists(atPath: root) else { return nil }
        return try ServiceStore(root: root, create: false)
    }

    /// Resolves identifiers (UUID, unique UUID prefix or service name) to stored services.
    func lookup() throws -> ServiceLookup {
        ServiceLookup(store: try existingStore(), root: root, registry: registry)
    }

    /// Connects to the user manager and returns the services of this store on it.
    /// - Throws: `SystemdError` `.noUserManager` (exit 6) with what to check; `CLIError` when an
    ///   explicitly given entrypoint is not executable.
    func services(store: ServiceStore) async throws -> SystemdServices {
        if let entrypointOverride, !FileManager.default.isExecutableFile(atPath: entrypointOverride) {
            throw CLIError.usage("entrypoint \(entrypointOverride) is not an executable file (from --entrypoint or SVCUNIT_ENTRYPOINT)")
        }
        let manager = try await SystemdManager.connectUser(environment: environment)
        return SystemdServices(store: store, registry: registry, manager: manager, entrypoint: entrypointOverride,
                               healthChecker: ProbingHealthChecker())
    }
}
