import Foundation
import SystemdTestSupport
import Testing

// Support for the fault-and-abuse suite (issue 8): the built `svcunit` binary run as a subprocess
// WITHOUT blocking a thread of the cooperative pool (this machine has 2 cores, so a blocking wait
// there would serialise every parallel test), witnesses (`systemctl --user`, /proc, cgroups), store
// snapshots, and waits with deadlines instead of fixed sleeps.

// MARK: - Running the CLI

/// The outcome of one `svcunit` run.
struct Run: Sendable, CustomStringConvertible {
    var status: Int32
    /// True when the process was killed by a signal (a crash) rather than exiting.
    var signaled: Bool
    var stdout: String
    var stderr: String

    var errorLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
    var lines: [Substring] { stdout.split(separator: "\n") }
    var trimmed: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    func object() throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(value as? [String: Any], "not a JSON object: \(stdout)")
    }

    var description: String { "exit \(status)\(signaled ? " (signal)" : "") stdout=\(stdout.debugDescription) stderr=\(stderr.debugDescription)" }
}

/// A running `svcunit` process started by `CLI.spawn` (for killing it half-way).
final class Spawned: @unchecked Sendable {
    let process: Process
    let outPath: String
    let errPath: String
    private let done: Task<Run, Never>

    init(process: Process, outPath: String, errPath: String, done: Task<Run, Never>) {
        self.process = process
        self.outPath = outPath
        self.errPath = errPath
        self.done = done
    }

    var pid: Int32 { process.processIdentifier }
    func kill(_ signal: Int32) { _ = Glibc.kill(pid, signal) }
    /// Waits for the process (without blocking a thread).
    func wait() async -> Run { await done.value }
}

enum CLI {
    /// `svcunit` as built beside the test bundle.
    static var binary: String { sibling("svcunit") }
    static var entrypoint: String { sibling("svcunit") }  // units run `svcunit entrypoint …`

    static func sibling(_ name: String) -> String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent(name).path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent(name).path
    }

    static let scratch: String = {
        let dir = NSTemporaryDirectory() + "svcunit-rel-io-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return dir
    }()

    /// The environment children get: the test's, minus svcunit's own variables, NO_COLOR set.
    static func environment(_ extra: [String: String], removing: [String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SVCUNIT_ROOT"] = nil
        env["SVCUNIT_ENTRYPOINT"] = nil
        env["NO_COLOR"] = "1"
        for name in removing { env[name] = nil }
        env.merge(extra) { _, new in new }
        return env
    }

    /// Starts `executable arguments` with stdout/stderr going to files; never blocks.
    static func spawn(_ arguments: [String], executable: String = CLI.binary, environment extra: [String: String] = [:],
                      removing: [String] = []) throws -> Spawned {
        let id = UUID().uuidString
        let outPath = "\(scratch)/\(id).out", errPath = "\(scratch)/\(id).err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment(extra, removing: removing)
        process.standardInput = FileHandle.nullDevice
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in continuation.yield(); continuation.finish() }
        try process.run()
        try? out.close()
        try? err.close()
        let done = Task<Run, Never> {
            for await _ in stream {}
            let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
            return Run(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                       stdout: stdout, stderr: stderr)
        }
        return Spawned(process: process, outPath: outPath, errPath: errPath, done: done)
    }

    /// Runs `svcunit arguments` to completion. At most `Throttle.cliRuns.limit` of these run at once, so the
    /// hundreds of short bad-input runs cannot starve the timing-sensitive fault tests of the 2 cores
    /// (`spawn` is not throttled: the concurrency tests need their 20 processes at once).
    static func run(_ arguments: [String], environment: [String: String] = [:], removing: [String] = []) async throws -> Run {
        let run: Run
        if Throttle.urgent {
            run = try await spawn(arguments, environment: environment, removing: removing).wait()
        } else {
            run = try await Throttle.cliRuns.holding { try await spawn(arguments, environment: environment, removing: removing).wait() }
        }
        await ManagerDiagnostics.shared.noteIfStalled(run)
        return run
    }

    /// Runs a shell command line (for umask and similar), returning its outcome.
    static func shell(_ script: String, environment: [String: String] = [:]) async throws -> Run {
        try await spawn(["-c", script], executable: "/bin/sh", environment: environment).wait()
    }
}

// MARK: - A private store

