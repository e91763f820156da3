import Glibc
import OSCalls
import SystemPackage
import Testing

/// The thin wrappers of the C library, each against the kernel it wraps (no mocks).
@Suite struct OSCallsTests {
    @Test func calendarFieldsRoundTripAndRefuseDatesThatDoNotExist() {
        let parts = CalendarTime.utc(1_764_470_163)  // 2025-11-30 02:36:03 UTC
        #expect(parts == CalendarTime(year: 2025, month: 11, day: 30, hour: 2, minute: 36, second: 3))
        #expect(parts.secondsSinceEpoch(inLocalZone: false) == 1_764_470_163)
        #expect(CalendarTime(year: 2025, month: 2, day: 30, hour: 0, minute: 0, second: 0).secondsSinceEpoch(inLocalZone: false) == nil,
                "the C library would roll Feb 30 over to March 2")
        let local = CalendarTime.local(1_764_470_163)
        #expect(local.secondsSinceEpoch(inLocalZone: true) == 1_764_470_163)
    }

    /// A listing types its entries as the directory records them, skips `.` and `..`, and leaves
    /// the descriptor it was given open (a second listing gives the same); `Stat(name:in:)` is
    /// `lstat` inside that directory.
    @Test func directoryEntriesAreTypedAndTheDescriptorStaysOpen() throws {
        let root = try FileSystemCalls.makeTemporaryDirectory(prefix: "/tmp/svcunit-oscalls-")
        defer { _ = try? ChildProcessID.spawn(["/bin/rm", "-rf", root]).waitForExit() }
        try FileSystemCalls.makeDirectory(root + "/dir", permissions: .ownerReadWriteExecute)
        let file = try FileDescriptor.open(FilePath(root + "/file"), .writeOnly, options: [.create], permissions: .ownerReadWrite)
        try file.close()
        #expect(try ChildProcessID.spawn(["/bin/ln", "-s", "dir", root + "/link"]).waitForExit() == .exited(0))
        let directory = try FileDescriptor.open(FilePath(root), .readOnly, options: [.directory])
        defer { try? directory.close() }
        let entries = try directory.directoryEntries().sorted { $0.name < $1.name }
        #expect(entries.map(\.name) == ["dir", "file", "link"])
        // tmpfs and ext4 record types; a file system that does not says `unknown`.
        #expect(entries.map(\.kind) == [.directory, .regular, .symbolicLink] || entries.allSatisfy { $0.kind == .unknown })
        #expect(try directory.directoryEntries().count == 3, "the descriptor is still open and lists from the start")
        #expect(try Stat(name: "link", in: directory).type == .symbolicLink, "not followed")
        #expect(throws: Errno.noSuchFileOrDirectory) { try Stat(name: "missing", in: directory) }
    }

    @Test func aSpawnedChildReportsHowItEnded() throws {
        let seven = try ChildProcessID.spawn(["/bin/sh", "-c", "exit 7"])
        #expect(ProcessID(seven.rawValue).exists, "a child not yet reaped exists")
        #expect(seven.waitForExit() == .exited(7))
        let killed = try ChildProcessID.spawn(["/bin/sh", "-c", "kill -KILL $$"]).waitForExit()
        #expect(killed == .signaled(Signal.kill.rawValue) && killed.shellStatus == 128 + 9)
        // A child starts with nothing blocked, whatever the spawning thread blocks (the test
        // runner's threads block SIGTERM: without the reset this child exits 3).
        let terminated = try ChildProcessID.spawn(["/bin/sh", "-c", "kill -TERM $$; exit 3"]).waitForExit()
        #expect(terminated == .signaled(Signal.terminate.rawValue))
        #expect(throws: Errno.noSuchFileOrDirectory) { try ChildProcessID.spawn(["/nonexistent/program"]) }
    }

    /// A sibling is the child of this process's parent, never this process's: it gets the moved
    /// descriptor at its number, starts with no signal blocked, and an exec that fails is the
    /// call's error.
    @Test func aSiblingIsItsGrandparentsChildAndGetsTheMovedDescriptor() throws {
        let out = try FileDescriptor.pipe(options: .closeOnExec)
        let moved = try out.writeEnd.duplicate(atLeast: 10)
        out.writeEnd.closeQuietly()
        let sibling = try ProcessID.spawnSibling(["/bin/sh", "-c", "echo $PPID $$ >&3; kill -TERM $$; echo survived >&3"],
                                                 moving: (moved, 3))
        moved.closeQuietly()
        let text = String(decoding: try out.readEnd.readToEnd(), as: UTF8.self)
        out.readEnd.closeQuietly()
        let pids = text.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        #expect(pids.first == CurrentProcess.parentID, "its parent is this process's parent: \(text)")
        #expect(pids.dropFirst().first == sibling.rawValue)
        #expect(!text.contains("survived"), "SIGTERM, which the test runner's threads block, ends it")
        #expect(throws: Errno.noSuchFileOrDirectory) { try ProcessID.spawnSibling(["/nonexistent/program"]) }
    }

    @Test func theEnvironmentDictionaryIsWhatGetenvSeesNow() {
        setenv("SVCUNIT_TEST_ENV", "a=b=c ünïcode", 1)
        defer { unsetenv("SVCUNIT_TEST_ENV") }
        let environment = CurrentProcess.environmentVariables
        #expect(environment["SVCUNIT_TEST_ENV"] == "a=b=c ünïcode", "only the first = separates")
        #expect(CurrentProcess.environmentValue("SVCUNIT_TEST_ENV") == "a=b=c ünïcode")
        #expect(environment["PATH"] == CurrentProcess.environmentValue("PATH"))
        #expect(CurrentProcess.environmentValue("SVCUNIT_TEST_UNSET") == nil && environment["SVCUNIT_TEST_UNSET"] == nil)
        var count = 0
        var cursor = environ
        while cursor.pointee != nil { count += 1; cursor += 1 }
        #expect(environment.count <= count && environment.count > 0)
    }

    @Test func aChildGetsExactlyTheEnvironmentAndStreamsItIsGiven() throws {
        let out = try FileDescriptor.pipe(options: .closeOnExec)
        let child = try ChildProcessID.spawn(["/bin/sh", "-c", "printf '%s' \"$ONLY\"; env | wc -l"], environment: ["ONLY=this"],
                                             stdin: .nullDevice, stdout: .descriptor(out.writeEnd))
        out.writeEnd.closeQuietly()
        let text = String(decoding: try out.readEnd.readToEnd(), as: UTF8.self)
        out.readEnd.closeQuietly()
        #expect(child.waitForExit() == .exited(0))
        // sh adds PWD (and may add SHLVL and _): a handful of lines, not this process's environment.
        #expect(text.hasPrefix("this"))
        #expect((Int(text.dropFirst(4).filter(\.isNumber)) ?? 99) <= 4, "\(text)")
    }

    @Test func readingStopsAtItsLimitAndPollSeesReadiness() throws {
        let pipe = try FileDescriptor.pipe(options: .closeOnExec)
        defer { pipe.readEnd.closeQuietly() }
        #expect(try Poll.wait([pipe.readEnd], for: .input, milliseconds: 0).isEmpty, "nothing written yet")
        try pipe.writeEnd.writeAll(bytes: Array("0123456789".utf8))
        #expect(try Poll.wait([pipe.readEnd], for: .input, milliseconds: 0) == [0])
        pipe.writeEnd.closeQuietly()
        #expect(throws: Errno.fileTooLarge) { try pipe.readEnd.readToEnd(limit: 4) }
    }

    @Test func aLockIsExclusiveAcrossOpenFiles() throws {
        let path = "/tmp/oscalls-lock-\(CurrentProcess.id)"
        defer { FileSystemCalls.removeFile(path) }
        let first = try FileDescriptor.openNoFollow(path, .readWrite, options: [.create])
        defer { first.closeQuietly() }
        try first.lockExclusive()
        // Another open file description of the same file cannot take it meanwhile (flock -n says 1).
        let probe = try ChildProcessID.spawn(["/usr/bin/flock", "-n", path, "/bin/true"]).waitForExit()
        #expect(probe == .exited(1))
        first.unlock()
        #expect(try ChildProcessID.spawn(["/usr/bin/flock", "-n", path, "/bin/true"]).waitForExit() == .exited(0))
    }

    @Test func openNoFollowRefusesASymlink() throws {
        let link = "/tmp/oscalls-link-\(CurrentProcess.id)"
        FileSystemCalls.removeFile(link)
        #expect(try ChildProcessID.spawn(["/bin/ln", "-s", "/etc/hostname", link]).waitForExit() == .exited(0))
        defer { FileSystemCalls.removeFile(link) }
        #expect(throws: Errno.tooManySymbolicLinkLevels) { try FileDescriptor.openNoFollow(link, .readOnly) }
    }
}
