import ArgumentParser
import FoundationEssentials
public import ServiceModel
internal import SystemdManager
internal import SystemdProvisioning
import SDJournal

/// svcunit's exit statuses and the one table that maps errors to them.
///
/// Scripts rely on these numbers, so they are part of the interface and printed in
/// `svcunit --help`:
///
///     0  success
///     1  the operation failed (a start/stop/delete failed, a service is already stored,
///        a port is busy and allocate_port is false, an I/O or journal error)
///     2  usage error (bad command line, invalid option value, ambiguous service name/prefix)
///     3  not found (no such file or service)
///     4  timed out
///     5  bad service document or input (malformed JSON, unknown service type, invalid field)
///     6  no systemd user manager reachable (also when the connection is lost during a wait)
///   130  interrupted by Ctrl-C (SIGINT)
///
/// Not obvious: usage errors exit 2 (as most Unix tools do), not argument-parser's 64, because
/// `SvcUnit.run(arguments:)` remaps them; and `start`/`stop`/`delete` of several services exit with the
/// status of the first service (in command-line order) that failed.
public enum ExitCodes: Int32, CaseIterable, Sendable {
    /// Success.
    case ok = 0
    /// The operation failed (I/O error, start/stop failure, provisioning error, busy port).
    case failure = 1
    /// The command line is wrong.
    case usage = 2
    /// The file or service does not exist.
    case notFound = 3
    /// A deadline passed.
    case timedOut = 4
    /// The service document or another input is invalid (malformed JSON, unknown type, bad field).
    case badInput = 5
    /// No systemd user manager could be reached.
    case noUserManager = 6
    /// Interrupted by Ctrl-C (SIGINT): 128 + 2, as a shell reports a command killed by it.
    case interrupted = 130

    /// The table shown in `svcunit --help`.
    public static let table = """
          0  success
          1  the operation failed
          2  usage error (bad command line or option value, ambiguous service name)
          3  not found (no such file or service)
          4  timed out
          5  bad service document or input (malformed JSON, unknown service type, invalid field)
          6  no systemd user manager reachable, or lost while waiting
        130  interrupted (Ctrl-C, SIGINT)
        """

    /// The exit status for a svcunit domain error, or `nil` for argument-parser's own errors.
    public static func domainStatus(for error: any Error) -> ExitCodes? {
        if let model = error as? ServiceModelError {
            // A lower-level cause (e.g. the user manager went away mid-start) decides when it is
            // more specific than the wrapper's code.
            if let cause = model.cause, let causeStatus = domainStatus(for: cause),
               causeStatus == .noUserManager || causeStatus == .timedOut {
                return causeStatus
            }
            return status(for: model.code)
        }
        if let systemd = error as? SystemdError { return status(for: systemd.code) }
        // Another store's unit (or no svcunit unit) under the service's name: refused, nothing done.
        if error is UnitOwnershipError { return .failure }
        // Stopped, but the store could not record it: not all that was asked was done.
        if error is StoppedButNotRecordedError { return .failure }
        if error is JournalError { return .failure }
        if let cli = error as? CLIError { return cli.status }
        return nil
    }

    /// The exit status for a model error code.
    public static func status(for code: ServiceModelError.Code) -> ExitCodes {
        switch code {
        case .fileNotFound: .notFound
        case .timedOut: .timedOut
        case .malformedJSON, .emptyDocument, .truncatedJSON, .documentTooLarge, .missingServiceType, .unregisteredServiceType,
            .invalidField, .invalidUUID:
            .badInput
        // .portUnavailable is a state of the machine (someone else holds the port), not a fault of
        // the document, so it is 1 like any other failed start.
        default: .failure
        }
    }

    /// The exit status for a systemd error code.
    static func status(for code: SystemdError.Code) -> ExitCodes {
        switch code {
        case .noUserManager: .noUserManager
        case .timedOut: .timedOut
        default: .failure
        }
    }

    /// The error as one line (newlines inside messages, e.g. from a service's last error, become spaces).
    public static func oneLine(_ error: any Error) -> String {
        oneLine(String(describing: error))
    }

    /// Text as one line: its line breaks become spaces.
    public static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// An error raised by a command itself (not by the model), carrying its exit status.
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var status: ExitCodes
    public init(_ message: String, status: ExitCodes) {
        self.message = message
        self.status = status
    }
    public var description: String { message }

    /// A bad option value: one line, exit 2, nothing done.
    static func usage(_ message: String) -> CLIError { CLIError(message, status: .usage) }
}