/// A store directory for one test (mkdtemp, 0700); `svcunit` commands run with `--root` on it.
final class Store: Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "svcunit-rel-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw TestFailure("mkdtemp failed") }
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func svcunit(_ arguments: String..., environment: [String: String] = [:], removing: [String] = []) async throws -> Run {
        try await CLI.run(["--root", path] + arguments, environment: environment, removing: removing)
    }

    func spawn(_ arguments: String...) throws -> Spawned { try CLI.spawn(["--root", path] + arguments) }

    /// `create command [options] -- argv`, returning the UUID.
    func create(_ options: [String] = [], _ argv: [String]) async throws -> String {
        let run = try await CLI.run(["--root", path, "create", "command"] + options + ["--"] + argv)
        guard run.status == 0 else { throw TestFailure("create failed: \(run)") }
        return run.trimmed
    }

    func file(_ uuid: String) -> String { "\(path)/\(uuid)/service.json" }

    /// The stored document, parsed with Foundation's parser (an independent check that it is whole JSON).
    func document(_ uuid: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: file(uuid)))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func status(_ uuid: String) async throws -> [String: Any] {
        let run = try await svcunit("status", uuid, "--json")
        guard run.status == 0 else { throw TestFailure("status failed: \(run)") }
        return try run.object()
    }

    var uuids: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { UUID(uuidString: $0) != nil }.sorted()
    }

    /// Deletes every service (force), makes sure their units are gone, removes the directory.
    func cleanUp() async {
        let uuids = self.uuids
        if !uuids.isEmpty, LiveSystemd.isReachable {
            _ = try? await CLI.run(["--root", path, "delete", "--force", "--timeout", "20"] + uuids)
            for uuid in uuids { await Witness.forceRemove(uuid) }
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh store and always cleans it up afterwards.
func withStore<T: Sendable>(_ body: (Store) async throws -> T) async throws -> T {
    let store = try Store()
    do {
        let result = try await body(store)
        await store.cleanUp()
        return result
    } catch {
        await store.cleanUp()
        throw error
    }
}

/// A test that talks to the shared user manager: one of `Throttle.liveTests`' slots, and the shared
/// side of the reload gate, so the daemon-reexec test runs alone.
func live<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    try await Throttle.liveTests.holding { try await ReloadGate.shared.withShared(body) }
}

/// A live, timing-sensitive test: as `live`, and its CLI runs skip the throttle queue.
func timed<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    try await Throttle.$urgent.withValue(true) { try await live(body) }
}

// MARK: - Witnesses

enum Witness {
    static func unit(_ uuid: String) -> String { "svcunit-\(uuid).service" }

    /// `systemctl --user ARGS`' stdout. Spawned like the CLI, never waited for on a thread of the
    /// cooperative pool: a blocking wait there (with 2 cores, 2 threads) starved every other test's
    /// polling for seconds on a loaded machine, and fault tests missed 5 s states (seen in CI).
    static func systemctl(_ arguments: [String]) async -> String {
        guard let spawned = try? CLI.spawn(["--user"] + arguments, executable: "/usr/bin/systemctl") else { return "" }
        return await spawned.wait().stdout
    }

    static func show(_ uuid: String, _ property: String) async -> String {
        await systemctl(["show", unit(uuid), "-p", property, "--value"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The unit's main PID, or nil when it has none: systemd says 0 for a unit that is not running,
    /// and `kill(0, …)` would signal the test runner's own process group (seen in CI: a failed start
    /// ended the whole run that way).
    static func mainPID(_ uuid: String) async -> Int32? {
        Int32(await show(uuid, "MainPID")).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Loaded units whose name starts with `svcunit-<uuid>` (transient or template instance).
    static func units(_ uuid: String) async -> [String] {
        await systemctl(["list-units", "--all", "--plain", "--no-legend", "svcunit-*\(uuid)*"])
            .split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.contains(uuid) }
    }

    /// Kills, stops and resets whichever of the service's units the manager still holds. Only
    /// those: a `stop` of a unit it does not hold makes it load one and announce it to every peer,
    /// load that once helped keep the manager's job queue from starting other tests' units.
    static func forceRemove(_ uuid: String) async {
        for name in await units(uuid) {
            _ = await systemctl(["kill", "-s", "KILL", name])
            _ = await systemctl(["stop", name])
            _ = await systemctl(["reset-failed", name])
        }
    }

    /// PIDs of processes whose command line contains `marker` (a unique word the test put in argv).
    /// Whether user units get the memory controller: the manager's cgroup is in a v1 memory hierarchy,
    /// or a v2 one that hands memory down to its children.
    static func memoryControllerServesUserUnits() async -> Bool {
        let (v1, v2) = await memoryHierarchyOfUserUnits()
        return v1 || v2
    }

    /// Which memory controller serves the user manager's units: a v1 memory hierarchy that holds the
    /// manager's cgroup, or cgroup v2 with memory in the manager's `subtree_control`. Read from the
    /// manager's own cgroup, which outlives any unit (a unit's may be gone a moment after its start).
    static func memoryHierarchyOfUserUnits() async -> (v1: Bool, v2: Bool) {
        let root = await systemctl(["show", "-P", "ControlGroup"]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard root.hasPrefix("/") else { return (false, false) }
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory\(root)/memory.limit_in_bytes") { return (true, false) }
        let v2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].contains { hierarchy in
            let controllers = (try? String(contentsOfFile: "\(hierarchy)\(root)/cgroup.subtree_control", encoding: .utf8)) ?? ""
            return controllers.split(whereSeparator: \.isWhitespace).contains("memory")
        }
        return (false, v2)
    }

    static func processes(_ marker: String) -> [Int32] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return false }
            // A zombie has an empty cmdline; state Z is not "running".
            return String(decoding: data, as: UTF8.self).contains(marker) && processState(pid) != "Z"
        }
    }

