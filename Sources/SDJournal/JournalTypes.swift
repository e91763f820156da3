/// One `FIELD=value` term of a journal filter, e.g. `_SYSTEMD_USER_UNIT=web.service`.
///
/// Validated on creation: the field name is `[A-Z0-9_]`, not starting with a digit, at most 64 bytes,
/// as journald requires. Not obvious: `__REALTIME_TIMESTAMP` and `__CURSOR` are not fields and cannot
/// be matched; use `seek(toRealtime:)` and cursors instead.
public struct JournalMatch: Sendable, Hashable, CustomStringConvertible {
    public let field: String
    public let value: String

    public init(field: String, value: String) throws(JournalError) {
        let bytes = Array(field.utf8)
        let valid = !bytes.isEmpty && bytes.count <= 64 && !(bytes[0] >= 0x30 && bytes[0] <= 0x39)
            && bytes.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
        guard valid else {
            throw JournalError(code: .invalidArgument, message: "invalid journal field name \(field.debugDescription)")
        }
        self.field = field
        self.value = value
    }

    public var description: String { "\(field)=\(value)" }
}

/// A filter in disjunctive normal form: entries matching ANY group, where a group matches when ALL
/// its terms match. This is how `journalctl --user-unit` builds its filter.
public struct JournalFilter: Sendable, Hashable {
    public var groups: [[JournalMatch]]
    public init(anyOf groups: [[JournalMatch]]) { self.groups = groups }
}

/// Which journal files to open.
public enum JournalScope: Sendable, Hashable {
    /// Every local file this process may read (`SD_JOURNAL_LOCAL_ONLY`), as `journalctl` without
    /// `--merge`. Not obvious: root's and system users' entries live in `system.journal`, so
    /// `currentUser` finds nothing for them; this is the scope that works everywhere.
    case localOnly
    /// Only `user-<uid>.journal` files (`SD_JOURNAL_CURRENT_USER`).
    case currentUser
    /// Only the system journal (`SD_JOURNAL_SYSTEM`).
    case system
    /// The files in one directory, e.g. a copied journal.
    case directory(String)
}

/// One journal entry with the fields svcunit shows.
///
/// `message` is decoded lossily: journald stores a line with invalid UTF-8 as a binary blob, and
/// `messageBytes` keeps it exactly.
public struct JournalEntry: Sendable, Hashable {
    /// The entry's cursor, when the reader was asked for cursors (building one costs an allocation
    /// per entry, which dominated `logs -n` otherwise).
    public var cursor: String?
    /// µs since the epoch (`sd_journal_get_realtime_usec`).
    public var realtimeMicroseconds: UInt64
    public var messageBytes: [UInt8]
    public var priority: Int?
    public var pid: Int32?
    public var syslogIdentifier: String?
    /// Other fields that were asked for (e.g. `_SYSTEMD_USER_UNIT`), raw.
    public var fields: [String: [UInt8]]

    public init(cursor: String?, realtimeMicroseconds: UInt64, messageBytes: [UInt8], priority: Int?, pid: Int32?,
                syslogIdentifier: String?, fields: [String: [UInt8]] = [:]) {
        self.cursor = cursor
        self.realtimeMicroseconds = realtimeMicroseconds
        self.messageBytes = messageBytes
        self.priority = priority
        self.pid = pid
        self.syslogIdentifier = syslogIdentifier
        self.fields = fields
    }

    /// The message as text, with invalid UTF-8 replaced by U+FFFD.
    public var message: String { String(decoding: messageBytes, as: UTF8.self) }

    /// A field asked for at open time, decoded lossily.
    public func field(_ name: String) -> String? { fields[name].map { String(decoding: $0, as: UTF8.self) } }
}

/// Why a journal operation failed.
///
/// Not obvious: "no journal files" is not an error of `open` (libsystemd opens an empty set); it shows
/// as no entries. `code == .unavailable` is for a journal that cannot be opened at all.
public struct JournalError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable, Hashable { case unavailable, invalidArgument, readFailed, closed }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        public static let unavailable = Code(.unavailable)
        public static let invalidArgument = Code(.invalidArgument)
        public static let readFailed = Code(.readFailed)
        /// The reader was closed.
        public static let closed = Code(.closed)
        public var description: String { kind.rawValue }
    }
    public var code: Code
    public var message: String
    public var errno: Int32?
    public init(code: Code, message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }
    public var description: String { message }
}
