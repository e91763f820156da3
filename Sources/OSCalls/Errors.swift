// What swift-system's types carry in C terms, in Swift terms: an `Errno` from the code Foundation
// reports (`POSIXError.code`) and its text, a `Stat`'s modification time; so modules above OSCalls
// never import the C library themselves.
public import Glibc
public import SystemPackage

extension Stat {
    /// When the content last changed, in whole seconds since the epoch (`st_mtim.tv_sec`).
    public var modificationSeconds: Int64 { Int64(st_mtim.tv_sec) }
}

extension Errno {
    public init(_ code: POSIXErrorCode) { self.init(rawValue: code.rawValue) }

    /// The C library's text for it (`strerror`), e.g. "No such file or directory".
    public var text: String { String(cString: strerror(rawValue)) }
}
