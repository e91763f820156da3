import Foundation
import SystemdManager
import SystemdProvisioning
import SystemdTestSupport
import Testing

/// Issue 16, cases 1, 3, 5 and 7: a unit belongs to one store, waits end when the manager goes,
/// every running unit can be found and stopped, and a stop that stopped says so. Plus exit 130.
@Suite("issue 16: store identity, lost manager, orphans, half-done stops", .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct StoreIdentityTests {
    /// Runs `body` with two fresh stores.
    func withTwoStores(_ body: (Store, Store) async throws -> Void) async throws {
        try await withStore { a in try await withStore { b in try await body(a, b) } }
    }

    /// 16.1: the same document in stores A and B names one unit. Whatever runs it, the other store
    /// refuses to adopt it (start), report it (status), stop, restart or delete it, in one line
    /// naming the file the unit runs; `list` shows its row as foreign. Then the roles swap.
    @Test func aUnitBelongsToOneStore() async throws {
        try await live { try await withTwoStores { a, b in
            let m = marker()
            let uuid = try await a.create(["--name", "twin"], ["/bin/sleep", m])
            #expect(try await b.svcunit("register", a.file(uuid)).status == 0)
            #expect(try await a.svcunit("start", uuid).status == 0)
            #expect(Witness.processes(m).count == 1)

            for command in [["start"], ["status"], ["stop"], ["stop", "--force"], ["restart"], ["delete", "--force"]] {
                let run = try await CLI.run(["--root", b.path] + command + [uuid])
                #expect(run.status == 1, "B \(command): \(run)")
                expectOneErrorLine(run, "B \(command)")
                #expect(run.stderr.contains(a.file(uuid)), "names the file the unit runs: \(command) \(run)")
                #expect(Witness.processes(m).count == 1, "A's process runs on after B \(command)")
            }
            #expect(FileManager.default.fileExists(atPath: b.file(uuid)), "B's entry is kept")
            let listB = try await b.svcunit("list", "--json")
            let rowB = try #require((try JSONSerialization.jsonObject(with: Data(listB.stdout.utf8)) as? [[String: Any]])?.first)
            #expect(rowB["state"] as? String == "foreign", "\(listB)")
            #expect((rowB["error"] as? String)?.contains(a.file(uuid)) == true, "\(listB)")
            #expect(try await a.status(uuid)["state"] as? String == "active")

            // Roles swapped: B runs it, A refuses.
            #expect(try await a.svcunit("stop", uuid).status == 0)
            #expect(Witness.processes(m).isEmpty)
            #expect(try await b.svcunit("start", uuid).status == 0)
            let deleteA = try await a.svcunit("delete", "--force", uuid)
            #expect(deleteA.status == 1 && deleteA.stderr.contains(b.file(uuid)), "\(deleteA)")
            #expect(Witness.processes(m).count == 1, "B's process survives A's delete --force")
            #expect(try await b.svcunit("stop", uuid).status == 0)
        } }
    }

    /// 16.1 across concurrent processes: `start` in A and in B at the same moment. One of them runs
    /// the unit; the other refuses naming the winner's file; never both "started", one process.
    @Test func concurrentStartsFromTwoStoresRunOneAndRefuseTheOther() async throws {
        try await live { try await withTwoStores { a, b in
            for round in 0 ..< 3 {
                let m = marker()
                let uuid = try await a.create(["--name", "race-\(round)"], ["/bin/sleep", m])
                #expect(try await b.svcunit("register", a.file(uuid)).status == 0)
                let fromA = try a.spawn("start", uuid, "--timeout", "60")
                let fromB = try b.spawn("start", uuid, "--timeout", "60")
                let (runA, runB) = (await fromA.wait(), await fromB.wait())
                #expect([runA.status, runB.status].sorted() == [0, 1], "A: \(runA) B: \(runB)")
                let (winner, loser, loserRun) = runA.status == 0 ? (a, b, runB) : (b, a, runA)
                #expect(loserRun.stderr.contains(winner.file(uuid)), "\(loserRun)")
                #expect(Witness.processes(m).count == 1, "one process: \(Witness.processes(m))")
                #expect(try await loser.svcunit("status", uuid).status == 1)
                #expect(try await winner.svcunit("stop", uuid).status == 0)
                #expect(Witness.processes(m).isEmpty)
            }
        } }
    }

    /// 16.1: what a template instance runs is found through its environment (`${SVCUNIT_ROOT}`).
    @Test func theDocumentOfAUnitIsReadFromItsExecStart() {
        let uuid = "d761e1eb-2c4f-4e7e-9a39-111111111111"
        let template = [ExecCommand(path: "/usr/bin/svcunit",
                                    argv: ["/usr/bin/svcunit", "entrypoint", "--notify", "--config-file", "${SVCUNIT_ROOT}/\(uuid)/service.json"])]
        #expect(UnitOwnership.documentFile(execStart: template, environment: ["SVCUNIT_ROOT=/srv/a b"]) == "/srv/a b/\(uuid)/service.json")
        #expect(UnitOwnership.of(execStart: template, environment: ["SVCUNIT_ROOT=/srv/a"], ownFile: "/srv/a/\(uuid)/service.json") == .ours)
        #expect(UnitOwnership.of(execStart: template, environment: ["SVCUNIT_ROOT=/srv/b"], ownFile: "/srv/a/\(uuid)/service.json")
            == .otherFile("/srv/b/\(uuid)/service.json"))
        let python = [ExecCommand(path: "/venv/bin/python", argv: ["/venv/bin/python", "-u", "/usr/lib/svcunit/r.py", "run", "--config-file", "/s/\(uuid)/service.json"])]
        #expect(UnitOwnership.of(execStart: python, environment: [], ownFile: "/s/\(uuid)/service.json") == .ours)
        #expect(UnitOwnership.of(execStart: [ExecCommand(path: "/bin/sleep", argv: ["/bin/sleep", "9"])], environment: [], ownFile: "/x")
            == .notSvcunit(["/bin/sleep", "9"]))
        #expect(ExecCommand.expanding("a$$b$X${Y}", environment: ["X=1", "Y=2"]) == "a$b12")
    }

    /// 16.5: units whose document is broken, holds another UUID or is gone are listed as orphaned
    /// (with the reason) and stopped by their full UUID: `stop`, `stop --force`, `delete --force`.
    @Test func orphanedUnitsAreListedAndStoppedByUUID() async throws {
        try await live { try await withStore { store in
            let markers = [marker(), marker(), marker()]
            var uuids: [String] = []
            for m in markers { uuids.append(try await store.create(["--name", "orphan-\(uuids.count)"], ["/bin/sleep", m])) }
            #expect(try await CLI.run(["--root", store.path, "start"] + uuids).status == 0)
            try Data("{\"uuid\": ".utf8).write(to: URL(fileURLWithPath: store.file(uuids[0])))
            var foreign = try store.document(uuids[1])
            foreign["uuid"] = UUID().uuidString.lowercased()
            try JSONSerialization.data(withJSONObject: foreign).write(to: URL(fileURLWithPath: store.file(uuids[1])))
            try FileManager.default.removeItem(atPath: "\(store.path)/\(uuids[2])")

            let list = try await store.svcunit("list", "--json")
            #expect(list.status == 0, "\(list)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            for uuid in uuids {
                let row = rows.first { $0["uuid"] as? String == uuid }
                #expect(row?["state"] as? String == "orphaned", "\(uuid): \(rows)")
                #expect(row?["unit"] as? String == Witness.unit(uuid), "\(rows)")
                #expect((row?["error"] as? String)?.contains("svcunit stop \(uuid)") == true, "\(rows)")
            }
            let reasons = uuids.map { uuid in rows.first { $0["uuid"] as? String == uuid }?["error"] as? String ?? "" }
            #expect(reasons[1].contains("holds service"), "\(reasons)")
            #expect(reasons[2].contains("missing"), "\(reasons)")
            let text = try await store.svcunit("list")
            #expect(text.stdout.components(separatedBy: "orphaned").count - 1 == 3, "\(text)")

            let stop = try await store.svcunit("stop", uuids[0])
            #expect(stop.status == 0 && stop.stdout.contains("stopped unit"), "\(stop)")
            let force = try await store.svcunit("stop", "--force", uuids[1])
            #expect(force.status == 0, "\(force)")
            let delete = try await store.svcunit("delete", "--force", uuids[2])
            #expect(delete.status == 0, "\(delete)")
            for (uuid, m) in zip(uuids, markers) {
                #expect(await Witness.units(uuid).isEmpty, "\(uuid) unit gone")
                #expect(Witness.processes(m).isEmpty, "\(uuid) process gone")
            }
            // With nothing running any more, a missing document is "no service" again.
            #expect(try await store.svcunit("stop", uuids[2]).status == 3)
        } }
    }

    /// 16.7: the unit stops but the store is read-only for this `stop` (a read-only bind mount in
    /// the CLI's own mount namespace): the first line says the service *is* stopped and what could
    /// not be recorded; exit 1 (README's rule). Needs root for the mount namespace.
    @Test(.enabled(if: getuid() == 0, "needs root for a private read-only mount"))
    func aStopThatStoppedOnAReadOnlyStoreSaysSo() async throws {
        try await live { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "halfdone"], ["/bin/sleep", m])
            #expect(try await store.svcunit("start", uuid).status == 0)
            let before = try Data(contentsOf: URL(fileURLWithPath: store.file(uuid)))
            let script = "mount --bind \"$1\" \"$1\" && mount -o remount,ro,bind \"$1\" && shift && exec \"$@\""
            let run = try await CLI.run(["--mount", "--propagation", "private", "/bin/bash", "-c", script, "ro",
                                         store.path, CLI.binary, "--root", store.path, "stop", uuid],
                                        environment: [:], removing: [], executable: "/usr/bin/unshare")
            #expect(run.status == 1, "\(run)")
            expectOneErrorLine(run)
            #expect(run.stderr.contains("is stopped") && run.stderr.contains("could not record"), "\(run)")
            #expect(run.stderr.contains("Read-only file system"), "names why: \(run)")
            #expect(Witness.processes(m).isEmpty, "the service is stopped")
            #expect(await Witness.units(uuid).isEmpty)
            // The CLI wrote nothing (its view was read-only); the unit's own ExecStopPost may have.
            #expect(try store.document(uuid)["uuid"] as? String == uuid)
            _ = before
            // Run again with a writable store: it records the stop.
            #expect(try await store.svcunit("stop", uuid).status == 0)
            #expect(try store.document(uuid)["admin_state"] as? String == "inactive")
        } }
    }

    /// A start whose document cannot be written (the store's file system is full, a small tmpfs over
    /// the store in the CLI's own mount namespace): `start` writes the document after asking for the
    /// unit, so it stops the unit it started again; one error line naming the cause, and nothing runs.
    /// Needs root for the mount namespace.
    @Test(.enabled(if: getuid() == 0, "needs root for a private mount"))
    func aStartThatCannotWriteItsDocumentStartsNothing() async throws {
        try await live { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "full"], ["/bin/sleep", m])
            let script = """
                copy=$(mktemp -d) && cp -a "$1"/. "$copy"/ && mount -t tmpfs -o size=256k tmpfs "$1" && cp -a "$copy"/. "$1"/ \
                && rm -rf "$copy" && { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null; true; } && shift && exec "$@"
                """
            let run = try await CLI.run(["--mount", "--propagation", "private", "/bin/bash", "-c", script, "full",
                                         store.path, CLI.binary, "--root", store.path, "start", uuid, "--timeout", "60"],
                                        environment: [:], removing: [], executable: "/usr/bin/unshare")
            #expect(run.status != 0, "\(run)")
            expectOneErrorLine(run)
            #expect(run.stderr.contains("No space left on device"), "names why: \(run)")
            #expect(!run.stdout.contains("started"), "\(run)")
            #expect(await waitUntil(.seconds(30)) { Witness.processes(m).isEmpty }, "the unit it started was stopped again")
            #expect(await waitUntil(.seconds(30)) { await Witness.units(uuid).isEmpty })
            // With room on the disk, the same start works.
            #expect(try await store.svcunit("start", uuid).status == 0)
            #expect(Witness.processes(m).count == 1)
            #expect(try await store.svcunit("stop", uuid).status == 0)
        } }
    }

    /// Exit-code table: Ctrl-C (SIGINT) during a wait is exit 130 with one line, not death by signal.
    @Test func ctrlCIsExit130() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "never-healthy", "--protocol", "tcp", "--port", String(freePort())], ["/bin/sleep", m])
            let cli = try store.spawn("start", uuid, "--timeout", "120")
            #expect(await waitUntil(.seconds(30)) { await Witness.show(uuid, "ActiveState") == "active" })
            cli.kill(SIGINT)
            let run = await cli.wait()
            #expect(!run.signaled && run.status == 130, "\(run)")
            #expect(run.stderr.contains("svcunit: error: interrupted"), "\(run)")
        } }
    }

    /// 16.3: the user manager is SIGKILLed while `start` waits for health, `restart` waits for a stop
    /// job and `logs -f --until-stopped` follows: each ends with exit 6 and a line about the user
    /// manager, not at its --timeout (120 s) with exit 4. In a nested sandbox of its own (its manager
    /// is found by executable and mount namespace), so the shared manager is untouched.
    @Test func waitsEndWhenTheManagerGoes() async throws {
        let script = """
        set -u
        S=$1 PORT=$2
        R=$(mktemp -d)
        myns=$(readlink /proc/self/ns/mnt)
        state() { systemctl --user show "svcunit-$1.service" -p "$2" --value 2>/dev/null; }
        until_state() { for i in $(seq 1200); do [[ $(state "$1" "$2") == "$3" ]] && return 0; sleep 0.05; done; echo "NEVER $1 $2=$3"; exit 98; }
        H=$("$S" --root "$R" create command --name hang --protocol tcp --port "$PORT" -- /bin/sleep 3001)
        T=$("$S" --root "$R" create command --name stubborn --stop-timeout 300 -- /usr/bin/python3 -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3002)')
        L=$("$S" --root "$R" create command --name follow -- /bin/sleep 3003)
        "$S" --root "$R" start "$T" "$L" >/dev/null || { echo "START-FAILED"; exit 97; }
        tpid=$(state "$T" MainPID)
        # Python must ignore SIGTERM before the restart sends it (else the restart just succeeds).
        ign=
        for i in $(seq 2400); do (( 0x$(awk '/^SigIgn/{print $2}' /proc/$tpid/status) & 0x4000 )) && { ign=1; break; }; sleep 0.05; done
        [[ -n $ign ]] || { echo "NO-SIGIGN"; exit 96; }
        "$S" --root "$R" start "$H" --timeout 120 >/dev/null 2>"$R/start.err" & sp=$!
        "$S" --root "$R" restart "$T" --timeout 120 >/dev/null 2>"$R/restart.err" & rp=$!
        "$S" --root "$R" logs "$L" -f --until-stopped >/dev/null 2>"$R/logs.err" & lp=$!
        until_state "$H" ActiveState active
        until_state "$T" ActiveState deactivating
        sleep 0.5  # logs has subscribed (no state to wait for; a late subscriber fails at connect, also exit 6)
        mpid=
        for p in /proc/[0-9]*; do
          if [[ $(readlink $p/exe 2>/dev/null) == /usr/lib/systemd/systemd && $(readlink $p/ns/mnt 2>/dev/null) == "$myns" ]] \\
             && tr '\\0' ' ' <$p/cmdline | grep -q -- --user; then mpid=${p#/proc/}; fi
        done
        [[ -n $mpid ]] || { echo "NO-MANAGER"; exit 99; }
        kill -KILL "$mpid"
        wait $sp; echo "start rc=$? err=$(tr '\\n' ' ' <"$R/start.err")"
        wait $rp; echo "restart rc=$? err=$(tr '\\n' ' ' <"$R/restart.err")"
        wait $lp; echo "logs rc=$? err=$(tr '\\n' ' ' <"$R/logs.err")"
        rm -rf "$R"
        """
        let run = try await CLI.inNestedSandbox(script, name: "lost-manager", arguments: [String(freePort())])
        #expect(run.status == 0, "nested sandbox: \(run)")
        for step in ["start", "restart", "logs"] {
            let line = run.lines.first { $0.hasPrefix(step + " ") }.map(String.init) ?? "missing"
            #expect(line.hasPrefix("\(step) rc=6 "), "\(step): \(line) \(run)")
            #expect(line.contains("svcunit: error:") && line.contains("user manager"), "\(step): \(line)")
        }
    }
}
