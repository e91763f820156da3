import Foundation
import ServiceModel
import Testing

/// Where the kernel's OOM-kill counter of a unit's cgroup is found, from /proc texts as real machines
/// write them, and how a run record carries it.
@Suite("Out-of-memory kills")
struct OutOfMemoryTests {
    static let hybridCgroup = """
        9:name=systemd:/user.slice/user-1000.slice/user@1000.service/svcunit.slice/svcunit-x.service
        8:pids:/user.slice/user-1000.slice/user@1000.service/svcunit.slice/svcunit-x.service
        4:memory:/user.slice/user-1000.slice/user@1000.service/svcunit.slice/svcunit-x.service
        2:cpu,cpuacct:/user.slice
        0::/user.slice/user-1000.slice/user@1000.service/svcunit.slice/svcunit-x.service
        """
    static let hybridMounts = """
        22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
        27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
        31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
        32 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
        """
    static let unit = "/user.slice/user-1000.slice/user@1000.service/svcunit.slice/svcunit-x.service"

    @Test func hybridLayoutReadsTheV1MemoryHierarchyFirst() {
        #expect(OutOfMemoryKills.counterFiles(procCgroup: Self.hybridCgroup, mountInfo: Self.hybridMounts) == [
            "/sys/fs/cgroup/memory\(Self.unit)/memory.oom_control",
            "/sys/fs/cgroup/unified\(Self.unit)/memory.events",
        ])
    }

    @Test func unifiedLayoutReadsMemoryEvents() {
        let mounts = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"
        #expect(OutOfMemoryKills.counterFiles(procCgroup: "0::\(Self.unit)\n", mountInfo: mounts)
            == ["/sys/fs/cgroup\(Self.unit)/memory.events"])
    }

    /// A container that bind-mounts only its own subtree: the mount's root is stripped from the path,
    /// and a cgroup outside the mounted subtree has no file at all. The mount point is octal-escaped.
    @Test func bindMountedSubtreesAndEscapedMountPoints() {
        let mounts = """
            40 30 0:29 /machine.slice /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory
            41 30 0:26 /other.slice /sys/fs/cgroup/v2 rw - cgroup2 cgroup2 rw
            """
        let cgroup = "4:memory:/machine.slice/svcunit-x.service\n0::/machine.slice/svcunit-x.service\n"
        #expect(OutOfMemoryKills.counterFiles(procCgroup: cgroup, mountInfo: mounts)
            == ["/sys/fs/cgroup/my memory/svcunit-x.service/memory.oom_control"])
    }

    @Test func noMemoryControllerMeansNoFile() {
        let mounts = "27 25 0:25 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd"
        #expect(OutOfMemoryKills.counterFiles(procCgroup: "9:name=systemd:/a.service\n", mountInfo: mounts).isEmpty)
        #expect(OutOfMemoryKills.counterFiles(procCgroup: "", mountInfo: "").isEmpty)
        #expect(OutOfMemoryKills.counterFiles(procCgroup: "garbage", mountInfo: "1 2 3\n - -").isEmpty)
    }

    @Test func counterIsTheOOMKillLine() {
        #expect(OutOfMemoryKills.counter(in: "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3)
        #expect(OutOfMemoryKills.counter(in: "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n") == 1)
        #expect(OutOfMemoryKills.counter(in: "oom_kill_disable 0\nunder_oom 0\n") == nil, "kernels before 4.13 have no counter")
        #expect(OutOfMemoryKills.counter(in: "oom_kill -1\n") == nil)
        #expect(OutOfMemoryKills.counter(in: "") == nil)
    }

    /// The memory controller not delegated: the process's v1 memory group is some shared group (here
    /// the job runner's), whose count includes other processes' kills. It is never read.
    @Test func aSharedMemoryGroupIsNotTheUnits() {
        let cgroup = """
            9:name=systemd:/svcunit-sandbox-1.slice/user-0.slice/user@0.service/svcunit.slice/svcunit-x.service
            4:memory:/process_api/cbc360629445fc581644b986779a0cb7
            0::/svcunit-sandbox-1.slice/user-0.slice/user@0.service/svcunit.slice/svcunit-x.service
            """
        #expect(OutOfMemoryKills.counterFiles(procCgroup: cgroup, mountInfo: Self.hybridMounts)
            == ["/sys/fs/cgroup/unified/svcunit-sandbox-1.slice/user-0.slice/user@0.service/svcunit.slice/svcunit-x.service/memory.events"])
    }

    /// A mount point literally named "-" is not the separator of the optional fields.
    @Test func mountPointNamedDash() {
        let mounts = "31 25 0:29 / - rw,relatime shared:15 - cgroup cgroup rw,memory"
        #expect(OutOfMemoryKills.counterFiles(procCgroup: "9:name=systemd:/a.service\n4:memory:/a.service\n", mountInfo: mounts)
            == ["-/a.service/memory.oom_control"])
    }

    @Test func runRecordKeepsTheCountAndOnlyThenMentionsIt() throws {
        let oom = LastRun(unit: "svcunit-x.service", invocationID: nil, result: "signal", exit: "killed by signal KILL",
                          finishedAt: 1, oomKills: 2)
        #expect(oom.outOfMemory)
        #expect(oom.summary == "killed by the out-of-memory killer (its memory limit or the machine's memory ran out): killed by signal KILL")
        #expect(LastRun(json: oom.json) == oom)
        #expect(JSONText.format(oom.json).contains("\"oom_kills\": 2"))

        let plain = LastRun(unit: "svcunit-x.service", result: "signal", exit: "killed by signal KILL", finishedAt: 1)
        #expect(!plain.outOfMemory)
        #expect(plain.summary == "killed by signal KILL (signal)")
        #expect(!JSONText.format(plain.json).contains("oom_kills"), "records without a count keep their old shape")
        #expect(LastRun(json: plain.json) == plain)
        #expect(LastRun(unit: "u", result: "oom-kill").outOfMemory, "systemd's own verdict on cgroup v2")
        #expect(!LastRun(unit: "u", result: "timeout", exit: "killed by signal KILL", oomKills: 1).outOfMemory,
                 "a stop that timed out (SIGKILL after the stop timeout) is a timeout, whatever else was OOM-killed")

        guard case .object(var members) = oom.json else { Issue.record("not an object"); return }
        members["oom_kills"] = .string("lots")
        #expect(LastRun(json: .object(members))?.oomKills == nil, "a wrong type is ignored, not trusted")
    }
}
