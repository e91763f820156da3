import SDJournal
import ServiceModel
@testable import SvcUnitCLI
import Testing

/// The one escaping function for people's output, journalctl's blob notice and printable test, and
/// the `logs` line formats, without a journal.
@Suite("Terminal escaping and log formats (in-process)")
struct LogFormatTests {
    /// Columns line up by what a terminal shows: colour escapes take no room, a multi-byte
    /// character takes one, and the last column is not padded.
    @Test func tableColumnsAlignByVisibleWidth() {
        #expect(Output.visibleWidth("plain") == 5)
        #expect(Output.visibleWidth("\u{1B}[32mactive\u{1B}[0m") == 6)
        #expect(Output.visibleWidth("café 🚀") == 6)
        let table = Output.table(header: ["A", "B", "C"],
                                 rows: [["x", "\u{1B}[32mactive\u{1B}[0m", "end"], ["café", "b", "last one"]])
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 4 && lines[3].isEmpty, "\(lines)")
        #expect(lines[1] == "x     \u{1B}[32mactive\u{1B}[0m  end")
        #expect(lines[2] == "café  b       last one")
    }

    @Test func controlCharactersAreEscapedAndTabKept() {
        #expect(Output.escaped("plain text ü 🚀") == "plain text ü 🚀")
        #expect(Output.escaped("a\tb") == "a\tb")
        #expect(Output.escaped("\u{1B}]0;TITLE\u{07}") == "\\e]0;TITLE\\a")
        #expect(Output.escaped("\u{1B}[2J\r\nx\u{08}\u{7F}\u{0}") == "\\e[2J\\r\\nx\\b\\x7f\\x00")
        #expect(Output.escaped("c1 \u{9B}2J") == "c1 \\u{9b}2J")
        #expect(Output.escaped(utf8: [0x61, 0xFF, 0x1B, 0x62]) == "a\\xff\\eb")
    }

    @Test func printableIsJournalctlsRule() {
        #expect(Output.isPrintable(utf8: Array("tab\tand\nnewline ü".utf8)))
        #expect(!Output.isPrintable(utf8: Array("\u{1B}[2J".utf8)))
        #expect(!Output.isPrintable(utf8: Array("\u{9B}".utf8)))
        #expect(!Output.isPrintable(utf8: Array("cr\r".utf8)))
        #expect(!Output.isPrintable(utf8: [0x61, 0xC3]))  // truncated UTF-8
        #expect(Output.blobNotice(byteCount: 23) == "[23B blob data]")
        #expect(Output.blobNotice(byteCount: 1536) == "[1.5K blob data]")
        #expect(Output.systemdBytes(3 << 20) == "3.0M")
    }

    static func entry(_ message: [UInt8], priority: Int = 6, manager: Bool = false) -> JournalEntry {
        var fields: [String: [UInt8]] = ["_SYSTEMD_INVOCATION_ID": Array("0123456789abcdef0123456789abcdef".utf8)]
        if manager { fields = ["USER_UNIT": Array("svcunit-x.service".utf8), "USER_INVOCATION_ID": Array("feed".utf8)] }
        return JournalEntry(cursor: nil, realtimeMicroseconds: 1_764_473_763_123_456, messageBytes: message, priority: priority,
                            pid: manager ? 100 : 4121, syslogIdentifier: manager ? "systemd" : "svcunit-x", fields: fields)
    }

    @Test func shortModesLookLikeJournalctl() {
        let short = LogPrinter(mode: .short, all: false).line(Self.entry(Array("Serving HTTP".utf8)))
        let time = Output.journalTime(microseconds: 1_764_473_763_123_456, iso: false)
        #expect(short == "\(time) svcunit-x[4121]: Serving HTTP")
        #expect(time.wholeMatch(of: /(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d \d\d:\d\d:\d\d/) != nil, "\(time)")
        let iso = Output.journalTime(microseconds: 1_764_473_763_123_456, iso: true)
        #expect(iso.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/) != nil, "\(iso)")
        #expect(LogPrinter(mode: .shortISO, all: false).line(Self.entry(Array("x".utf8))) == "\(iso) svcunit-x[4121]: x")
        #expect(LogPrinter(mode: .cat, all: false).line(Self.entry(Array("x".utf8))) == "x")
        #expect(LogPrinter(mode: .short, all: false).line(Self.entry(Array("Started".utf8), manager: true)) == "\(time) systemd[100]: Started")
    }

    /// The batched lines of `logs` (time text once per second, ` identifier[pid]: ` once per
    /// process) are byte for byte what `line` gives each entry: across seconds, a second process, a
    /// line without a PID or identifier, a multi-line message and one that is not printable.
    @Test(arguments: [LogOutputMode.short, .shortISO, .cat])
    func batchedLinesAreTheLinesOneByOne(mode: LogOutputMode) {
        func entry(_ text: String, second: UInt64, pid: Int32?, identifier: String?, comm: String? = nil) -> JournalEntry {
            JournalEntry(cursor: nil, realtimeMicroseconds: 1_764_473_763_000_000 + second * 1_000_000 + 5, messageBytes: Array(text.utf8),
                         priority: 6, pid: pid, syslogIdentifier: identifier, fields: comm.map { ["_COMM": Array($0.utf8)] } ?? [:])
        }
        let entries = [
            entry("one", second: 0, pid: 4121, identifier: "svcunit-x"), entry("two", second: 0, pid: 4121, identifier: "svcunit-x"),
            entry("other process", second: 0, pid: 4122, identifier: "svcunit-x"), entry("back", second: 0, pid: 4121, identifier: "svcunit-x"),
            entry("next second", second: 1, pid: 4121, identifier: "svcunit-x"), entry("no pid", second: 1, pid: nil, identifier: "svcunit-x"),
            entry("by command name", second: 1, pid: 77, identifier: nil, comm: "python3"), entry("manager", second: 2, pid: 100, identifier: "systemd"),
            entry("two\nlines", second: 2, pid: 100, identifier: "systemd"), entry("\u{1B}[2Jhostile", second: 2, pid: 100, identifier: "systemd"),
            entry("after", second: 2, pid: 100, identifier: "systemd"),
        ]
        let printer = LogPrinter(mode: mode, all: false)
        var out: [UInt8] = []
        var shared = LogPrinter.SharedText()
        for e in entries { printer.render(e, into: &out, &shared) }
        let expected = entries.map { printer.line($0) + "\n" }.joined()
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func unprintableMessagesAreBlobsOrEscapedWithAll() {
        let hostile = Array("\u{1B}]0;TITLE\u{07}esc".utf8)
        #expect(LogPrinter(mode: .cat, all: false).line(Self.entry(hostile)) == "[13B blob data]")
        #expect(LogPrinter(mode: .cat, all: true).line(Self.entry(hostile)) == "\\e]0;TITLE\\aesc")
        // Continuation lines are indented under the message, so a newline cannot forge a line.
        let short = LogPrinter(mode: .short, all: false).line(Self.entry(Array("one\ntwo".utf8)))
        let lines = short.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[1] == String(repeating: " ", count: lines[0].count - 3) + "two")
    }

    @Test func jsonKeepsTheExactMessage() throws {
        let hostile = "\u{1B}]52;c;SGVsbG8=\u{07}"
        let o = LogPrinter.json(Self.entry(Array(hostile.utf8)))
        guard case .object(let object) = o else { Issue.record("not an object"); return }
        #expect(object["message"] == .string(hostile))
        #expect(object["source"] == .string("service"))
        #expect(object["invocation_id"] == .string("0123456789abcdef0123456789abcdef"))
        #expect(object["identifier"] == .string("svcunit-x"))
        guard case .object(let manager) = LogPrinter.json(Self.entry([0x61, 0xFF], manager: true)) else { return }
        #expect(manager["message"] == .array([.int(0x61), .int(0xFF)]), "invalid UTF-8 as byte values, as journalctl does")
        #expect(manager["source"] == .string("manager"))
        #expect(manager["invocation_id"] == .string("feed"))
    }
}
