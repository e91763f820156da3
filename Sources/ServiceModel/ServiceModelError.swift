/// The one error type of the service model layer: JSON documents, the registry, ports, the store
/// and the lifecycle contract.
///
/// Every error carries a `code` a caller can switch on (the CLI maps codes to exit codes), a
/// one-line `message` that names the thing at fault (a field path such as `endpoint.config.port`,
/// a file, a port, a service type), and where useful a `hint` and the underlying `cause`.
/// Not obvious: `description` is the message plus the hint on the same line, so a CLI can print
/// it as a single `svcunit: error: …` line.
public struct ServiceModelError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as a stable, extensible set of codes (a struct over a private enum, so new
    /// codes do not break exhaustive switches in other modules).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case malformedJSON, emptyDocument, truncatedJSON, documentTooLarge
            case missingServiceType, unregisteredServiceType, duplicateServiceType
            case invalidField, invalidUUID
            case portUnavailable, noFreePort
            case fileNotFound, unsafePath, ioFailure, lockFailed
            case startFailed, stopFailed, timedOut, provisioningFailed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text is not JSON; the message says where (line and column).
        public static let malformedJSON = Code(.malformedJSON)
        /// The file or text is empty (or whitespace only).
        public static let emptyDocument = Code(.emptyDocument)
        /// The file is larger than `ServiceDocument.maximumSize`; it is not read.
        public static let documentTooLarge = Code(.documentTooLarge)
        /// The JSON ends before the document is complete.
        public static let truncatedJSON = Code(.truncatedJSON)
        /// Neither `service_type` nor a resolvable top-level `type` identifies the service class.
        public static let missingServiceType = Code(.missingServiceType)
        /// `service_type` names a (type, flavor) no registered class implements.
        public static let unregisteredServiceType = Code(.unregisteredServiceType)
        /// Two classes were registered for the same (type, flavor).
        public static let duplicateServiceType = Code(.duplicateServiceType)
        /// A field has the wrong kind of value or a value out of range; `fieldPath` names it.
        public static let invalidField = Code(.invalidField)
        /// A `uuid` is not a UUID.
        public static let invalidUUID = Code(.invalidUUID)
        /// The configured port is busy and `allocate_port` is false.
        public static let portUnavailable = Code(.portUnavailable)
        /// No free TCP port was found in the scanned range.
        public static let noFreePort = Code(.noFreePort)
        /// A file or stored service does not exist.
        public static let fileNotFound = Code(.fileNotFound)
        /// A path is a symlink, owned by another user or writable by others.
        public static let unsafePath = Code(.unsafePath)
        /// A read, write, rename or fsync failed.
        public static let ioFailure = Code(.ioFailure)
        /// The per-service lock could not be taken.
        public static let lockFailed = Code(.lockFailed)
        /// The service entered the error state while starting.
        public static let startFailed = Code(.startFailed)
        /// The service did not stop.
        public static let stopFailed = Code(.stopFailed)
        /// The deadline passed before the service reached its admin state.
        public static let timedOut = Code(.timedOut)
        /// The provisioner could not provision or deprovision the service.
        public static let provisioningFailed = Code(.provisioningFailed)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// One line naming the thing at fault.
    public var message: String
    /// The JSON field path at fault, e.g. `endpoint.config.port`, when there is one.
    public var fieldPath: String?
    /// The file at fault, when there is one.
    public var filePath: String?
    /// What to try, when there is something useful to say.
    public var hint: String?
    /// The lower-level error, kept rather than flattened to text.
    public var cause: (any Error)?
    /// For a start or stop that failed: which service, what happened, and its own last output.
    public var failure: ServiceFailure?

    public init(
        _ code: Code, _ message: String, fieldPath: String? = nil, filePath: String? = nil,
        hint: String? = nil, cause: (any Error)? = nil, failure: ServiceFailure? = nil
    ) {
        self.failure = failure
        self.code = code
        self.message = message
        self.fieldPath = fieldPath
        self.filePath = filePath
        self.hint = hint
        self.cause = cause
    }

    public var description: String {
        var text = message
        if let filePath, !message.contains(filePath) { text = "\(filePath): \(text)" }
        if let hint { text += " (\(hint))" }
        return text
    }

    /// The same error with the file it came from attached.
    public func inFile(_ path: String) -> ServiceModelError {
        var copy = self
        if copy.filePath == nil { copy.filePath = path }
        return copy
    }
}

/// The facts of a failed start or stop, for people and for programs: the message's first line says
/// them (`web (d761e1eb) failed to start: exited with status 7`), and a front end may add the
/// service's own last output and where to look.
public struct ServiceFailure: Sendable, Hashable {
    public var name: String
    public var uuid: ServiceUUID
    /// `start` or `stop`.
    public var operation: String
    /// What happened, in the user's terms: "exited with status 7", "timed out after 2 s: …".
    public var reason: String
    /// The last lines the service's own processes wrote during this attempt (oldest first).
    public var output: [String]

    public init(name: String, uuid: ServiceUUID, operation: String, reason: String, output: [String] = []) {
        self.name = name
        self.uuid = uuid
        self.operation = operation
        self.reason = reason
        self.output = output
    }
}
