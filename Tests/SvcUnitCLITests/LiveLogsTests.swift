import Foundation
import SystemdManager
import SystemdTestSupport
import Testing

/// `svcunit logs` against the real journal: journalctl's output modes (journalctl itself is the
/// witness), `--service-only`, `--this-run` across two runs, `--until` with `-n` and `-f`, and a long
/// history streamed in bounded memory.
@Suite("svcunit logs against the journal (built binary)", .serialized,
       .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct LiveLogsTests {
    /// Polls `condition` (every 50 ms) until it holds or a generous deadline passes.
    static func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if try condition() { return true }
            if Date() >= deadline { return false }
            usleep(50_000)
        }
    }

    /// journalctl's line without its host name (svcunit leaves it out): the fourth word (short) or
    /// the second (short-iso).
    static func withoutHost(_ line: Substring, iso: Bool) -> String {
        var words = line.split(separator: " ", omittingEmptySubsequences: false)
        words.remove(at: iso ? 1 : 3)
        return words.joined(separator: " ")
    }

    @Test func outputModesMatchJournalctl() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.svcunit("create", "command", "--name", "modes", "--",
                                    "/bin/sh", "-c", "echo alpha; echo 'beta  two spaces'; printf 'tab\\there\\n'; exec sleep 300").stdout
            .trimmingCharacters(in: .newlines)
        #expect(try root.svcunit("start", "modes").status == 0)
        #expect(try Self.eventually { try root.svcunit("logs", "modes", "-o", "cat", "--service-only").stdout.contains("tab") })
        let identifier = "svcunit-\(uuid)"

        for (mode, iso) in [("short", false), ("short-iso", true)] {
            let ours = try root.svcunit("logs", "modes", "-o", mode, "--service-only")
            #expect(ours.status == 0, "\(ours.stderr)")
            // journalctl expands a tab to spaces; svcunit keeps it (it is harmless): compare the others.
            let theirs = try LiveSystemd.run("/usr/bin/journalctl", ["-t", identifier, "-o", mode, "--no-pager"]).output
                .split(separator: "\n").filter { !$0.hasPrefix("-- ") }.map { Self.withoutHost($0, iso: iso) }
            #expect(ours.lines.dropLast().map(String.init) == Array(theirs.dropLast()), "-o \(mode)")
            #expect(ours.lines.count == 3 && theirs.count == 3)
            #expect(ours.lines.last?.hasSuffix(": tab\there") == true)
            #expect(ours.lines.first?.hasSuffix(" \(identifier)[\(try LiveSystemd.show(uuid, "MainPID"))]: alpha") == true, "\(ours.stdout)")
        }
        #expect(try root.svcunit("logs", "modes").stdout.isEmpty == false)
        #expect(try root.svcunit("logs", "modes", "-o", "short").stdout == (try root.svcunit("logs", "modes").stdout), "short is the default")

        let cat = try root.svcunit("logs", "modes", "-o", "cat", "--service-only")
        #expect(cat.stdout == "alpha\nbeta  two spaces\ntab\there\n")

        // By default the manager's own lines come too, marked by their identifier (systemd[PID]).
        let both = try root.svcunit("logs", "modes")
        let managerLines = both.lines.filter { $0.contains(" systemd[") }
        #expect(managerLines.contains { $0.contains(": Started svcunit-\(uuid).service - svcunit modes (daemon/command) from /")
                    && $0.hasSuffix("/\(uuid)/service.json.") }, "\(both.stdout)")
        #expect(both.lines.count == managerLines.count + 3)

        let json = try root.svcunit("logs", "modes", "-o", "json")
        #expect(try root.svcunit("logs", "modes", "--json").stdout == json.stdout, "--json is -o json")
        let entries = try json.jsonLines()
        #expect(entries.count == both.lines.count)
        let service = entries.filter { $0["source"] as? String == "service" }
        #expect(service.map { $0["message"] as? String } == ["alpha", "beta  two spaces", "tab\there"])
        #expect(service.allSatisfy { $0["identifier"] as? String == identifier })
        let invocation = try LiveSystemd.show(uuid, "InvocationID")
        #expect(service.allSatisfy { $0["invocation_id"] as? String == invocation }, "\(service)")
        #expect(entries.filter { $0["source"] as? String == "manager" }.allSatisfy { $0["identifier"] as? String == "systemd" })

        let contradiction = try root.svcunit("logs", "modes", "--json", "-o", "cat")
        #expect(contradiction.status == 2)
        #expect(contradiction.errorLines.count == 1, "\(contradiction.stderr)")
    }

    /// A line the service sends to the journal under another identifier is found by its unit alone.
    /// A read that does not follow leaves out the filter's groups that match nothing; this is the
    /// line that would go missing if a group that matches were left out too.
    @Test func aLineUnderAnotherIdentifierComesByItsUnit() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        // A stream of its own (systemd-cat), whose writer stays alive: journald attributes a stream
        // to the unit when it connects. A one-shot message (`logger --journald`) from a process that
        // has exited by the time journald reads its cgroup carries no unit (then only its identifier
        // could find it, and that is another one).
        let script = "echo own-line; /usr/bin/systemd-cat -t elsewhere /bin/sh -c 'echo via-journal; exec sleep 300' & exec sleep 300"
        let uuid = try root.svcunit("create", "command", "--name", "elsewhere", "--", "/bin/sh", "-c", script).stdout
            .trimmingCharacters(in: .newlines)
        #expect(try root.svcunit("start", uuid).status == 0)
        #expect(try Self.eventually {
            try LiveSystemd.run("/usr/bin/journalctl", ["-t", "elsewhere", "-o", "cat", "--no-pager"]).output.contains("via-journal")
        })
        let logs = try root.svcunit("logs", uuid, "-o", "cat", "-n", "20")
        #expect(logs.status == 0, "\(logs.stderr)")
        #expect(logs.stdout.contains("own-line") && logs.stdout.contains("via-journal"), "\(logs.stdout)")
        let json = try root.svcunit("logs", uuid, "--json").jsonLines()
        #expect(json.contains { $0["message"] as? String == "via-journal" && $0["identifier"] as? String == "elsewhere" }, "\(json)")
        _ = try root.svcunit("stop", uuid)
    }

    /// Another user's lines naming this service's unit (the same UUID in two users' stores; only
    /// root or `adm` can read them) stay out, while the service's own and the manager's come as
    /// usual. svcunit ties the user-unit fields to its user only when such lines exist (tying them
    /// costs a quarter of a long `logs -n`), so this is the case where the tie must be kept.
    @Test func anotherUsersLinesAboutTheSameUnitStayOut() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.svcunit("create", "command", "--name", "shared-uuid", "--", "/bin/sh", "-c", "echo own-line; exec sleep 300").stdout
            .trimmingCharacters(in: .newlines)
        #expect(try root.svcunit("start", uuid).status == 0)
        #expect(try Self.eventually { try root.svcunit("logs", uuid, "-o", "cat").stdout.contains("own-line") })
        // journald sets _UID from the sender's credentials; USER_UNIT is an ordinary field anyone can write.
        let forged = "forged-\(UUID().uuidString)"
        let entry = "USER_UNIT=svcunit-\(uuid).service\nMESSAGE=\(forged)\n"
        let written = try LiveSystemd.run("/bin/sh", ["-c", "printf '%s' \"$1\" | /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups -- /usr/bin/logger --journald", "sh", entry])
        #expect(written.status == 0)
        #expect(try Self.eventually {
            try LiveSystemd.run("/usr/bin/journalctl", ["USER_UNIT=svcunit-\(uuid).service", "_UID=65534", "-o", "cat", "--no-pager"]).output.contains(forged)
        }, "the other user's line is in the journal")

        let logs = try root.svcunit("logs", uuid, "-o", "cat")
        #expect(logs.status == 0, "\(logs.stderr)")
        #expect(!logs.stdout.contains(forged), "\(logs.stdout)")
        #expect(logs.stdout.contains("own-line"))
        #expect(logs.stdout.contains("Started svcunit-\(uuid).service"), "the manager's own lines still come: \(logs.stdout)")
        #expect(try !root.svcunit("logs", uuid, "-o", "cat", "-n", "50").stdout.contains(forged))
    }

    /// Two runs of one service: `--this-run` shows only the current run's lines (the service's and
    /// the manager's), and after the stop still that run's (the last). `--until` ends the range
    /// between the runs, with `-n` too; `-f --until` ends once that time has passed.
    @Test func thisRunAndUntilAcrossTwoRuns() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.svcunit("create", "command", "--name", "runs", "--",
                                    "/bin/sh", "-c", "echo \"run $INVOCATION_ID\"; exec sleep 300").stdout
            .trimmingCharacters(in: .newlines)
        func runLines() throws -> [String] {
            try root.svcunit("logs", "runs", "-o", "cat", "--service-only").lines.map(String.init).filter { $0.hasPrefix("run ") }
        }
        #expect(try root.svcunit("start", "runs").status == 0)
        let first = try LiveSystemd.show(uuid, "InvocationID")
        #expect(try Self.eventually { try runLines() == ["run \(first)"] })
        #expect(try root.svcunit("stop", "runs").status == 0)
        #expect(try root.svcunit("start", "runs").status == 0)
        let second = try LiveSystemd.show(uuid, "InvocationID")
        #expect(first != second && second.count == 32)
        #expect(try Self.eventually { try runLines() == ["run \(first)", "run \(second)"] })

        let thisRun = try root.svcunit("logs", "runs", "--this-run", "--service-only", "-o", "cat")
        #expect(thisRun.stdout == "run \(second)\n")
        let withManager = try root.svcunit("logs", "runs", "--this-run", "--json").jsonLines()
        #expect(withManager.allSatisfy { $0["invocation_id"] as? String == second }, "\(withManager)")
        #expect(withManager.contains { ($0["message"] as? String)?.hasPrefix("Started svcunit-\(uuid).service") == true && $0["source"] as? String == "manager" })
        #expect(withManager.filter { $0["source"] as? String == "service" }.map { $0["message"] as? String } == ["run \(second)"])

        #expect(try root.svcunit("stop", "runs").status == 0)
        let lastRun = try root.svcunit("logs", "runs", "--this-run", "-o", "cat")
        #expect(lastRun.stdout.contains("run \(second)") && !lastRun.stdout.contains("run \(first)"), "\(lastRun.stdout)")

        // --until: the time of the first run's line (µs, from --json) plus 1 ms.
        let all = try root.svcunit("logs", "runs", "--json", "--service-only").jsonLines()
        let firstLine = try #require(all.first { $0["message"] as? String == "run \(first)" })
        let until = try Self.unixSeconds(#require(firstLine["time"] as? String)) + 0.001
        let untilText = String(format: "%.6f", until)
        let bounded = try root.svcunit("logs", "runs", "--until", untilText, "-o", "cat", "--service-only")
        #expect(bounded.stdout == "run \(first)\n", "\(bounded.stderr)")
        // (--service-only: the manager may log "Started" just after the service's first line.)
        let lastBefore = try root.svcunit("logs", "runs", "--until", untilText, "-n", "1", "-o", "cat", "--service-only")
        #expect(lastBefore.stdout == "run \(first)\n")
        let afterwards = try root.svcunit("logs", "runs", "--since", untilText, "-o", "cat", "--service-only")
        #expect(afterwards.stdout == "run \(second)\n")
        let inverted = try root.svcunit("logs", "runs", "--since", "now", "--until", untilText)
        #expect(inverted.status == 2)
        // -f with an --until in the past prints the range and ends; one a second ahead ends too.
        let followPast = try root.svcunit("logs", "runs", "-f", "--until", untilText, "-o", "cat", "--service-only")
        #expect(followPast.status == 0)
        #expect(followPast.stdout == "run \(first)\n")
        let soon = String(format: "%.6f", Date().timeIntervalSince1970 + 1)
        let followSoon = try root.svcunit("logs", "runs", "-f", "--until", soon, "-o", "cat", "--service-only")
        #expect(followSoon.status == 0)
        #expect(followSoon.stdout.contains("run \(second)"))
    }

    /// `2026-11-30T03:34:42.619783Z` → seconds since the epoch, with the microseconds.
    static func unixSeconds(_ iso: String) throws -> Double {
        let parts = iso.dropLast().split(separator: ".")
        let formatter = ISO8601DateFormatter()
        let whole = try #require(formatter.date(from: String(parts[0]) + "Z"))
        return whole.timeIntervalSince1970 + (parts.count > 1 ? try #require(Double("0." + String(parts[1]))) : 0)
    }

    /// 5000 lines of 8 KB (40 MB of history): `logs` without -n writes its first lines while it
    /// still reads, and holds far less than the history (its anonymous RSS, read while it is
    /// blocked on a full pipe; about 12 MB in a debug build), then prints every line.
    @Test func aLongHistoryIsStreamed() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let count = 5000
        let create = try root.svcunit("create", "command", "--name", "long", "--", "/usr/bin/python3", "-c",
                                      "import time\nfor i in range(\(count)): print('x' * 8000, i, flush=True)\ntime.sleep(300)")
        #expect(create.status == 0)
        #expect(try root.svcunit("start", "long").status == 0)
        #expect(try Self.eventually(60) { try root.svcunit("logs", "long", "-n", "1", "-o", "cat").stdout.hasSuffix(" \(count - 1)\n") })

        let process = Process()
        process.executableURL = Run.binary
        process.arguments = ["logs", "long", "-o", "cat", "--service-only", "--root", root.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1"]) { _, new in new }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first bytes arrive while most of the history is unread; then the pipe fills and the
        // process waits for us: its peak RSS so far covers reading and printing batches.
        let head = out.fileHandleForReading.availableData
        #expect(!head.isEmpty)
        // Anonymous memory is what the process holds itself; the journal files it maps (RssFile)
        // are the kernel's page cache.
        var heldKiB = 0
        #expect(Self.eventually {
            let pid = process.processIdentifier
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            let blocked = tasks.contains { task in
                ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/wchan", encoding: .utf8)) ?? "").contains("pipe")
            }
            guard blocked, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
            heldKiB = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
            return true
        }, "the process blocks on the full pipe")
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: head + rest, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == count)
        #expect(lines.last?.hasSuffix(" \(count - 1)") == true)
        // Reading the whole history first would hold all of it (and more) at this point.
        let historyKiB = count * 8000 / 1024
        #expect(heldKiB > 0 && heldKiB < historyKiB / 2, "RssAnon \(heldKiB) KiB for a \(historyKiB) KiB history")
    }
}
