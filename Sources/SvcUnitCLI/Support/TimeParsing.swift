import FoundationEssentials
import OSCalls

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
        var number = text.trimmingSpaces
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
    static func time(_ text: String, option: String = "--since", now: UInt64 = WallClock.microseconds()) throws -> UInt64 {
        let t = text.trimmingSpaces
        if t == "now" { return now }
        if t.hasPrefix("-") {
            let seconds = try relativeSeconds(String(t.dropFirst()), original: text, option: option)
            let delta = UInt64(seconds * 1_000_000)
            return now > delta ? now - delta : 0
        }
        if let unix = Double(t), unix >= 0, unix.isFinite, !t.contains("e"), !t.contains("E") {
            return UInt64(unix * 1_000_000)
        }
        if let microseconds = iso8601Microseconds(t) { return microseconds }
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

    /// ISO-8601 `YYYY-MM-DD`, optionally `T` or a space and `HH:MM[:SS[.fraction]]`, optionally `Z`
    /// or an offset (`+01:00`, `+0100`). Without a zone it is local time, as journalctl reads it.
    /// Parsed by hand (no DateFormatter: svcunit links no ICU); impossible dates (Feb 30) are refused.
    static func iso8601Microseconds(_ text: String) -> UInt64? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(4), scanner.take("-"), let month = scanner.digits(2), scanner.take("-"),
              let day = scanner.digits(2) else { return nil }
        var hour = 0, minute = 0, second = 0, micros = 0
        var offsetSeconds: Int? = nil
        if scanner.take("T") || scanner.take(" ") {
            guard let h = scanner.digits(2), scanner.take(":"), let m = scanner.digits(2) else { return nil }
            hour = h; minute = m
            if scanner.take(":") {
                guard let sec = scanner.digits(2) else { return nil }
                second = sec
                if scanner.take(".") || scanner.take(",") {
                    var digits = 0, value = 0
                    while let d = scanner.digits(1) { if digits < 6 { value = value * 10 + d; digits += 1 } }
                    guard digits > 0 else { return nil }
                    for _ in digits ..< 6 { value *= 10 }
                    micros = value
                }
            }
            if scanner.take("Z") || scanner.take("z") {
                offsetSeconds = 0
            } else if let sign = scanner.sign() {
                guard let oh = scanner.digits(2) else { return nil }
                _ = scanner.take(":")
                guard let om = scanner.digits(2), oh <= 23, om <= 59 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            }
        }
        guard scanner.atEnd, (1 ... 12).contains(month), (1 ... 31).contains(day), hour <= 23, minute <= 59,
              second <= 60 else { return nil }
        // nil for a date that does not exist (Feb 30).
        guard let seconds = CalendarTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            .secondsSinceEpoch(inLocalZone: offsetSeconds == nil) else { return nil }
        let utc = seconds - Int64(offsetSeconds ?? 0)
        return utc <= 0 ? 0 : UInt64(utc) * 1_000_000 + UInt64(micros)
    }

    /// A cursor over ASCII bytes for `iso8601Microseconds`.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { index == bytes.count }
        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }
        /// Exactly `count` decimal digits as a number, or nil (and nothing consumed).
        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index ..< index + count] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += count
            return value
        }
        mutating func sign() -> Int? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (`trimmingCharacters(in: .whitespaces)`
    /// without Foundation).
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first ... last])
    }
}
