/// One line of `/proc/self/mountinfo` (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS…] -
/// FSTYPE SOURCE SUPEROPTS`.
struct Mount {
    var root: String
    var mountPoint: String
    var type: String
    var superOptions: [Substring]

    init?(_ line: Substring) {
        let fields = line.split(separator: " ")
        // Six fixed fields, optional tags, then "-": a mount point named "-" is field 4, not the separator.
        guard fields.count >= 10, let dash = fields[6...].firstIndex(of: "-"), fields.count >= dash + 4 else { return nil }
        root = Self.unescape(fields[3])
        mountPoint = Self.unescape(fields[4])
        type = String(fields[dash + 1])
        superOptions = fields[dash + 3].split(separator: ",")
    }

    /// Where a cgroup `path` (as `/proc/self/cgroup` names it) appears under this mount, when it
    /// is inside the mounted subtree.
    func directory(for path: String) -> String? {
        let base = mountPoint == "/" ? "" : mountPoint
        if root == "/" { return base + (path == "/" ? "" : path) }
        if path == root { return mountPoint }
        guard path.hasPrefix(root + "/") else { return nil }
        return base + path.dropFirst(root.count)
    }

    /// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var scalars = Array(field.utf8)[...]
        while let byte = scalars.popFirst() {
            if byte == UInt8(ascii: "\\"), scalars.count >= 3,
               let value = UInt8(String(decoding: scalars.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                scalars = scalars.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Mount {
    /// Every parseable line of `/proc/self/mountinfo` text.
    static func all(in mountInfo: String) -> [Mount] { mountInfo.split(separator: "\n").compactMap(Mount.init) }
}
