public import Logging
import Synchronization

/// svcunit's diagnostics: swift-log, bootstrapped once per executable, silent unless asked.
///
/// `--verbose` (the CLI) or `SVCUNIT_LOG_LEVEL=debug|trace|info|…` (the CLI and `svcunit
/// entrypoint`) sends each D-Bus call, journal query and health probe, with how long it took, to
/// standard error. Not obvious: the wrappers log at `debug` through an autoclosure behind a level
/// check, and they only read the clock when debug is on, so with diagnostics off the fast path
/// costs one comparison per call.
public enum Diagnostics {
    private static let bootstrapped = Mutex(false)

    /// Installs the stderr handler at the level asked for: `verbose` means debug, else
    /// `SVCUNIT_LOG_LEVEL` (a swift-log level name), else warning. Later calls do nothing.
    public static func bootstrap(verbose: Bool, environment: [String: String]) {
        bootstrap(verbose: verbose, logLevel: environment[logLevelVariable])
    }

    /// The variable that names the level: `SVCUNIT_LOG_LEVEL`.
    public static let logLevelVariable = "SVCUNIT_LOG_LEVEL"

    /// `bootstrap(verbose:environment:)` given only the value of `SVCUNIT_LOG_LEVEL`: for a process
    /// that reads nothing else of its environment (the entrypoint).
    public static func bootstrap(verbose: Bool, logLevel: String?) {
        let level: Logger.Level = verbose ? .debug
            : logLevel.flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .warning
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger {
    /// Runs `body` and, when this logger is at debug level, logs `what` with the time it took (and
    /// the error, if it threw). With debug off, the clock is never read.
    public func timed<T, E: Error>(_ what: @autoclosure () -> String, _ body: () async throws(E) -> T) async throws(E) -> T {
        guard logLevel <= .debug else { return try await body() }
        let start = ContinuousClock.now
        do {
            let result = try await body()
            debug("\(what()): \(Self.milliseconds(since: start)) ms")
            return result
        } catch {
            debug("\(what()): \(Self.milliseconds(since: start)) ms, failed: \(error)")
            throw error
        }
    }

    private static func milliseconds(since start: ContinuousClock.Instant) -> String {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let tenths = seconds * 10_000 + attoseconds / 100_000_000_000_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}