    static func processState(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
    }

    static func commandLine(_ pid: Int32) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        var words = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if words.last == "" { words.removeLast() }
        return words
    }

    static func environ(_ pid: Int32) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `SigIgn` of a process contains `signal`.
    static func ignores(_ pid: Int32, _ signal: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }),
              let mask = UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }
}

/// A unique word for argv (`/bin/sleep 3000.<n>` is a valid sleep and a unique process marker).
func marker() -> String { "3000.\(UInt32.random(in: 100_000 ... 999_999_999))" }

/// Polls `condition` every `every` until it holds or `timeout` passes; returns whether it held.
/// Each poll is usually a process that talks to the shared user manager, whose job queue runs only
/// when it has nothing else to do: poll no faster than a test needs (a dozen tests poll at once).
@discardableResult
func waitUntil(_ timeout: Duration, every: Duration = .milliseconds(100), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: every)
    }
}

// MARK: - Store snapshots

/// Every entry under a directory: type, mode, owner and bytes. Two equal snapshots mean nothing changed.
struct Snapshot: Equatable, CustomStringConvertible {
    var entries: [String: String]

    init(_ root: String) {
        entries = [:]
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: root) else { return }
        entries["."] = Snapshot.describe(root)
        while let relative = walker.nextObject() as? String {
            entries[relative] = Snapshot.describe(root + "/" + relative)
        }
    }

    static func describe(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else { return "missing" }
        let mode = String(info.st_mode & 0o7777, radix: 8)
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return "dir \(mode) uid \(info.st_uid)"
        case S_IFLNK: return "link -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
        default:
            let data = FileManager.default.contents(atPath: path) ?? Data()
            var hash: UInt64 = 0xcbf29ce484222325  // FNV-1a over the bytes
            for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
            return "file \(mode) uid \(info.st_uid) \(data.count) bytes fnv \(String(hash, radix: 16))"
        }
    }

    var description: String { entries.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n") }
}

/// The mode bits of a path (lstat).
func mode(_ path: String) -> UInt16 {
    var info = stat()
    guard lstat(path, &info) == 0 else { return 0xFFFF }
    return UInt16(info.st_mode & 0o7777)
}

/// One clear error line: one stderr line prefixed `svcunit: error:`. For errors argument-parser
/// itself detects (a missing or unparsable option value) svcunit keeps argument-parser's
/// `Help:`/`Usage:`/`See …` lines after that first line; a failed start or stop adds indented lines
/// (the service's own last output, `see: svcunit logs …`) below the first, which carries the facts;
/// nothing else may follow.
func expectOneErrorLine(_ run: Run, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    let extra = run.errorLines.dropFirst().filter { !($0.hasPrefix("Help:") || $0.hasPrefix("Usage:") || $0.hasPrefix("  ")) }
    #expect(run.errorLines.count >= 1 && extra.isEmpty, "\(comment) expected one error line: \(run)", sourceLocation: sourceLocation)
    #expect(run.stderr.hasPrefix("svcunit: error: "), "\(comment) \(run)", sourceLocation: sourceLocation)
    #expect(!run.signaled, "\(comment) crashed: \(run)", sourceLocation: sourceLocation)
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freePort() -> Int {
    TestPorts.free()
}

/// A listening socket on 127.0.0.1 (to make a port busy).
final class Listener: @unchecked Sendable {
    let fd: Int32
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { Glibc.close(fd); throw TestFailure("cannot listen on \(port)") }
    }
    func close() { Glibc.close(fd) }
}

