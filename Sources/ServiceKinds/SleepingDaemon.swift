public import ServiceModel
import Dispatch
import FoundationEssentials

/// The sleeper from ZenML's services documentation: a daemon that sleeps `wake_up_after` seconds
/// and exits. Useful as the smallest real service for demos and tests.
///
/// Its identity matches the docs exactly (class `SleepingDaemon`, type `daemon`, flavor
/// `sleeping`, name `sleeper`) so documents written by ZenML load. Not obvious: it exits 0 on
/// SIGTERM, so a stop is a clean exit rather than a failure.
public enum SleepingDaemon: ServiceKind {
    public static let serviceType = ServiceType(
        type: "daemon", flavor: "sleeping", name: "sleeper", description: "Sleeping daemon")
    public static let className = "SleepingDaemon"

    /// The sleeper's `config` fields.
    public struct Config: FlavorConfig, Hashable {
        /// Seconds to sleep (ZenML declares it `int`; svcunit also accepts a float).
        public var wakeUpAfter: Double

        public init(wakeUpAfter: Double) { self.wakeUpAfter = wakeUpAfter }

        public func encodeFields() -> [(key: String, value: JSONValue)] {
            [("wake_up_after", .number(wakeUpAfter))]
        }
    }

    public static func decodeConfig(_ reader: inout FieldReader) throws(ServiceModelError) -> any FlavorConfig {
        guard let seconds = try reader.optionalNumber("wake_up_after") else {
            throw reader.missing("wake_up_after", expected: "a number of seconds")
        }
        if seconds < 0 { throw reader.invalid("wake_up_after", "is negative; expected 0 or more seconds") }
        return Config(wakeUpAfter: seconds)
    }

    /// Sleeps for `wake_up_after` seconds; exits 0 on SIGTERM.
    public static func run(_ document: ServiceDocument) async throws {
        guard let config = document.flavorConfig(as: Config.self) else {
            throw ServiceModelError(.invalidField, "service \(document) has no sleeper config", fieldPath: "config")
        }
        let signals = Termination.exitOnTerminate()
        defer { signals.cancel() }
        Output.line("\(document.config.name): sleeping for \(JSONText.formatCompact(.number(config.wakeUpAfter))) s")
        try await Task.sleep(for: .milliseconds(Int64((config.wakeUpAfter * 1000).rounded())))
        Output.line("\(document.config.name): woke up")
    }
}
