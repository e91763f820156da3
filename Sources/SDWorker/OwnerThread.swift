// The one thread that owns an sd-bus or sd-journal object, shared by SDBus and SDJournal.
//
// Why a dedicated thread and not an actor: the loop must block in poll() while nobody calls (bus
// signals arrive unprompted, a journal follow waits for writes), and a blocking poll on Swift's
// cooperative pool would take one of its few threads away. Callers hand jobs over through a
// mutex-guarded queue and a byte on a self-pipe wakes the poll.
import Glibc
import OSCalls
import Synchronization

/// Why an owner thread could not start: the failing call and its errno.
package struct OwnerThreadError: Error, Sendable {
    package let operation: String
    package let errno: Int32
}

/// A thread that owns one C object, and the queue of jobs it runs on it.
///
/// sd-bus objects use non-atomic reference counts and sd-journal binds a handle to the thread that
/// opened it, so every call on one must happen on the same thread. The wrapper's own loop (`body`)
/// runs on that thread (`start`): it takes queued jobs (`takeJobs`), polls the wake pipe (`wakeFD`) with its
/// object's descriptors, and calls `finish()` as its last act. Not obvious: the wake byte is written
/// under the queue's lock, so it can never hit a pipe that `finish()` has closed.
package final class OwnerThread<Job: Sendable>: @unchecked Sendable {
    // `queue` is the only shared mutable state; the pipe descriptors are constants until `finish`.
    private let queue = Mutex<(jobs: [Job], closed: Bool, finished: Bool)>(([], false, false))
    /// The read end of the wake pipe: poll it for POLLIN, then `drainWake()`.
    package let wakeFD: Int32
    private let wakeWrite: Int32

    /// Creates the wake pipe; `start` then starts the thread.
    package init() throws(OwnerThreadError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw OwnerThreadError(operation: "create a wake pipe", errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeFD = fds[0]
        wakeWrite = fds[1]
    }

    /// Starts a detached thread that runs `body` (the owner's loop, which ends with `finish()`).
    /// On failure the pipe is closed and nothing runs.
    package func start(_ body: @escaping @Sendable (OwnerThread<Job>) -> Void) throws(OwnerThreadError) {
        let r = Threads.startDetached { [self] in body(self) }
        guard r == 0 else {
            finish()
            throw OwnerThreadError(operation: "start a thread", errno: r)
        }
    }

    /// Queues `job` and wakes the thread. False, and the job is dropped, once `close()` was called.
    @discardableResult
    package func submit(_ job: Job) -> Bool {
        queue.withLock { state in
            if state.closed { return false }
            state.jobs.append(job)
            writeWakeByte()
            return true
        }
    }

    /// Refuses later jobs and wakes the thread so its loop sees `closed`. True the first time.
    @discardableResult
    package func close() -> Bool {
        queue.withLock { state in
            if state.closed { return false }
            state.closed = true
            writeWakeByte()
            return true
        }
    }

    /// Wakes the thread without a job (e.g. to look at an interruption), unless closed.
    package func wake() {
        queue.withLock { state in if !state.closed { writeWakeByte() } }
    }

    /// On the owner thread: the queued jobs (removed from the queue) and whether it is closed.
    package func takeJobs() -> (jobs: [Job], closed: Bool) {
        queue.withLock { state in
            defer { state.jobs.removeAll(keepingCapacity: true) }
            return (state.jobs, state.closed)
        }
    }

    /// On the owner thread: empties the wake pipe after poll() saw it readable.
    package func drainWake() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { Glibc.read(wakeFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// On the owner thread, its last act: closes the queue and the wake pipe.
    package func finish() {
        queue.withLock { state in
            state.closed = true
            guard !state.finished else { return }
            state.finished = true
            Glibc.close(wakeFD)
            Glibc.close(wakeWrite)
        }
    }

    /// poll() on the wake pipe and `descriptors`; returns their `revents` (the wake pipe's first) and
    /// drains the pipe when it was readable. `timeout` in ms, -1 for none; EINTR counts as a wake.
    package func poll(_ descriptors: [(fd: Int32, events: Int16)], timeout: Int32) -> (woken: Bool, revents: [Int16], errno: Int32?) {
        var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            + descriptors.map { pollfd(fd: $0.fd, events: $0.events, revents: 0) }
        let r = Glibc.poll(&fds, nfds_t(fds.count), timeout)
        let failure: Int32? = r < 0 && errno != EINTR ? errno : nil
        let woken = fds[0].revents & Int16(POLLIN) != 0
        if woken { drainWake() }
        return (woken, fds.dropFirst().map(\.revents), failure)
    }

    private func writeWakeByte() {
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)  // a full pipe already means "awake": EAGAIN is fine
    }
}

