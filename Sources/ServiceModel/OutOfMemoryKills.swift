internal import FoundationEssentials

/// How many processes the kernel's out-of-memory killer has killed in the memory cgroup the calling
/// process runs in: the evidence that a service ran out of memory (its `MemoryMax=`, or the machine's).
///
/// The entrypoint's `--record-exit` (an `ExecStopPost=`, which runs inside the unit's cgroup) reads it
/// when the main process died of SIGKILL. Not obvious: systemd reports `Result=oom-kill` only on the
/// unified hierarchy (it watches `memory.events`); on a hybrid or legacy cgroup v1 host the limit is still
/// enforced (as `memory.limit_in_bytes`) but the unit just ends with `Result=signal`, so without this
/// count an out-of-memory kill reads like someone's `kill -9`. The counter lives as long as the cgroup.
/// systemd 252 removes a unit's cgroup between runs, auto-restarts included (a live test holds it to
/// that), so the count covers the run that just ended. A memory cgroup that is not the unit's own (the
/// controller not delegated: the process sits in some shared group) is never read, since kills of
/// other processes there would be counted.
public enum OutOfMemoryKills {
    /// The count for this process's own memory cgroup; nil when no memory controller serves it
    /// (then nothing can be said, which is different from zero).
    public static func inOwnCgroup() -> Int? {
        guard let cgroups = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for file in counterFiles(procCgroup: cgroups, mountInfo: mounts) {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let count = counter(in: text) {
                return count
            }
        }
        return nil
    }

    /// The files that may hold the counter, best first: cgroup v1's `memory.oom_control` in the
    /// `memory` hierarchy, then cgroup v2's `memory.events` (present only where the memory controller
    /// is enabled for the cgroup).
    ///
    /// - Parameters:
    ///   - procCgroup: the text of `/proc/self/cgroup` (`ID:CONTROLLERS:PATH` lines).
    ///   - mountInfo: the text of `/proc/self/mountinfo`, to find where each hierarchy is mounted.
    public static func counterFiles(procCgroup: String, mountInfo: String) -> [String] {
        var v1Path: String?, v2Path: String?, systemdPath: String?
        for line in procCgroup.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty { v2Path = String(parts[2]) }
            if parts[1] == "name=systemd" { systemdPath = String(parts[2]) }
            if parts[1].split(separator: ",").contains("memory") { v1Path = String(parts[2]) }
        }
        // systemd puts a unit at the same path in every hierarchy it manages; a v1 memory group
        // elsewhere is a shared one (see the type's comment).
        if let path = v1Path, path != systemdPath, path != v2Path { v1Path = nil }
        var v1Files: [String] = [], v2Files: [String] = []
        for mount in Mount.all(in: mountInfo) {
            if mount.type == "cgroup", mount.superOptions.contains("memory"), let path = v1Path,
               let dir = mount.directory(for: path) {
                v1Files.append(dir + "/memory.oom_control")
            } else if mount.type == "cgroup2", let path = v2Path, let dir = mount.directory(for: path) {
                v2Files.append(dir + "/memory.events")
            }
        }
        return v1Files + v2Files
    }

    /// The number on the `oom_kill N` line of `memory.oom_control` (v1) or `memory.events` (v2).
    public static func counter(in text: String) -> Int? {
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2, words[0] == "oom_kill", let n = Int(words[1]), n >= 0 { return n }
        }
        return nil
    }
}
