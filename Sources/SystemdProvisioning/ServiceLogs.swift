public import SDJournal
import SystemdManager
import Glibc

/// The journal filter that finds every line of one service, in a login session and in a sandbox.
///
/// Not obvious: journald attributes a user service's output with `_SYSTEMD_USER_UNIT` in a real
/// session but `_SYSTEMD_UNIT` when the user manager runs outside `user@.service`, and may attribute
/// neither to lines written just before a fast exit; so the filter ORs both unit fields (for the
/// transient unit and the template instance), the manager's own `USER_UNIT=` messages, and the
/// service's `SYSLOG_IDENTIFIER`, which travels with the output stream itself.
public enum ServiceLogFilter {
    public static func filter(for unit: ServiceUnit, uid: UInt32? = nil) -> JournalFilter {
        let uid = uid ?? getuid()
        var groups: [[JournalMatch]] = []
        let uidMatch = try! JournalMatch(field: "_UID", value: String(uid))
        for name in [unit.transientUnit, unit.templateInstance] {
            groups.append([try! JournalMatch(field: "_SYSTEMD_USER_UNIT", value: name.rawValue), uidMatch])
            groups.append([try! JournalMatch(field: "USER_UNIT", value: name.rawValue), uidMatch])
            groups.append([try! JournalMatch(field: "_SYSTEMD_UNIT", value: name.rawValue)])
        }
        groups.append([try! JournalMatch(field: "SYSLOG_IDENTIFIER", value: unit.syslogIdentifier)])
        return JournalFilter(anyOf: groups)
    }
}

/// Reads one service's lines from the journal: the last N, since a time, and following new ones.
///
/// Owns its `JournalReader` (and so its thread); one follower at a time.
public final class ServiceLogs: Sendable {
    public let unit: ServiceUnit
    let reader: JournalReader

    /// - Throws: `JournalError` when the journal cannot be opened.
    public init(unit: ServiceUnit) async throws(JournalError) {
        self.unit = unit
        reader = try await JournalReader(scope: .localOnly)
        try await reader.setFilter(ServiceLogFilter.filter(for: unit))
    }

    /// The last `count` lines (all when nil), optionally only those at or after `since` (µs since
    /// the epoch), oldest first. Afterwards `follow` continues after the newest.
    public func last(_ count: Int?, since: UInt64? = nil) async throws(JournalError) -> [JournalEntry] {
        guard let since else {
            if let count { return try await reader.tail(count) }
            try await reader.seekToHead()
            return try await readAll()
        }
        try await reader.seek(toRealtime: since)
        let all = try await readAll()
        guard let count else { return all }
        return Array(all.suffix(count))
    }

    /// The lines written since the last read, without waiting.
    public func readNew() async throws(JournalError) -> [JournalEntry] { try await readAll() }

    private func readAll() async throws(JournalError) -> [JournalEntry] {
        var out: [JournalEntry] = []
        while true {
            let batch = try await reader.readForward(limit: 4096)
            if batch.isEmpty { return out }
            out += batch
        }
    }

    /// New lines as journald writes them, until the task is cancelled. Waits on the journal's
    /// inotify descriptor; the one-second bound only re-arms the wait.
    public func follow(_ body: @Sendable ([JournalEntry]) async -> Void) async throws(JournalError) {
        while !Task.isCancelled {
            let batch = try await reader.readForward(limit: 4096)
            if !batch.isEmpty {
                await body(batch)
                continue
            }
            _ = try await reader.waitForChanges(before: ContinuousClock.now.advanced(by: .seconds(1)))
        }
    }

    public func close() { reader.close() }
}
