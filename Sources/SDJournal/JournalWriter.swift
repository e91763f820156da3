/// Writes structured entries to the journal (`sd_journal_sendv`), for svcunit's own records such as
/// the result of a health check.
///
/// Not obvious: journald stamps and attributes the entry itself (`_PID`, `_SYSTEMD_USER_UNIT` of the
/// sender, the time it arrived); the caller supplies only its own fields, which a reader can then
/// match exactly (`journalctl SVCUNIT_HEALTH=fail`). Values may hold any bytes, newlines included.
public enum JournalWriter {
    /// Sends one entry. `fields` are `(NAME, value)` pairs in order; `MESSAGE` should be among them.
    /// - Throws: `JournalError.invalidArgument` for a field name journald would refuse (it must be
    ///   `[A-Z0-9_]`, at most 64 bytes, not starting with a digit or `_`, which marks trusted fields);
    ///   `.unavailable` when journald cannot be reached.
    public static func send(_ fields: [(name: String, value: String)]) throws(JournalError) {
        var items: [[UInt8]] = []
        items.reserveCapacity(fields.count)
        for (name, value) in fields {
            // The same rule as a match's field name, and no leading underscore.
            _ = try JournalMatch(field: name, value: value)
            guard !name.hasPrefix("_") else {
                throw JournalError(code: .invalidArgument, message: "journal field \(name) starts with _, which only journald may set")
            }
            items.append(Array(name.utf8) + [UInt8(ascii: "=")] + Array(value.utf8))
        }
        try JournalCalls.send(items)
    }
}
