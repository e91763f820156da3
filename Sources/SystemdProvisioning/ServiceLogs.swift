public import SDJournal
import SystemdManager
import OSCalls

/// Which of a service's journal lines to read.
public struct ServiceLogSelection: Sendable, Hashable {
    /// Leave out the user manager's own lines about the unit ("Started …", "Main process exited …").
    public var serviceOnly: Bool
    /// Only the lines of one run of the unit: its invocation ID (32 hex digits).
    public var invocationID: String?

    public init(serviceOnly: Bool = false, invocationID: String? = nil) {
        self.serviceOnly = serviceOnly
        self.invocationID = invocationID
    }
}

/// The journal filter that finds every line of one service, in a login session and in a sandbox.
///
/// Not obvious: journald attributes a user service's output with `_SYSTEMD_USER_UNIT` in a real
/// session but `_SYSTEMD_UNIT` when the user manager runs outside `user@.service`, and may attribute
/// neither to lines written just before a fast exit; so the filter ORs both unit fields (for the
/// transient unit and the template instance), the manager's own `USER_UNIT=` messages, and the
/// service's `SYSLOG_IDENTIFIER`, which travels with the output stream itself. One run is found by
/// its invocation ID: `_SYSTEMD_INVOCATION_ID` (set by journald) on the service's lines and
/// `USER_INVOCATION_ID` (`INVOCATION_ID` for a system manager) on the manager's.
public enum ServiceLogFilter {
    /// - Parameter userTied: whether the groups on user fields (`userGroups`) are tied to `uid`, so
    ///   that another user's unit of the same name stays out; see `ServiceLogs.othersNameUnits`,
    ///   which decides when that cannot happen.
    public static func filter(for unit: ServiceUnit, uid: UInt32? = nil,
                              selection: ServiceLogSelection = ServiceLogSelection(), userTied: Bool = true) -> JournalFilter {
        let uid = uid ?? CurrentProcess.userID
        let tie = userTied ? [try! JournalMatch(field: "_UID", value: String(uid))] : []
        return JournalFilter(anyOf: userGroups(for: unit, selection: selection).map { $0 + tie } + otherGroups(for: unit, selection: selection))
    }

    /// The groups on fields of a user's units: the user-unit field journald sets, and the manager's
    /// own lines (`USER_UNIT`, or the run's invocation ID). Two users' units of the same name meet here.
    static func userGroups(for unit: ServiceUnit, selection: ServiceLogSelection) -> [[JournalMatch]] {
        if let id = selection.invocationID {
            return selection.serviceOnly ? [] : managerInvocationFields.map { [try! JournalMatch(field: $0, value: id)] }
        }
        return [unit.transientUnit, unit.templateInstance].flatMap { name in
            ([userUnitField] + (selection.serviceOnly ? [] : [managerUnitField])).map { [try! JournalMatch(field: $0, value: name.rawValue)] }
        }
    }

    /// The other groups: journald's system-unit field, the output's identifier, or the invocation ID
    /// journald gives the service's own lines.
    static func otherGroups(for unit: ServiceUnit, selection: ServiceLogSelection) -> [[JournalMatch]] {
        // Invocation IDs are random 128-bit values: the ID alone names the run.
        if let id = selection.invocationID { return [[try! JournalMatch(field: serviceInvocationField, value: id)]] }
        return [unit.transientUnit, unit.templateInstance].map { [try! JournalMatch(field: "_SYSTEMD_UNIT", value: $0.rawValue)] }
            + [[try! JournalMatch(field: "SYSLOG_IDENTIFIER", value: unit.syslogIdentifier)]]
    }

    /// The field the user manager names the unit with on its own lines about it.
    public static let managerUnitField = "USER_UNIT"
    /// The field journald names the user unit a line came from with (in a login session).
    public static let userUnitField = "_SYSTEMD_USER_UNIT"
    /// The fields the manager gives a run's invocation ID in, on its own lines.
    public static let managerInvocationFields = ["USER_INVOCATION_ID", "INVOCATION_ID"]
    /// The field journald gives the invocation ID of the process that wrote a line.
    public static let serviceInvocationField = "_SYSTEMD_INVOCATION_ID"

    /// The fields `ServiceLogs` reads besides message, time, priority, PID and identifier.
    public static let extraFields = [managerUnitField, serviceInvocationField] + managerInvocationFields + ["_COMM"]
}