/// A counting semaphore: CLI runs (`cliRuns`) and live tests (`liveTests`) each have a bounded number
/// of places.
actor Throttle {
    /// At most 6 short CLI runs at once, so the hundreds of bad-input runs cannot starve the
    /// timing-sensitive fault tests of the 2 cores.
    static let cliRuns = Throttle(limit: 6)
    /// At most this many tests drive the shared user manager at once (`SVCUNIT_TEST_LIVE_SLOTS`,
    /// default 4). systemd runs its job queue only when no D-Bus message, signal or notification is
    /// pending, and it sends every signal to every peer of its private socket; forty tests starting,
    /// polling and stopping together is when CI saw start jobs queued for over 30 s. That load
    /// measures systemd's throughput, not svcunit's behaviour, which is what these tests check (the
    /// concurrency tests still start their 20 processes at once inside one slot).
    static let liveTests = Throttle(limit: ProcessInfo.processInfo.environment["SVCUNIT_TEST_LIVE_SLOTS"].flatMap { Int($0) } ?? 4)
    /// Set for timing-sensitive tests (fault injection, polling): their CLI runs skip the queue.
    @TaskLocal static var urgent = false

    let limit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    nonisolated func holding<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }

    private func acquire() async {
        if running < limit { running += 1; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
    }
}

/// What the machine and the shared user manager were doing when a run reported a start job that
/// never left the manager's queue, appended to `$SVCUNIT_TEST_DIAGNOSTICS` (scripts/test prints the
/// file after the failures). CI saw such stalls that no local run reproduced; this is how the next
/// one explains itself: the job list says whether a job blocks the others, the manager's scheduler
/// and kernel state say whether it was starved of CPU or blocked in a system call.
actor ManagerDiagnostics {
    static let shared = ManagerDiagnostics()
    private let file = ProcessInfo.processInfo.environment["SVCUNIT_TEST_DIAGNOSTICS"]
    private var captures = 0
    private var last = ContinuousClock.now - .seconds(3600)

    func noteIfStalled(_ run: Run) async {
        guard let file, run.stderr.contains("waits in the user manager's queue") else { return }
        guard captures < 3, ContinuousClock.now - last > .seconds(20) else { return }
        captures += 1
        last = ContinuousClock.now
        let script = #"""
        f=$1
        {
          echo "=== manager stall #$2 at $(date +%T.%N) (uptime $(cut -d' ' -f1 /proc/uptime) s): $3"
          echo "loadavg: $(cat /proc/loadavg)"
          for r in cpu memory io; do echo "pressure $r: $(tr '\n' ' ' </proc/pressure/$r 2>/dev/null)"; done
          myns=$(readlink /proc/self/ns/mnt)
          for p in /proc/[0-9]*; do
            if [[ $(readlink $p/exe 2>/dev/null) == /usr/lib/systemd/systemd && $(readlink $p/ns/mnt 2>/dev/null) == "$myns" ]]; then
              echo "manager ${p#/proc/}: $(grep -E '^(State|voluntary|nonvoluntary)' $p/status | tr -s '\t\n' '  ') wchan=$(cat $p/wchan 2>/dev/null) schedstat=$(cat $p/schedstat 2>/dev/null)"
              head -n 8 $p/stack 2>/dev/null | sed 's/^/  stack: /'
            fi
          done
          echo "jobs:"; timeout 5 systemctl --user list-jobs --after --no-pager 2>&1 | head -n 16 | sed 's/^/  /'
          echo "manager: $(timeout 5 systemctl --user show -p NJobs -p NInstalledJobs -p SystemState 2>&1 | tr '\n' ' ')"
          echo "top:"; ps -eo pid,stat,pcpu,etimes,cputimes,comm --sort=-pcpu 2>/dev/null | head -n 10 | sed 's/^/  /'
          echo "journal:"; timeout 5 journalctl -n 12 --no-pager -o short-precise 2>&1 | cut -c1-200 | sed 's/^/  /'
        } >>"$f" 2>&1
        """#
        let reason = run.errorLines.first.map(String.init) ?? ""
        _ = try? await CLI.spawn(["-c", script, "diagnose", file, String(captures), reason], executable: "/bin/bash").wait()
    }
}
