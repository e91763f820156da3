import FoundationEssentials
import ServiceModel
import SystemdProvisioning
import OSCalls
import SystemPackage

/// How svcunit writes for people and for programs: plain or coloured text, JSON, tables, a spinner.
///
/// Human output goes to stdout, errors and warnings to stderr, `--json` output is a single JSON
/// document on stdout. Not obvious: colours and the spinner are decided by *stdout* being a
/// terminal (and `NO_COLOR` unset), so `svcunit list | grep x` stays plain even though stderr is
/// still a terminal.
enum Output {
    static let stdoutIsTerminal = Terminal.isTerminal(.standardOutput)
    static let stderrIsTerminal = Terminal.isTerminal(.standardError)
    static let fancy = stdoutIsTerminal && CurrentProcess.environmentValue("NO_COLOR") == nil

    enum Color: String {
        case red = "31", green = "32", yellow = "33", dim = "2", bold = "1"
    }

    static func paint(_ text: String, _ color: Color) -> String {
        fancy ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// A service state word, coloured by what it means.
    static func state(_ text: String) -> String {
        switch text {
        case "active", "healthy": paint(text, .green)
        case "error", "failed", "invalid", "unhealthy", "orphaned", "foreign": paint(text, .red)
        case "pending_startup", "pending_shutdown", "activating", "deactivating", "unknown": paint(text, .yellow)
        default: paint(text, .dim)
        }
    }

    /// `svcunit: error: TEXT` on stderr. TEXT may hold a service's output or a document's values, so
    /// every line is escaped (`escaped`); a multi-line report (a failed start's indented detail
    /// lines) keeps its line breaks.
    static func error(_ text: String) {
        writeStandardError("svcunit: error: \(escapedLines(text))\n")
    }

    /// `escaped` line by line: the line breaks are svcunit's own, everything within a line is not.
    static func escapedLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { escaped(String($0)) }.joined(separator: "\n")
    }

    static func warning(_ text: String) {
        writeStandardError("svcunit: warning: \(escaped(text))\n")
    }

    /// A notice for people on stderr (where it cannot mix with `--json` output on stdout).
    static func note(_ text: String) {
        writeStandardError("svcunit: \(escaped(text))\n")
    }

    /// Asks on stderr and returns the line read from stdin (nil at its end).
    static func ask(_ question: String) -> String? {
        writeStandardError(question)
        return readLine()
    }

    /// Prints one JSON document (pretty) on stdout.
    static func json(_ value: JSONValue) {
        print(JSONText.format(value, indent: 2), terminator: "")
    }

    /// Prints one JSON value on one line (JSON Lines) and flushes, for streams.
    static func jsonLine(_ value: JSONValue) {
        print(JSONText.formatCompact(value))
    }

    static func flush() { StandardIO.flush() }

    /// Writes bytes to stdout as they are, in one `write` (retrying short writes), after whatever
    /// `print` has buffered: for output built in batches.
    static func writeStandardOutput(_ bytes: [UInt8]) {
        StandardIO.flush()
        try? FileDescriptor.standardOutput.writeAll(bytes: bytes)
    }

    /// Writes `text` to stderr at once (unbuffered, as stderr is), retrying short writes.
    static func writeStandardError(_ text: String) {
        try? FileDescriptor.standardError.writeAll(bytes: Array(text.utf8))
    }

