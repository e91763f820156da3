import Glibc
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
        try await worker.run { j, _ throws(JournalError) in try JournalCalls.setFilter(j, filter) }
    }

    /// The last `count` matching entries, oldest first; with `notAfter` (µs since the epoch), the
    /// last ones at or before that time, as `journalctl -n N --until T`. Afterwards the position is on
    /// the newest one returned, so `readForward` returns only the entries after it.
    public func tail(_ count: Int, notAfter: UInt64? = nil) async throws(JournalError) -> [JournalEntry] {
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
            var out = [try JournalCalls.entry(j, extraFields: fields)]
            out.reserveCapacity(moved)
            while out.count < moved, try JournalCalls.next(j) {
                out.append(try JournalCalls.entry(j, extraFields: fields))
            }
            return out
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

    /// Positions just after the entry at `cursor`, so reading resumes with the next one.
    public func seek(after cursor: String) async throws(JournalError) {
        try await worker.run { j, _ throws(JournalError) in
            try JournalCalls.seekCursor(j, cursor)
            if try JournalCalls.next(j), !JournalCalls.testCursor(j, cursor) {
                // The cursor's entry is gone (rotated away): we are already on the next one; step back.
                _ = try JournalCalls.previous(j)
            }
        }
    }

    /// Up to `limit` entries after the current position, oldest first (empty at the end).
    public func readForward(limit: Int = 1000) async throws(JournalError) -> [JournalEntry] {
        try await worker.run { j, fields throws(JournalError) in
            var out: [JournalEntry] = []
            while out.count < limit, try JournalCalls.next(j) {
                out.append(try JournalCalls.entry(j, extraFields: fields))
            }
            if out.isEmpty { JournalCalls.process(j) }  // release rotated files during long follows
            return out
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
                        let remaining = ContinuousClock.now.duration(to: deadline)
                        if remaining <= .zero { return false }
                        let (s, atto) = remaining.components
                        var ms = Int32(clamping: s * 1000 + atto / 1_000_000_000_000_000 + 1)
                        let journalTimeout = JournalCalls.timeoutMilliseconds(j)
                        if journalTimeout >= 0 { ms = min(ms, journalTimeout) }
                        var fds = [
                            pollfd(fd: fd, events: Int16(truncatingIfNeeded: JournalCalls.events(j)), revents: 0),
                            pollfd(fd: worker.wakeFD, events: Int16(POLLIN), revents: 0),
                        ]
                        _ = poll(&fds, 2, ms)
                        worker.drainWake()
                        if fds[0].revents != 0 || journalTimeout == 0 {
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

/// The thread that owns one `sd_journal`.
final class JournalWorker: @unchecked Sendable {
    typealias Job = @Sendable (JournalPointer?, [String]) -> Void

    private struct State {
        var jobs: [Job] = []
        var closed = false
        var nextTicket: UInt64 = 1
        var interrupted: Set<UInt64> = []
        var openError: JournalError?
    }
    private let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    var wakeFD: Int32 { wakeRead }

    init(scope: JournalScope, extraFields: [String]) throws(JournalError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw JournalError(code: .unavailable, message: "cannot create a wake pipe", errno: errno)
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        // The handle is opened on the worker thread itself: sd-journal binds it to the opening thread.
        let context = Unmanaged.passRetained(Box(worker: self, scope: scope, fields: extraFields))
        var thread = pthread_t()
        let r = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.worker.main(scope: box.scope, fields: box.fields)
            return nil
        }, context.toOpaque())
        guard r == 0 else {
            context.release()
            Glibc.close(fds[0]); Glibc.close(fds[1])
            throw JournalError(code: .unavailable, message: "cannot start the journal thread", errno: r)
        }
        pthread_detach(thread)
    }

    private final class Box {
        let worker: JournalWorker
        let scope: JournalScope
        let fields: [String]
        init(worker: JournalWorker, scope: JournalScope, fields: [String]) {
            self.worker = worker
            self.scope = scope
            self.fields = fields
        }
    }

    private func main(scope: JournalScope, fields: [String]) {
        let j: JournalPointer
        do {
            j = try JournalCalls.open(scope)
        } catch {
            failAll(error)
            return
        }
        while true {
            let (jobs, closed) = state.withLock { s -> ([Job], Bool) in
                defer { s.jobs.removeAll() }
                return (s.jobs, s.closed)
            }
            for job in jobs { job(j, fields) }
            if closed && jobs.isEmpty { break }
            if !jobs.isEmpty { continue }
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 1, -1)
            drainWake()
        }
        JournalCalls.close(j)
        state.withLock { _ in
            Glibc.close(wakeRead)
            Glibc.close(wakeWrite)
        }
    }

    /// The journal could not be opened: pending jobs fail with that error, and so do later ones.
    private func failAll(_ error: JournalError) {
        let jobs = state.withLock { s -> [Job] in
            s.closed = true
            s.openError = error
            defer { s.jobs.removeAll() }
            return s.jobs
        }
        for job in jobs { job(nil, []) }
        state.withLock { _ in
            Glibc.close(wakeRead)
            Glibc.close(wakeWrite)
        }
    }

    func drainWake() {
        var buf = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakeRead, &buf, buf.count) > 0 {}
    }

    private func wakeLocked() {
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)
    }

    func newInterruptTicket() -> UInt64 {
        state.withLock { s in defer { s.nextTicket += 1 }; return s.nextTicket }
    }
    func interrupt(_ ticket: UInt64) {
        state.withLock { s in
            s.interrupted.insert(ticket)
            if !s.closed { wakeLocked() }
        }
    }
    func isInterrupted(_ ticket: UInt64) -> Bool {
        state.withLock { s in s.interrupted.remove(ticket) != nil }
    }

    func shutdown() {
        state.withLock { s in
            if s.closed { return }
            s.closed = true
            wakeLocked()
        }
    }

    /// Runs `body` on the journal thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (JournalPointer, [String]) throws(JournalError) -> T) async throws(JournalError) -> T {
        let result: Result<T, JournalError> = await withCheckedContinuation { continuation in
            let job: Job = { [self] j, fields in
                guard let j else {
                    let error = state.withLock { $0.openError }
                    return continuation.resume(returning: .failure(error ?? JournalError(code: .closed, message: "the journal reader is closed")))
                }
                do throws(JournalError) { continuation.resume(returning: .success(try body(j, fields))) }
                catch { continuation.resume(returning: .failure(error)) }
            }
            let refused = state.withLock { s -> JournalError? in
                if s.closed { return s.openError ?? JournalError(code: .closed, message: "the journal reader is closed") }
                s.jobs.append(job)
                wakeLocked()
                return nil
            }
            if let refused { continuation.resume(returning: .failure(refused)) }
        }
        return try result.get()
    }
}
