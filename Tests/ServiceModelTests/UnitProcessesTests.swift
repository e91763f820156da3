import Foundation
@testable import ServiceModel
import Testing

/// How `svcunit stop` learns from the kernel that a unit's processes are gone (see `UnitProcesses`):
/// /proc and cgroup texts as Linux writes them, and the probe against real processes of this test.
@Suite("A unit's processes, read from the kernel")
struct UnitProcessesTests {
    static let unit = "/user.slice/user-1000.slice/user@1000.service/svcunit.slice/svcunit-x.service"

    @Test func theUnitsCgroupIsFoundOnTheUnifiedMount() {
        #expect(UnitProcesses.unifiedDirectory(for: Self.unit, mountInfo: OutOfMemoryTests.hybridMounts)
                == "/sys/fs/cgroup/unified\(Self.unit)")
        let v2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate"
        #expect(UnitProcesses.unifiedDirectory(for: Self.unit, mountInfo: v2) == "/sys/fs/cgroup\(Self.unit)")
        // Legacy v1 only: no unified hierarchy, so the probe cannot be made (the caller waits for systemd).
        let legacy = "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd"
        #expect(UnitProcesses.unifiedDirectory(for: Self.unit, mountInfo: legacy) == nil)
    }

    @Test func populatedIsReadFromCgroupEvents() {
        #expect(UnitProcesses.isPopulated("populated 1\nfrozen 0\n") == true)
        #expect(UnitProcesses.isPopulated("populated 0\nfrozen 0\n") == false)
        #expect(UnitProcesses.isPopulated("frozen 0\n") == nil)
        #expect(UnitProcesses.isPopulated("") == nil)
    }

    /// Field 3 (state), 22 (start time) and 52 (exit code) of a zombie, whose name holds ") (" and spaces.
    @Test func statFieldsAreCountedAfterTheLastParenthesis() throws {
        let fields = (3 ... 52).map { n -> String in
            switch n {
            case 3: return "Z"
            case 22: return "123456"
            case 52: return "15"
            default: return "0"
            }
        }
        let text = "4242 (we) (ird name) " + fields.joined(separator: " ") + "\n"
        let stat = try #require(UnitProcesses.parseStat(text))
        #expect(stat == UnitProcesses.Stat(state: "Z", startTime: 123456, exitCode: 15))
        // Kernels before 3.5 end at field 44: no exit code, so no end can be told.
        let old = "1 (x) " + fields.prefix(42).joined(separator: " ")
        let oldStat = try #require(UnitProcesses.parseStat(old))
        #expect(oldStat.exitCode == nil && oldStat.startTime == 123456)
        #expect(UnitProcesses.parseStat("garbage") == nil)
        #expect(UnitProcesses.parseStat("1 (x) R 0") == nil)
    }

    @Test func waitStatusesAreReadAsWaitidWould() {
        #expect(UnitProcesses.end(waitStatus: 0) == .exited(0))
        #expect(UnitProcesses.end(waitStatus: 7 << 8) == .exited(7))
        #expect(UnitProcesses.end(waitStatus: 15) == .killed(signal: 15))
        #expect(UnitProcesses.end(waitStatus: 9 | 0x80) == .killed(signal: 9))  // core dumped
        #expect(UnitProcesses.end(waitStatus: 0x137f) == nil)  // stopped by SIGSTOP: not an end
    }

    /// A real child of this process, ended by SIGKILL (the test runner's children may inherit an
    /// ignored or blocked SIGTERM) and not yet reaped (posix_spawn, no waitpid
    /// until the end), reads as a zombie with that signal in its stat and the start time it had
    /// while running. A probe for a cgroup that does not exist never reports an end.
    @Test func aRealZombieTellsHowItEnded() throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("300"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        let running = try #require(UnitProcesses.parseStat(try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)))
        #expect(running.state != "Z")
        kill(pid, SIGKILL)
        var seen: UnitProcesses.Stat?
        for _ in 0 ..< 2000 {
            if let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let stat = UnitProcesses.parseStat(text),
               stat.state == "Z" { seen = stat; break }
            usleep(500)
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let zombie = try #require(seen, "the child never read as a zombie")
        #expect(zombie.startTime == running.startTime)
        #expect(zombie.exitCode.flatMap(UnitProcesses.end(waitStatus:)) == .killed(signal: SIGKILL))
        #expect(zombie.exitCode == status, "the same wait status waitpid gives the parent")
        // Every supported host mounts a cgroup2 hierarchy (Debian 12's unified one, or a hybrid
        // layout's /sys/fs/cgroup/unified): a probe can be made, and a cgroup with no
        // cgroup.events tells nothing.
        let probe = try #require(UnitProcesses(controlGroup: "/svcunit-no-such.slice/x.service", mainPID: UInt32(getpid())))
        #expect(probe.end() == nil)
    }
}
