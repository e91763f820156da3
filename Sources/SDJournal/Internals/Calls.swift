// The only file in SDJournal that calls sd_journal_* functions; runs on the reader's own thread.
internal import CSystemd
import Glibc
import OSCalls
import SDWorker

typealias JournalPointer = OpaquePointer

func journalCheck(_ r: Int32, _ what: @autoclosure () -> String, code: JournalError.Code = .readFailed) throws(JournalError) {
    if r < 0 {
        // libsystemd is opened on first use (CSystemd); the loader says why it could not be.
        let why = -r == ELIBACC ? svcunit_libsystemd_error().map { "cannot load libsystemd: \(String(cString: $0)); install the libsystemd0 package" } : nil
        throw JournalError(code: code, message: "\(what()): \(why ?? String(cString: strerror(-r)))", errno: -r)
    }
}

enum JournalCalls {
    static func open(_ scope: JournalScope) throws(JournalError) -> JournalPointer {
        var j: JournalPointer?
        let r: Int32
        switch scope {
        case .localOnly: r = sd_journal_open(&j, Int32(SD_JOURNAL_LOCAL_ONLY))
        case .currentUser: r = sd_journal_open(&j, Int32(SD_JOURNAL_LOCAL_ONLY) | Int32(SD_JOURNAL_CURRENT_USER))
        case .system: r = sd_journal_open(&j, Int32(SD_JOURNAL_LOCAL_ONLY) | Int32(SD_JOURNAL_SYSTEM))
        case .directory(let path): r = path.withCString { sd_journal_open_directory(&j, $0, 0) }
        }
        try journalCheck(r, "open the journal", code: .unavailable)
        return j!
    }

    static func close(_ j: JournalPointer) { sd_journal_close(j) }

    static func setFilter(_ j: JournalPointer, _ filter: JournalFilter) throws(JournalError) {
        sd_journal_flush_matches(j)
        for (i, group) in filter.groups.enumerated() {
            if i > 0 { try journalCheck(sd_journal_add_disjunction(j), "add a disjunction") }
            for term in group {
                let text = term.field + "=" + term.value
                let r = text.withCString { sd_journal_add_match(j, $0, 0) }
                try journalCheck(r, "add match \(text)", code: .invalidArgument)
            }
        }
    }

    /// The values `field` has in the open files (`sd_journal_query_unique`; matches do not apply).
    static func uniqueValues(_ j: JournalPointer, _ field: String) throws(JournalError) -> [String] {
        let r = field.withCString { sd_journal_query_unique(j, $0) }
        try journalCheck(r, "list the values of \(field)", code: .invalidArgument)
        defer { sd_journal_restart_unique(j) }
        let prefix = field.utf8.count + 1  // "FIELD="
        var values: [String] = []
        var data: UnsafeRawPointer?
        var length = 0
        while true {
            let n = sd_journal_enumerate_available_unique(j, &data, &length)
            try journalCheck(n, "list the values of \(field)")
            guard n > 0, let data else { return values }
            guard length >= prefix else { continue }
            values.append(String(decoding: UnsafeRawBufferPointer(start: data + prefix, count: length - prefix), as: UTF8.self))
        }
    }

    static func seekTail(_ j: JournalPointer) throws(JournalError) { try journalCheck(sd_journal_seek_tail(j), "seek to the tail") }
    static func seekHead(_ j: JournalPointer) throws(JournalError) { try journalCheck(sd_journal_seek_head(j), "seek to the head") }
    static func seekRealtime(_ j: JournalPointer, _ usec: UInt64) throws(JournalError) {
        try journalCheck(sd_journal_seek_realtime_usec(j, usec), "seek to a time")
    }
    /// Moves back up to `n` entries; returns how many it moved. The position is then ON the first one.
    static func previousSkip(_ j: JournalPointer, _ n: UInt64) throws(JournalError) -> Int {
        let r = sd_journal_previous_skip(j, n)
        try journalCheck(r, "move back")
        return Int(r)
    }
    static func next(_ j: JournalPointer) throws(JournalError) -> Bool {
        let r = sd_journal_next(j)
        try journalCheck(r, "read the next entry")
        return r > 0
    }

    /// The pseudo-field name that asks `entry` for the cursor too.
    static let cursorField = "__CURSOR"

    /// The fields every entry is read with, in `standardFields` order: message, priority, PID, identifier.
    static let standardFields = ["MESSAGE", "PRIORITY", "_PID", "SYSLOG_IDENTIFIER"]

    /// What `entry` reads, prepared once per reader rather than once per entry (a `logs -n 10000`
    /// reads ten thousand): the standard fields, then the extra ones, and their names as bytes.
    struct EntryFields: Sendable {
        let wanted: [String]
        let names: [[UInt8]]
        let withCursor: Bool

