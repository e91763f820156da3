import Diagnostics
import Glibc
import Logging
import OSCalls
import SDWorker
import Synchronization

/// A reader of the local journal: filter, tail, read forward, and wait for new entries.
///
/// sd-journal demands that a handle be used from one and the same thread for its whole life, so each
/// reader starts its own thread and every method hands work to it. Not obvious: the inotify watch is
/// set up when the reader opens (`sd_journal_get_fd` before any read, as journalctl does), otherwise the
/// first wait could sleep through entries written meanwhile.
public final class JournalReader: Sendable {
    private let worker: JournalWorker

    /// Opens the journal files of `scope`.
    ///
    /// - Parameter extraFields: fields to read into `JournalEntry.fields` besides the standard ones;
    ///   include `"__CURSOR"` to get `JournalEntry.cursor`.
    /// - Throws: `JournalError` with code `.unavailable` when the journal cannot be opened.
    public init(scope: JournalScope = .localOnly, extraFields: [String] = []) async throws(JournalError) {
        worker = try JournalWorker(scope: scope, extraFields: extraFields)
        try await worker.run { j, _ throws(JournalError) in _ = try JournalCalls.fd(j) }
    }

    deinit { worker.shutdown() }

    /// Replaces the filter; an empty filter matches every entry. Resets the read position.
    public func setFilter(_ filter: JournalFilter) async throws(JournalError) {
        journalLog.debug("journal filter: \(filter.groups.map { $0.map(\.description).joined(separator: " + ") }.joined(separator: " | "))")
        try await worker.run { j, _ throws(JournalError) in try JournalCalls.setFilter(j, filter) }
    }

    /// Every value `field` has in the open files, whatever the filter (`sd_journal_query_unique`).
    public func uniqueValues(of field: String) async throws(JournalError) -> [String] {
        try await worker.run { j, _ throws(JournalError) in try JournalCalls.uniqueValues(j, field) }
    }

    /// Whether any entry matches `filter`. Replaces the filter (and so resets the read position):
    /// set the one to read with afterwards.
    public func hasEntries(matching filter: JournalFilter) async throws(JournalError) -> Bool {
        try await worker.run { j, _ throws(JournalError) in
            try JournalCalls.setFilter(j, filter)
            try JournalCalls.seekHead(j)
            return try JournalCalls.next(j)
        }
    }

    /// `filter` without the groups that match no entry now, checked in one visit to the journal's
    /// thread. Not obvious: sd-journal looks every group's value up again at every step of a read,
    /// present or not, so a read that only needs what the files hold now is cheaper with the absent
    /// groups left out (a group whose first entry arrives later is missed, so a follow must keep
    /// them). When no group matches, `filter` is returned whole: an empty one would match every entry.
    /// Replaces the filter (and so resets the read position), as `hasEntries` does.
    public func groupsWithEntries(of filter: JournalFilter) async throws(JournalError) -> JournalFilter {
        try await worker.run { j, _ throws(JournalError) in
            var present: [[JournalMatch]] = []
            for group in filter.groups {
                try JournalCalls.setFilter(j, JournalFilter(anyOf: [group]))
                try JournalCalls.seekHead(j)
                if try JournalCalls.next(j) { present.append(group) }
            }
            return present.isEmpty ? filter : JournalFilter(anyOf: present)
        }
    }

