// The CLI's only calls into the C library for processes: running a helper program to completion
// (the Python check of `register`) and looking at or signalling a process that a ZenML PID file
// names (`register --adopt`). FoundationEssentials has no Process, and Foundation's would bring
// all of Foundation into the CLI.
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// A helper program run to completion with its output captured.
struct ChildProcess {
    /// The exit status, or 128 + the signal that ended it.
    var status: Int32
    var stdout: String
    var stderr: String

    /// Runs `argv` (an absolute program path) with exactly `environment`, stdin from /dev/null,
    /// and collects both outputs. A child still running at `deadline` is killed.
    /// - Throws: `CLIError` when the program cannot be started.
    static func run(_ argv: [String], environment: [String: String], deadline: Duration = .seconds(300)) throws(CLIError) -> ChildProcess {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard pipe(&out) == 0, pipe(&err) == 0 else {
            throw CLIError("cannot create a pipe: \(String(cString: strerror(errno)))", status: .failure)
        }
        // Not inherited by anything else this process may start; dup2 gives the child its own copies.
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        // svcunit ignores SIGINT itself (`Interrupts`: Ctrl-C is exit 130); the child must not
        // inherit that, or Ctrl-C would leave it running.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, cEnv)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0])
            close(err[0])
            throw CLIError("cannot run \(argv[0]): \(String(cString: strerror(spawned)))", status: .failure)
        }
        var collected: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: out[0], events: Int16(POLLIN), revents: 0), pollfd(fd: err[0], events: Int16(POLLIN), revents: 0)]
        let end = ContinuousClock.now + deadline
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            let left = end - ContinuousClock.now
            if left <= .zero { kill(pid, SIGKILL); break }
            let (seconds, attoseconds) = left.components
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 60_000)))
            if ready < 0 && errno != EINTR { break }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let count = read(fds[index].fd, &buffer, buffer.count)
                if count > 0 {
                    collected[index] += buffer[0 ..< count]
                } else if count == 0 || errno != EINTR {
                    close(fds[index].fd)
                    fds[index].fd = -1
                }
            }
        }
        for entry in fds where entry.fd >= 0 { close(entry.fd) }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let signaled = raw & 0x7f
        let status = signaled == 0 ? (raw >> 8) & 0xff : 128 + signaled
        return ChildProcess(status: status, stdout: String(decoding: collected[0], as: UTF8.self),
                            stderr: String(decoding: collected[1], as: UTF8.self))
    }
}

/// A running process looked at through /proc, and signalled only on purpose.
struct RunningProcess {
    let pid: Int32

    /// Whether a process with this PID exists (one of another user counts).
    var isAlive: Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// Its argv from /proc/PID/cmdline; `nil` when it is gone (or a zombie with none).
    var commandLine: [String]? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), !data.isEmpty else { return nil }
        return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Sends `signal` to the process (and, with `group`, to its whole process group).
    func send(_ signal: Int32, group: Bool = false) { kill(group ? -pid : pid, signal) }

    /// Waits until the process is gone (reaped by its parent) or `timeout` passes; whether it went.
    func waitUntilGone(timeout: Duration) async -> Bool {
        let end = ContinuousClock.now + timeout
        while isAlive, !isZombie {
            if ContinuousClock.now >= end { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// A zombie has ended; only its parent has yet to reap it.
    private var isZombie: Bool {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/stat")),
              let close = data.lastIndex(of: UInt8(ascii: ")")), close + 2 < data.count else { return false }
        return data[close + 2] == UInt8(ascii: "Z")
    }
}

/// Filesystem facts the CLI needs without Foundation's FileManager conveniences.
enum Paths {
    /// The canonical path (symlinks resolved), or `nil` if it does not exist.
    static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The size of what `path` names (symlinks followed), or `nil` if it does not exist.
    static func size(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }


    static var currentDirectory: String {
        guard let cwd = getcwd(nil, 0) else { return "/" }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// `path` made absolute against the current directory, without resolving symlinks (a venv's
    /// `bin/python` is a symlink, and resolving it would leave the venv).
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var parts = currentDirectory.split(separator: "/").map(String.init)
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The first executable `name` on `searchPath` (a PATH value), made absolute, not resolved.
    static func findExecutable(_ name: String, searchPath: String?) -> String? {
        for directory in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !directory.isEmpty {
            let candidate = absolute("\(directory)/\(name)")
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }
}

extension ChildProcess {
    /// Runs `command` through `/bin/sh` with `arguments` as `"$@"` (as git runs `$EDITOR`, so an
    /// editor with options such as `code -w` works), on this process's terminal and environment,
    /// and waits for it. Returns its exit status, or 128 + the signal that ended it.
    static func runOnTerminal(_ command: String, arguments: [String]) throws(CLIError) -> Int32 {
        let argv = ["/bin/sh", "-c", command + " \"$@\"", command] + arguments
        let cArgv = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], nil, nil, cArgv, environ)
        guard spawned == 0 else {
            throw CLIError("cannot run \(command): \(String(cString: strerror(spawned)))", status: .failure)
        }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let signaled = raw & 0x7f
        return signaled == 0 ? (raw >> 8) & 0xff : 128 + signaled
    }
}
