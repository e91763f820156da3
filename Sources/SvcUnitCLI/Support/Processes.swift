// The CLI's only calls into the C library for processes: running a helper program to completion
// (the Python check of `register`) and looking at or signalling a process that a ZenML PID file
// names (`register --adopt`). FoundationEssentials has no Process, and Foundation's would bring
// all of Foundation into the CLI.
import FoundationEssentials
import OSCalls
import SystemPackage

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
        // Close-on-exec: not inherited by anything else this process may start; the spawn's dup2
        // gives the child its own copies.
        let out: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        let err: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        do {
            out = try FileDescriptor.pipe(options: .closeOnExec)
            err = try FileDescriptor.pipe(options: .closeOnExec)
        } catch {
            throw CLIError("cannot create a pipe: \(error.text)", status: .failure)
        }
        // The child starts with default signal actions (svcunit ignores SIGINT itself, `Interrupts`:
        // Ctrl-C is exit 130; a child that inherited that would keep running after Ctrl-C).
        let child: ChildProcessID
        do {
            child = try ChildProcessID.spawn(argv, environment: environment.map { "\($0.key)=\($0.value)" }, stdin: .nullDevice,
                                             stdout: .descriptor(out.writeEnd), stderr: .descriptor(err.writeEnd))
        } catch {
            for fd in [out.readEnd, out.writeEnd, err.readEnd, err.writeEnd] { fd.closeQuietly() }
            throw CLIError("cannot run \(argv[0]): \(error.text)", status: .failure)
        }
        out.writeEnd.closeQuietly()
        err.writeEnd.closeQuietly()
        var collected: [[UInt8]] = [[], []]
        var open: [FileDescriptor?] = [out.readEnd, err.readEnd]
        let end = ContinuousClock.now + deadline
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 != nil }) {
            if ContinuousClock.now >= end { ProcessID(child.rawValue).send(.kill); break }
            let waiting = open.compactMap { $0 }
            guard let ready = try? Poll.wait(waiting, for: .input, milliseconds: min(PollTimeout.until(end), 60_000)) else { break }
            for index in ready {
                let fd = waiting[index]
                guard let slot = open.firstIndex(where: { $0 == fd }) else { continue }
                let count: Int
                do {
                    count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
                } catch Errno.interrupted {
                    continue
                } catch {
                    count = 0
                }
                if count > 0 {
                    collected[slot] += buffer[0 ..< count]
                } else {
                    fd.closeQuietly()
                    open[slot] = nil
                }
            }
        }
        for fd in open.compactMap({ $0 }) { fd.closeQuietly() }
        return ChildProcess(status: child.waitForExit().shellStatus, stdout: String(decoding: collected[0], as: UTF8.self),
                            stderr: String(decoding: collected[1], as: UTF8.self))
    }
}

/// A running process looked at through /proc, and signalled only on purpose.
struct RunningProcess {
    let pid: Int32

    /// Whether a process with this PID exists (one of another user counts).
    var isAlive: Bool { ProcessID(pid).exists }

    /// Its argv from /proc/PID/cmdline; `nil` when it is gone (or a zombie with none).
    var commandLine: [String]? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), !data.isEmpty else { return nil }
        return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Sends `signal` to the process (and, with `group`, to its whole process group).
    func send(_ signal: Signal, group: Bool = false) { ProcessID(pid).send(signal, group: group) }

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
    static func canonical(_ path: String) -> String? { PathFacts.canonical(path) }

    // `Stat(atPath:)`, not `FilePath`: FilePath drops a trailing slash, and `stat("file/")` must
    // fail as the C library says (ENOTDIR).
    static func isExecutableFile(_ path: String) -> Bool {
        (try? Stat(atPath: path, followTargetSymlink: true).type) == .regular && PathFacts.isExecutable(path)
    }

    static func isDirectory(_ path: String) -> Bool { (try? Stat(atPath: path, followTargetSymlink: true).type) == .directory }

    /// The size of what `path` names (symlinks followed), or `nil` if it does not exist.
    static func size(_ path: String) -> Int? { (try? Stat(atPath: path, followTargetSymlink: true).size).map { Int($0) } }

    static var currentDirectory: String { CurrentProcess.currentDirectory }

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
        do { return try ChildProcessID.spawn(argv).waitForExit().shellStatus } catch {
            throw CLIError("cannot run \(command): \(error.text)", status: .failure)
        }
    }
}