    /// The last `count` matching entries, oldest first; with `notAfter` (µs since the epoch), the
    /// last ones at or before that time, as `journalctl -n N --until T`. Afterwards the position is on
    /// the newest one returned, so `readForward` returns only the entries after it.
    public func tail(_ count: Int, notAfter: UInt64? = nil) async throws(JournalError) -> [JournalEntry] {
        try await journalLog.timed("journal tail \(count)\(notAfter.map { " until \($0)" } ?? "")") { () async throws(JournalError) -> [JournalEntry] in
        try await worker.run { j, fields throws(JournalError) in
            if let notAfter {
                // Before the first entry later than notAfter: moving back lands on entries <= notAfter.
                try JournalCalls.seekRealtime(j, notAfter == .max ? notAfter : notAfter + 1)
            } else {
                try JournalCalls.seekTail(j)
            }
            let moved = try JournalCalls.previousSkip(j, UInt64(max(count, 1)))
            guard moved > 0 else {
                // Nothing matches yet. Reading on from the tail location would jump to the newest
                // entry written later and skip the ones before it, so restart from the head.
                try JournalCalls.seekHead(j)
                return []
            }
            // Now ON the oldest wanted entry (or on the newest, for count 0: later reads start after it).
            guard count > 0 else { return [] }
            // previous_skip leaves the position ON the first wanted entry: read it before moving on.
            var out = [try JournalCalls.entry(j, fields: fields)]
            out.reserveCapacity(moved)
            while out.count < moved, try JournalCalls.next(j) {
                out.append(try JournalCalls.entry(j, fields: fields))
            }
            return out
        }
        }
    }

    /// Positions the reader so that `readForward` returns the last `count` matching entries (with
    /// `notAfter`, the last ones at or before that time), oldest first; returns how many there are
    /// (at most `count`). For a caller that hands entries on in batches as they are read, where
    /// `tail` reads them all first. Read exactly that many: entries after `notAfter` follow them.
    public func positionBeforeLast(_ count: Int, notAfter: UInt64? = nil) async throws(JournalError) -> Int {
        try await worker.run { j, _ throws(JournalError) in
            if let notAfter {
                try JournalCalls.seekRealtime(j, notAfter == .max ? notAfter : notAfter + 1)
            } else {
                try JournalCalls.seekTail(j)
            }
            guard count > 0 else { return 0 }
            // One step further back than wanted: ON the entry before the first wanted one, so the
            // next `next` is the first wanted. With fewer entries than that, all of them, from the head.
            let moved = try JournalCalls.previousSkip(j, UInt64(count) + 1)
            if moved > count { return count }
            try JournalCalls.seekHead(j)
            return moved
        }
    }

    /// Positions before the first entry at or after `realtimeMicroseconds` (µs since the epoch).
    public func seek(toRealtime realtimeMicroseconds: UInt64) async throws(JournalError) {
        try await worker.run { j, _ throws(JournalError) in try JournalCalls.seekRealtime(j, realtimeMicroseconds) }
    }

    /// Positions before the oldest entry.
    public func seekToHead() async throws(JournalError) {
        try await worker.run { j, _ throws(JournalError) in try JournalCalls.seekHead(j) }
    }

    /// Up to `limit` entries after the current position, oldest first (empty at the end).
    public func readForward(limit: Int = 1000) async throws(JournalError) -> [JournalEntry] {
        try await journalLog.timed("journal read up to \(limit)") { () async throws(JournalError) -> [JournalEntry] in
        try await worker.run { j, fields throws(JournalError) in
            var out: [JournalEntry] = []
            while out.count < limit, try JournalCalls.next(j) {
                out.append(try JournalCalls.entry(j, fields: fields))
            }
            if out.isEmpty { JournalCalls.process(j) }  // release rotated files during long follows
            return out
        }
        }
    }

    /// Waits until the journal changes or `deadline` passes; returns false on timeout.
    ///
    /// Cancelling the calling task ends the wait at once (returning false).
    public func waitForChanges(before deadline: ContinuousClock.Instant) async throws(JournalError) -> Bool {
        let worker = self.worker
        let ticket = worker.newInterruptTicket()
        let result: Result<Bool, JournalError> = await withTaskCancellationHandler {
            do {
                return .success(try await worker.run { j, _ throws(JournalError) in
                    let fd = try JournalCalls.fd(j)
                    while true {
                        if worker.isInterrupted(ticket) { return false }
                        if deadline <= .now { return false }
                        let journalTimeout = JournalCalls.timeoutMilliseconds(j)
                        let polled = worker.thread.poll([(fd, Int16(truncatingIfNeeded: JournalCalls.events(j)))],
                                                        timeout: PollTimeout.earlier(PollTimeout.until(deadline), journalTimeout))
                        if polled.revents[0] != 0 || journalTimeout == 0 {
                            JournalCalls.process(j)
                            return true
                        }
                    }
                })
            } catch let error as JournalError {
                return .failure(error)
            } catch {
                return .failure(JournalError(code: .readFailed, message: "\(error)"))
            }
        } onCancel: {
            worker.interrupt(ticket)
        }
        return try result.get()
    }

