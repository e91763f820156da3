/// Path arithmetic on plain strings, for paths svcunit builds itself (no `URL` or `FilePath` made
/// for each).
public enum PathText {
    /// The directory part of `path`: "." for a bare name, "/" for a name in the root directory.
    public static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }
}
