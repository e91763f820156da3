import ArgumentParser
import Foundation
public import ServiceModel

/// svcunit's exit statuses and the one table that maps errors to them.
///
/// Scripts rely on these numbers, so they are part of the interface and printed in
/// `svcunit --help`. Not obvious: usage errors exit 2 (as most Unix tools do), not
/// argument-parser's 64, because `SvcUnit.main` remaps them.
public enum ExitCodes: Int32, CaseIterable, Sendable {
    /// Success.
    case ok = 0
    /// The operation failed (I/O error, start/stop failure, provisioning error).
    case failure = 1
    /// The command line is wrong.
    case usage = 2
    /// The file or service does not exist.
    case notFound = 3
    /// A deadline passed.
    case timedOut = 4
    /// The service document or another input is invalid (malformed JSON, unknown type, bad field).
    case badInput = 5

    /// The table shown in `svcunit --help`.
    public static let table = """
          0  success
          1  the operation failed
          2  usage error (bad command line)
          3  not found (no such file or service)
          4  timed out
          5  bad service document or input (malformed JSON, unknown service type, invalid field)
        """

    /// The exit status for a svcunit domain error, or `nil` for argument-parser's own errors.
    public static func domainStatus(for error: any Error) -> ExitCodes? {
        if let model = error as? ServiceModelError { return status(for: model.code) }
        if let cli = error as? CLIError { return cli.status }
        return nil
    }

    /// The exit status for a model error code.
    public static func status(for code: ServiceModelError.Code) -> ExitCodes {
        switch code {
        case .fileNotFound: .notFound
        case .timedOut: .timedOut
        case .malformedJSON, .emptyDocument, .truncatedJSON, .missingServiceType, .unregisteredServiceType,
            .invalidField, .invalidUUID:
            .badInput
        default: .failure
        }
    }

    /// The error as one line (newlines inside messages, e.g. from a service's last error, become spaces).
    public static func oneLine(_ error: any Error) -> String {
        String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
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
}
