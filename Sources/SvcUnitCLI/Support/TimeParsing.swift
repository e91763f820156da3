import Foundation

/// Parses the time values svcunit accepts on the command line: durations in seconds and `--since`/`--until`.
///
/// Not obvious: every duration is capped at one day (86400 s); a larger value is almost always a
/// unit mistake (milliseconds typed as seconds) and systemd would accept it silently.
enum TimeParsing {
    static let maxSeconds = 86_400.0

    /// `30`, `2.5`, `500ms`, `30s`, `2m`, `1h`, `1d` → seconds.
    /// - Throws: `CLIError.usage` naming `option`.
    static func seconds(_ text: String, option: String, allowZero: Bool = false) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var number = text.trimmingCharacters(in: .whitespaces)
        var factor = 1.0
        for (suffix, f) in units where number.hasSuffix(suffix) {
            let rest = String(number.dropLast(suffix.count))
            if Double(rest) != nil { number = rest; factor = f; break }
        }
        guard let value = Double(number), value.isFinite else {
            throw CLIError.usage("\(option) \"\(text)\" is not a duration; give seconds, e.g. 30, 2.5, 500ms, 2m")
        }
        let seconds = value * factor
        if seconds < 0 || (!allowZero && seconds == 0) {
            throw CLIError.usage("\(option) \(text) must be \(allowZero ? "0 or more" : "more than 0") seconds")
        }
        if seconds > maxSeconds {
            throw CLIError.usage("\(option) \(text) is more than one day (86400 s); that is surely not meant")
        }
        return seconds
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }

    /// `--since`/`--until`: ISO-8601 (`2025-01-02T03:04:05Z`, with offset or fraction, or a plain
    /// date), relative (`-10m`, `-2h`, `-30s`, `-1d`), `now`, or a unix time (`1735787045`,
    /// `1735787045.5`) → microseconds since the epoch.
    static func time(_ text: String, option: String = "--since", now: UInt64 = Output.nowMicroseconds()) throws -> UInt64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "now" { return now }
        if t.hasPrefix("-") {
            let seconds = try relativeSeconds(String(t.dropFirst()), original: text, option: option)
            let delta = UInt64(seconds * 1_000_000)
            return now > delta ? now - delta : 0
        }
        if let unix = Double(t), unix >= 0, unix.isFinite, !t.contains("e"), !t.contains("E") {
            return UInt64(unix * 1_000_000)
        }
        if let date = iso8601(t) {
            let seconds = date.timeIntervalSince1970
            return seconds <= 0 ? 0 : UInt64(seconds * 1_000_000)
        }
        throw CLIError.usage(
            "\(option) \"\(text)\" is not a time; give ISO-8601 (2025-01-02T03:04:05Z), a relative time (-10m, -2h) or a unix time")
    }

    /// Relative amounts have no one-day cap (`-7d` is a fair question to ask the journal).
    private static func relativeSeconds(_ text: String, original: String, option: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v >= 0, v.isFinite { return v * factor }
        }
        if let v = Double(text), v >= 0, v.isFinite { return v }
        throw CLIError.usage("\(option) \"\(original)\" is not a relative time; give e.g. -30s, -10m, -2h, -1d")
    }

    private static func iso8601(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = withFraction.date(from: text) { return d }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let d = plain.date(from: text) { return d }
        // Without a zone: local time, as journalctl reads it.
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone.current
            f.dateFormat = format
            if let d = f.date(from: text) { return d }
        }
        return nil
    }
}