extension JournalEntry {
    /// True for the user manager's own lines about the unit ("Started …", "Main process exited …").
    public var isFromManager: Bool { fields[ServiceLogFilter.managerUnitField] != nil }

    /// The invocation ID of the run the line belongs to, when journald or the manager recorded one.
    public var invocationID: String? {
        field(ServiceLogFilter.serviceInvocationField)
            ?? ServiceLogFilter.managerInvocationFields.lazy.compactMap { self.field($0) }.first
    }

    /// journalctl's identifier: `SYSLOG_IDENTIFIER`, else the command name.
    public var identifier: String? { syslogIdentifier ?? field("_COMM") }
}

/// Reads one service's lines from the journal: the last N, a time range, and following new ones.
///
/// Owns its `JournalReader` (and so its thread); one follower at a time. Not obvious: reading a
/// range hands entries over in batches as they are read, so memory stays bounded by the batch size
/// however long the history is (only `count` entries are held for "the last N").
public final class ServiceLogs: Sendable {
    public let unit: ServiceUnit
    let reader: JournalReader

    /// How many entries one read hands over.
    public static let batchSize = 512

    /// - Parameter extraFields: what to read of each entry besides message, time, priority, PID and
    ///   identifier; by default everything `JournalEntry`'s accessors here use (`isFromManager`,
    ///   `invocationID`, `identifier`'s `_COMM`). A reader that shows less reads less.
    /// - Parameter following: whether `follow` will be called. A reader that only reads what the
    ///   journal holds now leaves out the filter's groups that match nothing
    ///   (`JournalReader.groupsWithEntries`: the seven groups of a service's filter cost about 1.8
    ///   times the one of `journalctl -t` over the same lines; the template instance's and, outside
    ///   a sandbox, `_SYSTEMD_UNIT`'s usually match nothing). A check that fails keeps them all.
    /// - Throws: `JournalError` when the journal cannot be opened.
    public init(unit: ServiceUnit, selection: ServiceLogSelection = ServiceLogSelection(),
                extraFields: [String] = ServiceLogFilter.extraFields, following: Bool = true) async throws(JournalError) {
        self.unit = unit
        reader = try await JournalReader(scope: .localOnly, extraFields: extraFields)
        let userTied = await Self.othersNameUnits(of: unit, selection: selection, reader: reader)
        var filter = ServiceLogFilter.filter(for: unit, selection: selection, userTied: userTied)
        if !following { filter = (try? await reader.groupsWithEntries(of: filter)) ?? filter }
        try await reader.setFilter(filter)
        // The checks moved the read position: back to where a fresh reader starts.
        try await reader.seekToHead()
    }

    /// Whether another user's entries name this service's units (or its run) in the fields the
    /// filter ties to the user. Only a reader who may read other users' journals (root, `adm`) can
    /// see such an entry, and only for a unit of the same name: the same UUID registered by two
    /// users. When none does, tying those fields to the user only costs: sd-journal bisects the
    /// whole `_UID=<uid>` entry array at every step (a quarter of `logs -n 10000`'s instructions).
    /// Checked when the journal is opened; a follow keeps that filter. A check that fails keeps the
    /// tie (the safe side).
    static func othersNameUnits(of unit: ServiceUnit, selection: ServiceLogSelection, reader: JournalReader) async -> Bool {
        // Nothing tied (one run's own lines only): nothing to check, and an empty filter would match all.
        let named = ServiceLogFilter.userGroups(for: unit, selection: selection)
        guard !named.isEmpty else { return false }
        let own = String(CurrentProcess.userID)
        guard let uids = try? await reader.uniqueValues(of: "_UID") else { return true }
        let others = uids.filter { $0 != own }
        guard !others.isEmpty else { return false }
        let groups = others.flatMap { other in named.map { $0 + [try! JournalMatch(field: "_UID", value: other)] } }
        return (try? await reader.hasEntries(matching: JournalFilter(anyOf: groups))) ?? true
    }

    /// The last `count` lines (all when nil), optionally only those at or after `since` (µs since
    /// the epoch), oldest first. Afterwards `follow` continues after the newest.
    public func last(_ count: Int?, since: UInt64? = nil) async throws(JournalError) -> [JournalEntry] {
        var out: [JournalEntry] = []
        try await read(last: count, since: since, until: nil) { out += $0 }
        return out
    }

