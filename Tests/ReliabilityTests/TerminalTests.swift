import Foundation
import SystemdTestSupport
import Testing

/// Issue 16, case 4: nothing a service prints or a document holds reaches the terminal raw. Human
/// output (logs, status, list, start, errors) shows control characters escaped or as journalctl's
/// blob notice; `--json` keeps the exact text; `create --name` refuses control characters.
@Suite("Terminal output")
struct TerminalTests {
    static let esc = "\u{1B}"
    /// OSC title, OSC 52 clipboard write, CSI clear screen, and a forged line (cursor up, CR).
    static let hostileLines = ["\u{1B}]0;TITLE\u{07}", "\u{1B}]52;c;SGVsbG8=\u{07}", "\u{1B}[2J", "\u{1B}[1A\rforged"]
    static let escapedLines = ["\\e]0;TITLE\\a", "\\e]52;c;SGVsbG8=\\a", "\\e[2J", "\\e[1A\\rforged"]

    /// A service printing OSC/CSI sequences, then failing: the failed start, `logs` in every human
    /// mode and `status` carry no ESC byte; `logs` shows the blob notice, `-a` the escapes, and
    /// `--json` the exact text.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func serviceOutputIsEscapedForPeopleAndExactInJSON() async throws {
        try await live { try await withStore { store in
            let script = "for line in \"$@\"; do printf '%s\\n' \"$line\"; done; echo plain-line; exit 3"
            let uuid = try await store.create(["--name", "noisy"], ["/bin/sh", "-c", script, "sh"] + Self.hostileLines)
            let start = try await store.svcunit("start", uuid, "--timeout", "30")
            #expect(start.status == 1, "\(start)")
            #expect(!start.stderr.contains(Self.esc) && !start.stdout.contains(Self.esc), "\(start)")

            // The exact text, once journald has all four lines.
            var messages: [String] = []
            let complete = try await waitUntil(.seconds(30)) {
                let json = try await store.svcunit("logs", uuid, "--json", "--service-only")
                messages = json.lines.compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["message"] as? String
                }
                return messages.contains("plain-line")
            }
            #expect(complete, "\(messages)")
            for line in Self.hostileLines { #expect(messages.contains(line), "exact in --json: \(line.debugDescription) in \(messages)") }

            for mode in ["short", "short-iso", "cat"] {
                let logs = try await store.svcunit("logs", uuid, "-o", mode)
                #expect(logs.status == 0, "\(logs)")
                #expect(!logs.stdout.contains(Self.esc) && !logs.stdout.contains("\r"), "-o \(mode): \(logs)")
                #expect(logs.lines.filter { $0.hasSuffix(" blob data]") }.count == 4, "-o \(mode): \(logs)")
                #expect(logs.stdout.contains("plain-line"))
                let all = try await store.svcunit("logs", uuid, "-o", mode, "-a")
                #expect(!all.stdout.contains(Self.esc) && !all.stdout.contains("\r"), "-o \(mode) -a: \(all)")
                for escaped in Self.escapedLines { #expect(all.stdout.contains(escaped), "-o \(mode) -a: \(escaped) in \(all)") }
            }
            let status = try await store.svcunit("status", uuid)
            #expect(!status.stdout.contains(Self.esc) && !status.stderr.contains(Self.esc), "\(status)")
        } }
    }

    /// A document whose name holds escape sequences (written by another tool; `create` refuses such
    /// names): `list`, `status`, `start`, `stop` and an error naming it show it escaped.
    @Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
    func hostileNamesInDocumentsAreShownEscaped() async throws {
        try await live { try await withStore { store in
            let uuid = try await store.create(["--name", "plain"], ["/bin/sleep", marker()])
            var document = try store.document(uuid)
            var config = try #require(document["config"] as? [String: Any])
            config["name"] = "web\u{1B}]0;TITLE\u{07}\u{1B}[2J"
            document["config"] = config
            try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: store.file(uuid)))
            let escapedName = "web\\e]0;TITLE\\a\\e[2J"

            let start = try await store.svcunit("start", uuid)
            #expect(start.status == 0, "\(start)")
            #expect(start.stdout.contains(escapedName), "\(start)")
            let list = try await store.svcunit("list")
            #expect(list.stdout.contains(escapedName), "\(list)")
            let status = try await store.svcunit("status", uuid)
            #expect(status.stdout.contains(escapedName), "\(status)")
            let json = try await store.svcunit("status", uuid, "--json")
            #expect(try json.object()["name"] as? String == config["name"] as? String, "exact in --json")
            // A name prefix that matches nothing: the error quotes the command line; a bad -o value
            // with an escape is quoted by argument-parser's own error.
            let missing = try await store.svcunit("status", "nothing\u{1B}[2J")
            #expect(missing.status == 3, "\(missing)")
            let badMode = try await store.svcunit("logs", uuid, "-o", "\u{1B}[2J")
            #expect(badMode.status == 2, "\(badMode)")
            let stop = try await store.svcunit("stop", uuid)
            #expect(stop.status == 0, "\(stop)")
            for run in [start, list, status, missing, badMode, stop] {
                #expect(!run.stdout.contains(Self.esc) && !run.stderr.contains(Self.esc), "\(run)")
            }
        } }
    }

    /// `create --name` with a control character (ESC, tab, DEL, C1 CSI): exit 2, one line showing
    /// the name escaped, the store unchanged.
    @Test(arguments: ["a\u{1B}b", "tab\there", "del\u{7F}", "c1\u{9B}2J"])
    func controlCharactersInNamesAreRefusedAtCreate(_ name: String) async throws {
        try await withStore { store in
            _ = try await store.create(["--name", "existing"], ["/bin/true"])
            let before = Snapshot(store.path)
            let run = try await store.svcunit("create", "command", "--name", name, "--", "/bin/true")
            #expect(run.status == 2, "\(run)")
            expectOneErrorLine(run, name.debugDescription)
            #expect(run.stderr.contains("--name") && run.stderr.contains("control characters"), "\(run)")
            #expect(!run.stderr.contains(Self.esc) && !run.stderr.contains("\u{9B}"), "\(run)")
            #expect(run.stdout.isEmpty)
            #expect(Snapshot(store.path) == before, "store unchanged")
        }
    }
}
