// Processes: identity, environment, spawning, waiting, replacing this process, and the exit.
// swift-system has none of these; they are thin, typed and say what failed with an `Errno`.
import Glibc
import COSCalls
public import SystemPackage

/// This process and its user, as the kernel sees them.
public enum CurrentProcess {
    public static var id: Int32 { getpid() }
    /// The parent's PID (`getppid`).
    public static var parentID: Int32 { getppid() }
    /// The real user ID (whose user manager and journal this is).
    public static var userID: UInt32 { getuid() }
    /// The effective user ID (who owns what this process creates). Read once: svcunit never changes
    /// it, and the store checks it for every document it reads (a thousand `geteuid` calls in a
    /// `create` that looks for a name among 1,000 services).
    public static let effectiveUserID: UInt32 = geteuid()
    public static var processGroup: Int32 { getpgrp() }

    /// The environment as `NAME=value` strings, read from `environ` now (Foundation's
    /// `ProcessInfo` copy is taken once and misses a later `setenv`).
    public static var environment: [String] {
        var result: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            result.append(String(cString: entry))
            cursor += 1
        }
        return result
    }

    /// The environment as a dictionary, read from `environ` now; the first definition of a name
    /// wins, as for `getenv`.
    ///
    /// Not obvious: this is what every svcunit command reads instead of FoundationEssentials'
    /// `ProcessInfo.environment`, whose unspecialized dictionary building cost each command about
    /// 0.37M instructions per read (a `start` read it three times).
    public static var environmentVariables: [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            cursor += 1
            let length = strlen(entry)
            entry.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                let all = UnsafeBufferPointer(start: bytes, count: length)
                guard let equals = all.firstIndex(of: UInt8(ascii: "=")) else { return }
                let name = String(decoding: UnsafeBufferPointer(rebasing: all[..<equals]), as: UTF8.self)
                if result[name] == nil {
                    result[name] = String(decoding: UnsafeBufferPointer(rebasing: all[(equals + 1)...]), as: UTF8.self)
                }
            }
        }
        return result
    }

    /// One variable of the environment (`getenv`), nil when unset.
    public static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// `setenv(name, value, 1)`.
    public static func setEnvironment(_ name: String, _ value: String) { setenv(name, value, 1) }

    /// `chdir`.
    public static func changeDirectory(to path: String) throws(Errno) {
        if chdir(path) != 0 { throw Errno(rawValue: errno) }
    }

    public static var currentDirectory: String {
        guard let cwd = getcwd(nil, 0) else { return "/" }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// Ends the process with `status`, flushing stdio (`exit`).
    public static func exit(_ status: Int32) -> Never { Glibc.exit(status) }

    /// The program's `main`: runs `body` on Swift's global executor and exits with the status it
    /// returns, while the calling (main) thread only waits.
    ///
    /// Not obvious: an `async` top-level `main` would hand the main thread to Dispatch
    /// (`dispatch_main`), which ends it with `pthread_exit`, a forced unwind. That unwind reads the
    /// executable's unwind tables, about 1.4 MB of a 16 MB binary's pages, in every command: they
    /// stay resident (peak RSS) and cost page faults. Nothing in svcunit runs on the main actor.
    public static func runToExit(_ body: @escaping @Sendable () async -> Int32) -> Never {
        Task.detached { CurrentProcess.exit(await body()) }
        while true { pause() }
    }

    /// Replaces this process with `argv` (`execvp`: PATH is searched), after resetting every signal
    /// to its default action and unblocking all: ignored dispositions and the blocked mask survive
    /// exec, and the Swift runtime and Dispatch block or ignore some. Returns only on failure.
    public static func replace(with argv: [String]) -> Errno {
        Signals.resetAll()
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArguments.append(nil)
        execvp(argv[0], &cArguments)
        let failure = Errno(rawValue: errno)
        for pointer in cArguments { free(pointer) }
        return failure
    }
}

/// How a child process ended.
public enum ExitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// The shell's number: the exit status, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// A child started with `posix_spawn`: a fresh process, never a fork of this threaded one.
public struct ChildProcessID: Sendable {
    public let rawValue: Int32

    /// What the child's standard descriptors are.
    public enum Stream: Sendable {
        case inherit
        case nullDevice
        case descriptor(FileDescriptor)
    }

