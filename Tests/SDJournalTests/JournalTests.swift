import Foundation
import Testing
import SDJournal
import SystemdManager
import SystemdTestSupport

@Suite struct JournalMatchTests {
    @Test func fieldNamesAreValidated() throws {
        #expect(try JournalMatch(field: "_SYSTEMD_USER_UNIT", value: "a.service").description == "_SYSTEMD_USER_UNIT=a.service")
        for bad in ["", "lower", "1ABC", "A-B", String(repeating: "A", count: 65)] {
            do {
                _ = try JournalMatch(field: bad, value: "x")
                Issue.record("\(bad) accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains(bad.debugDescription))
            }
        }
    }

    @Test func entriesDecodeInvalidUTF8Lossily() {
        let entry = JournalEntry(cursor: "c", realtimeMicroseconds: 1, messageBytes: [0x68, 0xff, 0x69], priority: 6, pid: 1,
                                 syslogIdentifier: nil)
        #expect(entry.message == "h\u{FFFD}i")
        #expect(entry.messageBytes == [0x68, 0xff, 0x69])
    }
}

/// Reads back what a real unit wrote, through the real journald of the sandbox or session.
@Suite(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager and journald (run through scripts/test)"))
struct LiveJournalTests {
    /// The filter svcunit uses: the unit under either field, or its syslog identifier.
    func filter(_ unit: UnitName, tag: String) throws -> JournalFilter {
        JournalFilter(anyOf: [
            [try JournalMatch(field: "_SYSTEMD_USER_UNIT", value: unit.rawValue)],
            [try JournalMatch(field: "_SYSTEMD_UNIT", value: unit.rawValue)],
            [try JournalMatch(field: "SYSLOG_IDENTIFIER", value: tag)],
        ])
    }

    /// Reads forward until `count` entries arrived or the deadline passed, waiting on journal events.
    func readAtLeast(_ count: Int, from reader: JournalReader, within: Duration) async throws -> [JournalEntry] {
        let deadline = LiveSystemd.deadline(within)
        var out: [JournalEntry] = []
        while out.count < count {
            out += try await reader.readForward()
            if out.count >= count { break }
            if !(try await reader.waitForChanges(before: deadline)) { break }
        }
        return out
    }

    func runUnit(_ manager: SystemdManager, _ unit: UnitName, tag: String, script: String) async throws -> UnitStatus {
        let watch = try await manager.watchUnit(unit)
        _ = try await manager.startTransientUnit(unit, properties: [
            .execStart(argv: ["/bin/sh", "-c", script]), .syslogIdentifier(tag),
        ])
        return try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.isFinished && $0.hasRun }
    }

    @Test func tailReadsAUnitsLinesLikeJournalctl() async throws {
        try await ReloadGate.shared.withShared {
            let manager = try await LiveSystemd.manager()
            let unit = LiveSystemd.uniqueUnit("journal")
            let tag = "svcunit-test-\(UInt32.random(in: 0 ... .max))"
            try await LiveSystemd.withTransientUnit(unit, manager: manager) {
                let reader = try await JournalReader(extraFields: ["_SYSTEMD_USER_UNIT", "_SYSTEMD_UNIT", "__CURSOR"])
                try await reader.setFilter(try filter(unit, tag: tag))
                try await reader.seekToHead()
                let status = try await runUnit(manager, unit, tag: tag,
                                               script: "for i in 1 2 3 4 5; do echo line $i; done; printf 'bad \\377 byte\\n'; echo to-stderr >&2; sleep 0.2")
                #expect(status.result == .success)

                let entries = try await readAtLeast(7, from: reader, within: .seconds(10))
                let messages = entries.map(\.message)
                #expect(messages == ["line 1", "line 2", "line 3", "line 4", "line 5", "bad \u{FFFD} byte", "to-stderr"])
                #expect(entries[5].messageBytes.contains(0xff), "binary MESSAGE kept exactly")
                #expect(entries.allSatisfy { $0.syslogIdentifier == tag })
                #expect(entries.allSatisfy { $0.pid != nil && $0.realtimeMicroseconds > 0 && $0.priority != nil })
                #expect(Set(entries.compactMap(\.cursor)).count == entries.count, "a distinct cursor per entry when asked for")
                #expect(entries.allSatisfy { $0.priority == 6 }, "stdout and stderr share one stream at info level")
                // The process lived long enough for journald to attribute its stream to the unit.
                #expect(entries.contains { $0.field("_SYSTEMD_USER_UNIT") == unit.rawValue || $0.field("_SYSTEMD_UNIT") == unit.rawValue })

                // The last N, oldest first; position then sits on the newest.
                let tail = try await reader.tail(3)
                #expect(tail.map(\.message) == Array(messages.suffix(3)))
                #expect(try await reader.readForward().isEmpty)
                #expect(try await reader.tail(1).map(\.message) == ["to-stderr"])
                #expect(try await reader.tail(100).count == 7)

                // Positioned for the last N, read forward in batches: the same entries as `tail`,
                // also when N is all of them or more; exactly N are read, then the position is on the newest.
                for (n, batch) in [(3, 2), (7, 3), (8, 5), (100, 512)] {
                    let total = try await reader.positionBeforeLast(n)
                    #expect(total == min(n, 7))
                    var read: [String] = []
                    while read.count < total { read += try await reader.readForward(limit: min(batch, total - read.count)).map(\.message) }
                    #expect(read == Array(messages.suffix(n)), "last \(n) in batches of \(batch)")
                    #expect(try await reader.readForward().isEmpty)
                }
                // With --until's bound: the last two at or before line 5's time (lines written in the
                // same microsecond count as at that time).
                let atOrBefore = entries[4].realtimeMicroseconds
                let upTo = try await reader.positionBeforeLast(2, notAfter: atOrBefore)
                #expect(try await reader.readForward(limit: upTo).map(\.message)
                        == entries.filter { $0.realtimeMicroseconds <= atOrBefore }.suffix(2).map(\.message))

                // The witness sees the same lines.
                let witness = try LiveSystemd.journalctlLines(unit)
                for line in ["line 1", "line 5", "to-stderr"] { #expect(witness.contains(line), "journalctl lacks \(line)") }

                // A field's values in the files, whatever the filter; whether a filter matches at all.
                let identifiers = try await reader.uniqueValues(of: "SYSLOG_IDENTIFIER")
                #expect(identifiers.contains(tag) && !identifiers.contains(tag + "-none"))
                #expect(try await reader.hasEntries(matching: JournalFilter(anyOf: [[try JournalMatch(field: "SYSLOG_IDENTIFIER", value: tag)]])))
                #expect(try await !reader.hasEntries(matching: JournalFilter(anyOf: [[try JournalMatch(field: "SYSLOG_IDENTIFIER", value: tag + "-none")]])))
                // A filter's groups that match nothing are left out; with none matching, the filter stays whole.
                let present = [try JournalMatch(field: "SYSLOG_IDENTIFIER", value: tag)]
                let absent = [try JournalMatch(field: "SYSLOG_IDENTIFIER", value: tag + "-none")]
                #expect(try await reader.groupsWithEntries(of: JournalFilter(anyOf: [absent, present, absent])) == JournalFilter(anyOf: [present]))
                #expect(try await reader.groupsWithEntries(of: JournalFilter(anyOf: [absent])) == JournalFilter(anyOf: [absent]))
            }
        }
    }

    @Test func followWakesOnNewLinesAndCancelsPromptly() async throws {
        let manager = try await LiveSystemd.manager()
        let unit = LiveSystemd.uniqueUnit("follow")
        let tag = "svcunit-test-\(UInt32.random(in: 0 ... .max))"
        try await LiveSystemd.withTransientUnit(unit, manager: manager) {
            let reader = try await JournalReader()
            try await reader.setFilter(try filter(unit, tag: tag))
            #expect(try await reader.tail(0).isEmpty)

            _ = try await manager.startTransientUnit(unit, properties: [
                // No `;` in the script: systemd 252 re-reads a transient unit created just before a concurrent
                // daemon-reload from its file, where `\;` does not round-trip (seen: sh ran "echo first\; …").
                .execStart(argv: ["/bin/sh", "-c", "echo first && sleep 30 && echo never"]), .syslogIdentifier(tag),
            ])
            var got: [JournalEntry] = []
            let deadline = LiveSystemd.deadline(.seconds(10))
            while !got.contains(where: { $0.message == "first" }), ContinuousClock.now < deadline {
                got += try await readAtLeast(1, from: reader, within: .seconds(1))
            }
            // The unit's own stream (the manager may log about the unit too).
            #expect(got.filter { $0.syslogIdentifier == tag }.map(\.message) == ["first"])

            // Nothing more comes: a wait with a deadline returns false, and a cancelled wait returns at once.
            _ = try await reader.waitForChanges(before: LiveSystemd.deadline(.milliseconds(50)))
            #expect(try await reader.readForward().isEmpty)
            // The deadline is an hour away: the wait can only have returned because it was cancelled.
            let farDeadline = LiveSystemd.deadline(.seconds(3600))
            let task = Task { try await reader.waitForChanges(before: farDeadline) }
            try await Task.sleep(for: .milliseconds(20))
            task.cancel()
            _ = try await task.value
            #expect(ContinuousClock.now < farDeadline, "cancel ended the wait")
        }
    }

    @Test func argvReachesTheProcessVerbatim() async throws {
        try await ReloadGate.shared.withShared {
            let manager = try await LiveSystemd.manager()
            let unit = LiveSystemd.uniqueUnit("argv")
            let tag = "svcunit-test-\(UInt32.random(in: 0 ... .max))"
            try await LiveSystemd.withTransientUnit(unit, manager: manager) {
                let reader = try await JournalReader()
                try await reader.setFilter(try filter(unit, tag: tag))
                #expect(try await reader.tail(0).isEmpty)
                let watch = try await manager.watchUnit(unit)
                _ = try await manager.startTransientUnit(unit, properties: [
                    .execStart(argv: ["/bin/echo", "$HOME", "${USER}", "a$$b", "$(id)", "two words", "'q'"]), .syslogIdentifier(tag),
                ])
                _ = try await watch.wait(before: LiveSystemd.deadline(.seconds(10))) { $0.isFinished && $0.hasRun }
                let lines = try await readAtLeast(1, from: reader, within: .seconds(10)).map(\.message)
                #expect(lines == ["$HOME ${USER} a$$b $(id) two words 'q'"])
            }
        }
    }

    @Test func seekingToATimeSkipsOlderEntries() async throws {
        try await ReloadGate.shared.withShared {
            let manager = try await LiveSystemd.manager()
            let unit = LiveSystemd.uniqueUnit("since")
            let tag = "svcunit-test-\(UInt32.random(in: 0 ... .max))"
            try await LiveSystemd.withTransientUnit(unit, manager: manager) {
                let reader = try await JournalReader()
                try await reader.setFilter(try filter(unit, tag: tag))
                _ = try await runUnit(manager, unit, tag: tag, script: "echo old")
                try await reader.seekToHead()
                _ = try await readAtLeast(1, from: reader, within: .seconds(10))
                let cut = UInt64(Date().timeIntervalSince1970 * 1_000_000) + 1
                // A clean exit is garbage-collected at once, so the same name can run again.
                _ = try await runUnit(manager, unit, tag: tag, script: "echo new")
                try await reader.seek(toRealtime: cut)
                let after = try await readAtLeast(1, from: reader, within: .seconds(10))
                #expect(after.map(\.message) == ["new"])
            }
        }
    }
}