        init(extra: [String]) {
            withCursor = extra.contains(cursorField)
            wanted = standardFields + extra.filter { $0 != cursorField }
            precondition(wanted.count <= 64, "entry() marks the fields it found in the bits of a UInt64")
            names = wanted.map { Array($0.utf8) }
        }
    }

    /// The current entry: its time, the standard fields and `extraFields`, in ONE pass over its data.
    ///
    /// Not obvious: `sd_journal_get_data` walks the entry's data objects until the field is found, and
    /// to the end for a field the entry lacks (most of the extra ones, on a service's own lines); a
    /// message is usually the entry's newest object, so the last. Nine lookups cost about as many
    /// passes; enumerating once and picking the wanted fields costs one, as `journalctl -o short`
    /// does. The first occurrence of a field wins, as with `sd_journal_get_data`.
    static func entry(_ j: JournalPointer, fields: EntryFields) throws(JournalError) -> JournalEntry {
        var usec: UInt64 = 0
        try journalCheck(sd_journal_get_realtime_usec(j, &usec), "read an entry's time")
        var cursor: String?
        if fields.withCursor {
            var cursorPtr: UnsafeMutablePointer<CChar>?
            try journalCheck(sd_journal_get_cursor(j, &cursorPtr), "read an entry's cursor")
            cursor = String(cString: cursorPtr!)
            free(cursorPtr)
        }
        let wanted = fields.wanted, names = fields.names
        // Found fields as bits, values taken straight from libsystemd's buffer: one array for the
        // message, a string for the identifier, numbers parsed in place, a dictionary only when an
        // extra field is there (this runs for every entry of a `logs -n 10000`).
        var found: UInt64 = 0
        var missing = wanted.count
        var message: [UInt8] = []
        var priority: Int?
        var pid: Int32?
        var identifier: String?
        var extra: [String: [UInt8]] = [:]
        var ptr: UnsafeRawPointer?
        var len = 0
        sd_journal_restart_data(j)
        while missing > 0, sd_journal_enumerate_available_data(j, &ptr, &len) > 0, let ptr {
            // memchr and memcmp: this loop runs for every field of every entry read.
            guard let equals = memchr(ptr, Int32(UInt8(ascii: "=")), len) else { continue }
            let eq = UnsafeRawPointer(equals) - ptr
            for index in names.indices where found & (1 << UInt64(index)) == 0 && names[index].count == eq {
                guard names[index].withUnsafeBytes({ memcmp($0.baseAddress!, ptr, eq) == 0 }) else { continue }
                let value = UnsafeRawBufferPointer(start: ptr + eq + 1, count: len - eq - 1)
                switch index {
                case 0: message = Array(value)
                case 1: priority = decimal(value).map { Int($0) }
                case 2: pid = decimal(value).flatMap { Int32(exactly: $0) }
                case 3: identifier = String(decoding: value, as: UTF8.self)
                default: extra[wanted[index]] = Array(value)
                }
                found |= 1 << UInt64(index)
                missing -= 1
                break
            }
        }
        return JournalEntry(cursor: cursor, realtimeMicroseconds: usec, messageBytes: message,
                            priority: priority, pid: pid, syslogIdentifier: identifier, fields: extra)
    }

    /// A field value of ASCII digits only, as journald writes `PRIORITY` and `_PID`, as a number;
    /// nil for anything else (a sign, spaces) or more than 18 digits.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    static func fd(_ j: JournalPointer) throws(JournalError) -> Int32 {
        let r = sd_journal_get_fd(j)
        try journalCheck(r, "watch the journal")
        return r
    }
    static func events(_ j: JournalPointer) -> Int32 { sd_journal_get_events(j) }
    static func timeoutMilliseconds(_ j: JournalPointer) -> Int32 {
        var usec: UInt64 = 0
        guard sd_journal_get_timeout(j, &usec) >= 0 else { return -1 }
        return PollTimeout.untilMonotonic(microseconds: usec)
    }
    static func process(_ j: JournalPointer) { _ = sd_journal_process(j) }
}

extension JournalCalls {
    /// `sd_journal_sendv`: one entry of `FIELD=value` items, sent to journald's socket at once (no
    /// reader or handle involved, so it runs on the caller's thread).
    static func send(_ items: [[UInt8]]) throws(JournalError) {
        let buffers = items.map { item -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(item.count, 1), alignment: 1)
            buffer.copyBytes(from: item)
            return buffer
        }
        defer { for buffer in buffers { buffer.deallocate() } }
        var vectors = zip(buffers.indices, items).map { index, item in
            iovec(iov_base: buffers[index].baseAddress, iov_len: item.count)
        }
        let r = vectors.withUnsafeMutableBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        try journalCheck(r, "write to the journal", code: .unavailable)
    }
}