    /// Starts `argv[0]` (an absolute path) with `argv`, with the signal state of a fresh process:
    /// every signal at its default action and none blocked. Not obvious: without that a child
    /// inherits what this process ignores (the CLI ignores SIGINT during its waits) and the mask of
    /// the spawning thread, and Dispatch's and the cooperative pool's threads block most signals
    /// (seen: a child spawned from a test could not be ended with SIGTERM).
    /// - Parameters:
    ///   - environment: `NAME=value` strings; nil inherits this process's.
    ///   - moving: extra descriptors the child gets at the given numbers (e.g. a pipe's end on 3).
    public static func spawn(_ argv: [String], environment: [String]? = nil, stdin: Stream = .inherit, stdout: Stream = .inherit,
                             stderr: Stream = .inherit, moving: [(FileDescriptor, Int32)] = []) throws(Errno) -> ChildProcessID {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            switch stream {
            case .inherit: break
            case .nullDevice: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd.rawValue, target)
            }
        }
        for (fd, target) in moving { posix_spawn_file_actions_adddup2(&actions, fd.rawValue, target) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = Signals.catchable
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            cArgv.forEach { free($0) }
            cEnv?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = cEnv.map { posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, $0) }
            ?? posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, environ)
        guard status == 0 else { throw Errno(rawValue: status) }
        return ChildProcessID(rawValue: pid)
    }

    /// Waits for the child to end and reaps it.
    public func waitForExit() -> ExitStatus {
        var raw: Int32 = 0
        while waitpid(rawValue, &raw, 0) < 0 && errno == EINTR {}
        let signaled = raw & 0x7f
        return signaled == 0 ? .exited((raw >> 8) & 0xff) : .signaled(signaled)
    }
}

/// A process by PID, seen from outside: whether it exists, and signals sent on purpose.
public struct ProcessID: Sendable, Hashable {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// Starts `argv[0]` (an absolute path) with `argv` and this process's environment as a sibling:
    /// its parent is this process's parent (for a unit's main process, the user manager, which
    /// reaps it), so it never becomes a child of whatever this process execs next. `moving` puts a
    /// descriptor at a number in it, without close-on-exec. Signals are as in a fresh process (see
    /// `ChildProcessID.spawn`).
    ///
    /// Not obvious: the calling thread resumes once the exec has happened (the child shares this
    /// memory until then, as in posix_spawn), so an exec that fails throws its error here.
    public static func spawnSibling(_ argv: [String], moving: (FileDescriptor, Int32)? = nil) throws(Errno) -> ProcessID {
        let cArgv = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        let pid = svcunit_spawn_sibling(argv[0], cArgv, environ, moving?.0.rawValue ?? -1, moving?.1 ?? -1)
        guard pid > 0 else { throw Errno(rawValue: -pid) }
        return ProcessID(pid)
    }

    /// A process with this PID exists (one of another user counts; a zombie counts too).
    public var exists: Bool { kill(rawValue, 0) == 0 || errno == EPERM }

    /// Its process group (`getpgid`), nil when it is gone.
    public var processGroup: Int32? {
        let group = getpgid(rawValue)
        return group < 0 ? nil : group
    }

    /// Sends `signal` to the process, or with `group` to its whole process group.
    @discardableResult
    public func send(_ signal: Signal, group: Bool = false) -> Bool { kill(group ? -rawValue : rawValue, signal.rawValue) == 0 }
}

/// Readiness of several descriptors at once (`poll`).
public enum Poll {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let input = Events(rawValue: Int16(POLLIN))
        public static let output = Events(rawValue: Int16(POLLOUT))
    }

    /// Waits up to `milliseconds` (-1: no limit) for one of `descriptors` to be ready for `events`
    /// (or hung up, or in error); returns which are, by index. Empty on timeout; EINTR is an empty
    /// answer too (the caller loops on its own deadline).
    public static func wait(_ descriptors: [FileDescriptor], for events: Events, milliseconds: Int32) throws(Errno) -> [Int] {
        var fds = descriptors.map { pollfd(fd: $0.rawValue, events: events.rawValue, revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        if ready < 0 {
            if errno == EINTR { return [] }
            throw Errno(rawValue: errno)
        }
        return fds.indices.filter { fds[$0].revents != 0 }
    }
}

/// Facts about paths that swift-system does not give.
public enum PathFacts {
    /// The canonical path (symlinks resolved, `realpath`), or nil if it does not exist.
    public static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `access(path, X_OK)`: this process may execute it.
    public static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// `access(path, F_OK)`: it exists (a dangling symlink does not).
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// Whether a descriptor is a terminal (`isatty`).
public enum Terminal {
    public static func isTerminal(_ fd: FileDescriptor) -> Bool { isatty(fd.rawValue) == 1 }
}

/// The C library's buffered standard streams, which Swift's `print` writes through.
public enum StandardIO {
    /// Writes out what `print` has buffered (`fflush(NULL)`), before a direct write of the descriptor.
    public static func flush() { fflush(nil) }
}