    /// Whether journald accepts messages: a connect to its socket, since a killed journald leaves
    /// the socket file behind (a test for the file alone says yes to a dead daemon).
    public static func journaldIsRunning(socketPath: String = "/run/systemd/journal/socket") -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        } == 0
    }

    /// Closes the journal; later calls fail with `.closed`.
    public func close() { worker.shutdown() }
}

/// The owner of one `sd_journal`: its loop runs on an `OwnerThread` (SDWorker, shared with SDBus).
final class JournalWorker: Sendable {
    typealias Job = @Sendable (JournalPointer?, JournalCalls.EntryFields) -> Void

    private struct State {
        var nextTicket: UInt64 = 1
        var interrupted: Set<UInt64> = []
        var openError: JournalError?
    }
    private let state = Mutex(State())
    let thread: OwnerThread<Job>

    init(scope: JournalScope, extraFields: [String]) throws(JournalError) {
        do throws(OwnerThreadError) {
            thread = try OwnerThread<Job>()
        } catch {
            throw JournalError(code: .unavailable, message: "cannot \(error.operation) for the journal", errno: error.errno)
        }
        // The handle is opened on the worker thread itself: sd-journal binds it to the opening thread.
        do throws(OwnerThreadError) {
            try thread.start { [self] owner in main(owner, scope: scope, fields: JournalCalls.EntryFields(extra: extraFields)) }
        } catch {
            throw JournalError(code: .unavailable, message: "cannot start the journal thread", errno: error.errno)
        }
    }

    private func main(_ owner: OwnerThread<Job>, scope: JournalScope, fields: JournalCalls.EntryFields) {
        let j: JournalPointer
        do {
            j = try JournalCalls.open(scope)
        } catch {
            failAll(owner, error)
            return
        }
        while true {
            let (jobs, closed) = owner.takeJobs()
            for job in jobs { job(j, fields) }
            if closed && jobs.isEmpty { break }
            if !jobs.isEmpty { continue }
            _ = owner.poll([], timeout: -1)
        }
        JournalCalls.close(j)
        owner.finish()
    }

    /// The journal could not be opened: pending jobs fail with that error, and so do later ones.
    private func failAll(_ owner: OwnerThread<Job>, _ error: JournalError) {
        state.withLock { $0.openError = error }
        owner.close()
        for job in owner.takeJobs().jobs { job(nil, JournalCalls.EntryFields(extra: [])) }
        owner.finish()
    }

    func newInterruptTicket() -> UInt64 {
        state.withLock { s in defer { s.nextTicket += 1 }; return s.nextTicket }
    }
    func interrupt(_ ticket: UInt64) {
        state.withLock { s in _ = s.interrupted.insert(ticket) }
        thread.wake()
    }
    func isInterrupted(_ ticket: UInt64) -> Bool {
        state.withLock { s in s.interrupted.remove(ticket) != nil }
    }

    func shutdown() { thread.close() }

    /// Runs `body` on the journal thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (JournalPointer, JournalCalls.EntryFields) throws(JournalError) -> T) async throws(JournalError) -> T {
        let result: Result<T, JournalError> = await withCheckedContinuation { continuation in
            let job: Job = { [self] j, fields in
                guard let j else {
                    let error = state.withLock { $0.openError }
                    return continuation.resume(returning: .failure(error ?? JournalError(code: .closed, message: "the journal reader is closed")))
                }
                do throws(JournalError) { continuation.resume(returning: .success(try body(j, fields))) }
                catch { continuation.resume(returning: .failure(error)) }
            }
            if !thread.submit(job) {
                let error = state.withLock { $0.openError }
                continuation.resume(returning: .failure(error ?? JournalError(code: .closed, message: "the journal reader is closed")))
            }
        }
        return try result.get()
    }
}

/// Journal queries with their durations, at debug level (`Diagnostics`).
let journalLog = Logger(label: "svcunit.journal")
