public import ArgumentParser
import OSCalls

// Typed command-line values (issue 14 item 6): durations, times and sizes are their own types, and
// every command checks the ones it was given in `validate()`, so argument-parser refuses a bad value
// before `run()` begins (exit 2, one line: `SvcUnit.report`).
//
// Not obvious: `init?(argument:)` keeps any text and never fails. A nil there would make
// argument-parser answer "The value … is invalid for …", without the rule the option follows; the
// check needs the option's name (and, for some, its range), which only the command knows, and
// svcunit's line says what the option accepts. The accessors re-read the text (cheap, pure), so
// `run()` gets the value `validate()` accepted.

/// A duration: `30`, `2.5`, `500ms`, `30s`, `2m`, `1h`, `1d` (at most one day; see `TimeParsing`).
public struct DurationValue: ExpressibleByArgument, Sendable, Hashable {
    public let text: String
    public init?(argument: String) { text = argument }
    init(_ text: String) { self.text = text }
    public var defaultValueDescription: String { text }

    /// In seconds: more than 0 (or 0 too with `allowZero`), at most one day.
    func seconds(_ option: String, allowZero: Bool = false) throws(CLIError) -> Double {
        do { return try TimeParsing.seconds(text, option: option, allowZero: allowZero) } catch {
            throw error as? CLIError ?? CLIError.usage("\(option) \"\(Output.escaped(text))\" is not a duration")
        }
    }

    /// As a `Duration`, checked like `seconds`.
    func duration(_ option: String) throws(CLIError) -> Duration { TimeParsing.duration(try seconds(option)) }
}

/// A point in time for `--since`/`--until`: ISO-8601, relative (`-10m`), `now` or a unix time.
public struct TimeValue: ExpressibleByArgument, Sendable, Hashable {
    public let text: String
    public init?(argument: String) { text = argument }
    public var defaultValueDescription: String { text }

    /// Microseconds since the epoch; relative times count back from `now`.
    func microseconds(_ option: String, now: UInt64 = WallClock.microseconds()) throws(CLIError) -> UInt64 {
        do { return try TimeParsing.time(text, option: option, now: now) } catch {
            throw error as? CLIError ?? CLIError.usage("\(option) \"\(Output.escaped(text))\" is not a time")
        }
    }
}

/// A size in bytes, with an optional K, M, G or T suffix (1024-based) and an optional B.
public struct ByteSizeValue: ExpressibleByArgument, Sendable, Hashable {
    public let text: String
    public init?(argument: String) { text = argument }
    public var defaultValueDescription: String { text }

    /// The byte count: more than 0, no overflow.
    func bytes(_ option: String) throws(CLIError) -> Int64 {
        let multipliers: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased()
        var factor: Int64 = 1
        if digits.hasSuffix("B") { digits.removeLast() }
        if let last = digits.last, let m = multipliers[last] { factor = m; digits.removeLast() }
        guard let value = Int64(digits), value > 0 else {
            throw CLIError.usage("\(option) \"\(Output.escaped(text))\" is not a size; give bytes greater than 0, e.g. 268435456 or 256M")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw CLIError.usage("\(option) \(Output.escaped(text)) is too large") }
        return product
    }
}

/// A percentage of one CPU: `50`, `50%`, `200.5`; above 0 and at most 102400 (1024 CPUs).
public struct PercentValue: ExpressibleByArgument, Sendable, Hashable {
    public let text: String
    public init?(argument: String) { text = argument }
    public var defaultValueDescription: String { text }

    func percent(_ option: String) throws(CLIError) -> Double {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let value = Double(number), value.isFinite, value > 0, value <= 102_400 else {
            throw CLIError.usage("\(option) \"\(Output.escaped(text))\" must be a percentage above 0 and at most 102400")
        }
        return value
    }
}

/// Runs svcunit's checks of option values inside a `validate()`: a `CLIError` becomes argument-parser's
/// `ValidationError` with the same words.
func checkingValues(_ body: () throws -> Void) throws {
    do { try body() } catch let error as CLIError { throw ValidationError(error.message) }
}