    /// `value` with one decimal, rounded (`%.1f` without Foundation's formatter).
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths < 0 ? "-" : "")\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }

    /// `value` zero-padded to `width` digits.
    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }  // nil: every stream; `stdout` is a C global Swift 6 will not touch

    /// `label: value` lines with aligned values.
    static func fields(_ lines: [(String, String)]) -> String {
        let width = (lines.map(\.0.count).max() ?? 0) + 2
        return lines.map { label, value in (label + ":" + String(repeating: " ", count: max(0, width - label.count - 1))) + value + "\n" }
            .joined()
    }

    /// A table with a header; `visibleWidth` ignores colour escapes when aligning.
    static func table(header: [String], rows: [[String]]) -> String {
        let all = [header.map { paint($0, .bold) }] + rows
        // Each cell's width once; the text built as bytes and made a string once (a table of 1,000
        // rows was a twentieth of `list`'s instructions when every cell was measured twice and joined
        // twice, and half of what was left went to appending strings and making padding strings).
        let cellWidths = all.map { $0.map(visibleWidth) }
        var widths = Array(repeating: 0, count: header.count)
        for row in cellWidths { for (i, width) in row.enumerated() { widths[i] = max(widths[i], width) } }
        var out: [UInt8] = []
        out.reserveCapacity(all.count * (widths.reduce(0, +) + 2 * widths.count + 1))
        for (row, rowWidths) in zip(all, cellWidths) {
            for (i, cell) in row.enumerated() {
                var cell = cell
                cell.withUTF8 { out.append(contentsOf: $0) }
                if i < row.count - 1 { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: widths[i] - rowWidths[i] + 2)) }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Columns `text` takes on a terminal: its Unicode scalars, without colour escapes (`ESC … m`).
    static func visibleWidth(_ text: String) -> Int {
        // Plain ASCII without an escape (almost every cell) is its byte count; read as contiguous
        // bytes, which a table of 1,000 rows does 10,000 times.
        var text = text
        if text.withUTF8({ !$0.contains(where: { $0 >= 0x80 || $0 == 0x1B }) }) { return text.utf8.count }
        var count = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape { if scalar == "m" { inEscape = false }; continue }
            if scalar == "\u{1B}" { inEscape = true; continue }
            count += 1
        }
        return count
    }

    // MARK: Text from services and documents

    /// C0 controls (tab and newline included), DEL and the C1 controls: what a terminal may act on.
    /// `create --name` refuses them all; `escaped` shows all but tab as escapes.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `text` for a terminal: every control character except tab written as an escape (`\e`, `\n`,
    /// `\x07`, `\u{9b}`), so nothing a service printed or a document holds can move the cursor, set
    /// the title, write the clipboard or forge a line. The one function every human output path uses
    /// for such text (logs, status, list, inspect, batch lines, errors); `--json` output is not escaped.
    static func escaped(_ text: String) -> String {
        // Plain printable ASCII (almost every cell) needs no decoding: only a byte below 0x20 or from
        // 0x7F up can be, or start, a control character (`isControl` decides for those).
        if text.utf8.allSatisfy({ (0x20..<0x7F).contains($0) }) { return text }
        guard text.unicodeScalars.contains(where: { isControl($0) && $0 != "\t" }) else { return text }
        return escaped(utf8: Array(text.utf8))
    }

    /// `escaped` for raw bytes (a journal message): invalid UTF-8 bytes are written as `\xHH` too.
    static func escaped(utf8 bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var position = 0
        func hex(_ value: UInt32, digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                position += encoded.count
                let scalar = Unicode.UTF8.decode(encoded)
                guard isControl(scalar), scalar != "\t" else { out.unicodeScalars.append(scalar); continue }
                switch scalar {
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\u{1B}": out += "\\e"
                case "\u{07}": out += "\\a"
                case "\u{08}": out += "\\b"
                default: out += scalar.value < 0x80 ? "\\x" + hex(scalar.value, digits: 2) : "\\u{" + hex(scalar.value, digits: 2) + "}"
                }
            case .error(let length):
                for byte in bytes[position ..< position + length] { out += "\\x" + hex(UInt32(byte), digits: 2) }
                position += length
            case .emptyInput:
                return out
            }
        }
    }

    /// journalctl's test for showing a message as it is: valid UTF-8 without control characters
    /// other than tab and newline (systemd's `utf8_is_printable`).
    static func isPrintable(utf8 bytes: [UInt8]) -> Bool {
        // Fast path: printable ASCII, tab and newline.
        if bytes.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || $0 == 0x0A }) { return true }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if isControl(scalar), scalar != "\t", scalar != "\n" { return false }
            case .error: return false
            case .emptyInput: return true
            }
        }
    }

    /// What journalctl shows instead of a message that is not printable: `[23B blob data]`.
    static func blobNotice(byteCount: Int) -> String {
        "[\(systemdBytes(UInt64(byteCount))) blob data]"
    }

    /// systemd's `format_bytes`: `23B`, `1.5K`, `12.0M` (1024-based, one decimal, truncated).
    static func systemdBytes(_ value: UInt64) -> String {
        let suffixes = ["E", "P", "T", "G", "M", "K"]
        for (index, suffix) in suffixes.enumerated() {
            let factor = UInt64(1) << (10 * UInt64(suffixes.count - index))
            if value >= factor { return "\(value / factor).\(value % factor * 10 / factor)\(suffix)" }
        }
        return "\(value)B"
    }

    // MARK: Formatting values

    /// `2d 3h`, `4m 5s`, `12s`.
    static func duration(seconds: Double) -> String {
        var s = Int(seconds.rounded(.down))
        let d = s / 86_400; s %= 86_400
        let h = s / 3600; s %= 3600
        let m = s / 60; s %= 60
        if d > 0 { return "\(d)d \(h)h" }
        if h > 0 { return "\(h)h \(m)m" }
        if m > 0 { return "\(m)m \(s)s" }
        return "\(s)s"
    }

    /// `12.3 MiB`.
    static func bytes(_ value: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(value)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(value) B" : "\(oneDecimal(v)) \(units[i])"
    }

    /// ISO-8601 with microseconds in UTC, e.g. `2025-01-02T03:04:05.123456Z`.
    static func isoTime(microseconds: UInt64) -> String {
        let parts = CalendarTime.utc(Int64(microseconds / 1_000_000))
        let date = "\(padded(parts.year, 4))-\(padded(parts.month, 2))-\(padded(parts.day, 2))"
        let clock = "\(padded(parts.hour, 2)):\(padded(parts.minute, 2)):\(padded(parts.second, 2))"
        return "\(date)T\(clock).\(padded(Int(microseconds % 1_000_000), 6))Z"
    }

    /// Local time for people, e.g. `2025-01-02 03:04:05`.
    static func localTime(microseconds: UInt64) -> String {
        let parts = CalendarTime.local(Int64(microseconds / 1_000_000))
        // Plain string building: String(format:) cost more than reading the entry (seen in `logs -n`).
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.year)-\(two(parts.month))-\(two(parts.day)) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))"
    }

    /// journalctl's timestamps, local time: `short` gives `Nov 30 03:36:03` (`%b %d %H:%M:%S`, C
    /// locale), `short-iso` gives `2026-11-30T03:36:03+0100` (`%Y-%m-%dT%H:%M:%S%z`).
    static func journalTime(microseconds: UInt64, iso: Bool) -> String {
        let parts = CalendarTime.local(Int64(microseconds / 1_000_000))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let clock = "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))"
        guard iso else { return "\(monthNames[parts.month - 1]) \(two(parts.day)) \(clock)" }
        let offset = parts.utcOffsetSeconds / 60
        let zone = (offset < 0 ? "-" : "+") + two(abs(offset) / 60) + two(abs(offset) % 60)
        return "\(parts.year)-\(two(parts.month))-\(two(parts.day))T\(clock)\(zone)"
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

}

/// A one-line "working…" indicator with elapsed time on stderr, shown only when `Output.fancy`
/// and stderr is a terminal.
///
/// Not obvious: it redraws on a 100 ms timer; that is animation, not a wait on a state change
/// (the waits themselves are event-driven in SystemdProvisioning).
final class Spinner: Sendable {
    private let task: Task<Void, Never>?

    init(_ label: String) {
        guard Output.fancy, Output.stderrIsTerminal else {
            task = nil
            return
        }
        task = Task.detached {
            let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
            let start = ContinuousClock.now
            var i = 0
            while !Task.isCancelled {
                let elapsed = ContinuousClock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let text = "\r\u{1B}[K\(frames[i % frames.count]) \(label) \(Output.oneDecimal(seconds)) s"
                Output.writeStandardError(text)
                i += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
            Output.writeStandardError("\r\u{1B}[K")
        }
    }

    func stop() async {
        guard let task else { return }
        task.cancel()
        await task.value
    }
}
