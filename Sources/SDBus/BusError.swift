/// Why a D-Bus operation failed, with what a user needs to act on it.
///
/// Carries the D-Bus error name exactly as the peer sent it (for example
/// `org.freedesktop.systemd1.NoSuchUnit`), its message, the errno libsystemd returned, and the call that
/// failed. Not obvious: libsystemd maps many D-Bus errors to an errno too (NoSuchUnit → `ENOENT`), so
/// match on `name` when you care about the peer's meaning and on `code` when you care about the class.
public struct BusError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of failure; extensible without breaking callers (a struct over a private enum).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable, Hashable {
            case connectionFailed, disconnected, methodError, timedOut, invalidArgument, protocolError, system,
                libraryUnavailable
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// No bus could be reached (no `$XDG_RUNTIME_DIR`, no socket, permission denied…).
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke while the operation was under way.
        public static let disconnected = Code(.disconnected)
        /// The peer answered with a D-Bus error; see `name`.
        public static let methodError = Code(.methodError)
        /// No reply came in time.
        public static let timedOut = Code(.timedOut)
        /// svcunit built something the bus cannot carry (bad path, bad signature…).
        public static let invalidArgument = Code(.invalidArgument)
        /// A reply did not have the shape the caller expected.
        public static let protocolError = Code(.protocolError)
        /// Any other errno from libsystemd.
        public static let system = Code(.system)
        /// libsystemd.so.0 could not be opened (it is loaded on first use, not at start-up); the
        /// message is the loader's.
        public static let libraryUnavailable = Code(.libraryUnavailable)
        public var description: String { kind.rawValue }
    }

    public var code: Code
    /// The D-Bus error name, e.g. `org.freedesktop.systemd1.UnitExists`.
    public var name: String?
    /// The peer's or libsystemd's human message.
    public var message: String
    /// The positive errno, when libsystemd gave one.
    public var errno: Int32?
    /// The call that failed, as `interface.member on path`, for context in logs.
    public var operation: String?

    public init(code: Code, name: String? = nil, message: String, errno: Int32? = nil, operation: String? = nil) {
        self.code = code
        self.name = name
        self.message = message
        self.errno = errno
        self.operation = operation
    }

    public var description: String {
        var parts: [String] = []
        if let operation { parts.append(operation + ":") }
        parts.append(message)
        if let name { parts.append("(\(name))") }
        else if let errno { parts.append("(errno \(errno))") }
        return parts.joined(separator: " ")
    }

    /// True when the peer answered with the D-Bus error `name`.
    public func hasName(_ name: String) -> Bool { self.name == name }
}

/// Well-known D-Bus error names, so callers compare against constants rather than string literals.
public enum BusErrorName {
    public static let unknownMethod = "org.freedesktop.DBus.Error.UnknownMethod"
    public static let unknownObject = "org.freedesktop.DBus.Error.UnknownObject"
    public static let unknownInterface = "org.freedesktop.DBus.Error.UnknownInterface"
    public static let unknownProperty = "org.freedesktop.DBus.Error.UnknownProperty"
    public static let invalidArgs = "org.freedesktop.DBus.Error.InvalidArgs"
    public static let propertyReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly"
    public static let noReply = "org.freedesktop.DBus.Error.NoReply"
    public static let timeout = "org.freedesktop.DBus.Error.Timeout"
    public static let serviceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
    public static let accessDenied = "org.freedesktop.DBus.Error.AccessDenied"
}
