// What swift-system's types carry in C terms, in Swift terms: an `Errno` from the code Foundation
// reports (`POSIXError.code`) and its text, a `Stat`'s modification time; so modules above OSCalls
// never import the C library themselves.
public import Glibc
public import SystemPackage

extension Stat {
    /// When the content last changed, in nanoseconds since the epoch (`st_mtim`).
    public var modificationNanoseconds: Int64 { Int64(st_mtim.tv_sec) * 1_000_000_000 + Int64(st_mtim.tv_nsec) }
    /// When the inode last changed (content, name, mode or owner), in nanoseconds since the epoch
    /// (`st_ctim`). Not obvious: no call can set it back, unlike the modification time (`touch -d`).
    public var statusChangeNanoseconds: Int64 { Int64(st_ctim.tv_sec) * 1_000_000_000 + Int64(st_ctim.tv_nsec) }
}

extension Errno {
    public init(_ code: POSIXErrorCode) { self.init(rawValue: code.rawValue) }

    /// The C library's text for it (`strerror`), e.g. "No such file or directory".
    public var text: String { String(cString: strerror(rawValue)) }
}
