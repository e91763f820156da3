public import ArgumentParser

/// `SERVICE [--restart-now] [--timeout S]`: what `set` and `edit` change, and whether a running
/// service gets the change at once.
public struct ChangeOptions: ParsableArguments, Sendable {
    @Argument(help: ArgumentHelp("The service: UUID, unique UUID prefix, or name.", valueName: "service"))
    public var service: String

    @Flag(name: .customLong("restart-now"), help: "Restart the service now if it runs, so the change applies at once.")
    public var restartNow = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for each step of --restart-now.", valueName: "seconds"))
    public var timeout = DurationValue("30")

    public init() {}

    public func validate() throws {
        try checkingValues { _ = try timeout.seconds("--timeout") }
    }

    /// `--timeout` as a duration.
    func wait() throws -> Duration { try timeout.duration("--timeout") }
}