    /// Hands the lines of a range to `body` in batches, oldest first: the last `count` (all when
    /// nil) of those at or after `since` and at or before `until` (µs since the epoch), as
    /// `journalctl -n N --since S --until U` would show them except that `-n` always counts from the
    /// newest end. Returns false when an entry after `until` was seen (nothing later can be shown).
    /// Afterwards `follow` continues after the last entry read.
    @discardableResult
    public func read(last count: Int?, since: UInt64?, until: UInt64?,
                     _ body: ([JournalEntry]) async -> Void) async throws(JournalError) -> Bool {
        if let count, count > 0 {
            // Batch by batch, the next one read while `body` handles this one (two cores: the
            // journal's thread reads as the caller prints).
            var remaining = try await reader.positionBeforeLast(count, notAfter: until)
            var batch = remaining > 0 ? try await reader.readForward(limit: min(Self.batchSize, remaining)) : []
            while !batch.isEmpty {
                remaining -= batch.count
                async let following = Self.batch(of: reader, limit: min(Self.batchSize, remaining))
                if let since { batch.removeAll { $0.realtimeMicroseconds < since } }
                if !batch.isEmpty { await body(batch) }
                batch = try await following.get()
            }
            return true
        }
        if let count {
            // None: the position is at the newest (or at `until`), so a follow starts after it.
            _ = try await reader.tail(count, notAfter: until)
            return true
        }
        if let since { try await reader.seek(toRealtime: since) } else { try await reader.seekToHead() }
        return try await readOn(until: until, body)
    }

    /// Up to `limit` entries read forward (none for 0), as a result: an `async let` keeps no typed error.
    static func batch(of reader: JournalReader, limit: Int) async -> Result<[JournalEntry], JournalError> {
        guard limit > 0 else { return .success([]) }
        do { return .success(try await reader.readForward(limit: limit)) } catch { return .failure(error) }
    }

    /// Hands the lines written since the last read to `body` in batches, without waiting; false
    /// when an entry after `until` was seen.
    @discardableResult
    public func readOn(until: UInt64? = nil, _ body: ([JournalEntry]) async -> Void) async throws(JournalError) -> Bool {
        while true {
            let batch = try await reader.readForward(limit: Self.batchSize)
            if batch.isEmpty { return true }
            if let until, let past = batch.firstIndex(where: { $0.realtimeMicroseconds > until }) {
                if past > 0 { await body(Array(batch[..<past])) }
                return false
            }
            await body(batch)
        }
    }

    /// The lines written since the last read, without waiting.
    public func readNew() async throws(JournalError) -> [JournalEntry] {
        var out: [JournalEntry] = []
        while true {
            let batch = try await reader.readForward(limit: Self.batchSize)
            if batch.isEmpty { return out }
            out += batch
        }
    }

    /// New lines as journald writes them, until the task is cancelled or, with `until` (µs since
    /// the epoch, the entries' clock), an entry after it appears or `deadline` (the same moment on
    /// the monotonic clock) passes. Waits on the journal's inotify descriptor; the one-second bound
    /// only re-arms the wait.
    public func follow(until: UInt64? = nil, deadline: ContinuousClock.Instant? = nil,
                       _ body: @Sendable ([JournalEntry]) async -> Void) async throws(JournalError) {
        while !Task.isCancelled {
            guard try await readOn(until: until, { await body($0) }) else { return }
            var wake = ContinuousClock.now.advanced(by: .seconds(1))
            if let deadline {
                if ContinuousClock.now >= deadline { return }
                wake = min(wake, deadline)
            }
            _ = try await reader.waitForChanges(before: wake)
        }
    }

    /// The invocation ID of the newest run that left a line in the journal, if any: the run
    /// `--this-run` means when systemd no longer knows the unit.
    public func lastInvocationID() async throws(JournalError) -> String? {
        var before: UInt64? = nil
        while true {
            let batch = try await reader.tail(Self.batchSize, notAfter: before)
            if let id = batch.reversed().lazy.compactMap(\.invocationID).first { return id }
            guard batch.count == Self.batchSize, let oldest = batch.first?.realtimeMicroseconds, oldest > 0 else { return nil }
            before = oldest - 1
        }
    }

    public func close() { reader.close() }
}
