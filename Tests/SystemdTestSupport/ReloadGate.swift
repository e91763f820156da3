/// Keeps tests that `daemon-reload` apart from tests whose units have special characters in argv.
///
/// systemd 252 re-reads a transient unit from its file at a reload, and that file does not
/// round-trip `$`, `\` or `;` in argv (seen: `$$HOME` came back as `\$\$HOME`, `\377` broke a
/// script). svcunit's own units never carry such characters; tests that need them take the shared
/// side, tests that reload take the exclusive side. Swift Testing runs suites in parallel in one
/// process, so an in-process reader-writer gate is enough.
///
/// A `daemon-reexec` is more than a reload: it drops every D-Bus connection to the manager. Outside
/// ReliabilityTests (whose live tests all take the shared side), a test that re-executes the manager
/// has `DaemonReexec` in its name, and `scripts/test` runs those in a phase of their own.
public actor ReloadGate {
    public static let shared = ReloadGate()

    private var readers = 0
    private var writer = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public func withShared<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        while writer { await wait() }
        readers += 1
        defer { readers -= 1; wakeAll() }
        return try await body()
    }

    public func withExclusive<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        while writer || readers > 0 { await wait() }
        writer = true
        defer { writer = false; wakeAll() }
        return try await body()
    }

    private func wait() async { await withCheckedContinuation { waiters.append($0) } }

    private func wakeAll() {
        let all = waiters
        waiters.removeAll()
        for w in all { w.resume() }
    }
}
