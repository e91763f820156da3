/// A TCP port number, 1…65535.
///
/// Not obvious: port 0 ("let the kernel choose") is rejected; ZenML treats 0 as "no port", and a
/// stored 0 would later be probed and shown as a real port, so svcunit uses `nil` for "no port".
public struct TCPPort: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16

    /// `nil` for 0.
    public init?(rawValue: UInt16) {
        guard rawValue != 0 else { return nil }
        self.rawValue = rawValue
    }

    /// `nil` outside 1…65535.
    public init?(_ value: Int) {
        guard (1...65535).contains(value) else { return nil }
        rawValue = UInt16(value)
    }

    public var value: Int { Int(rawValue) }
    public var description: String { String(rawValue) }
    public static func < (lhs: TCPPort, rhs: TCPPort) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension FieldReader {
    /// Reads an optional port, rejecting 0, negative numbers and numbers above 65535 with an error naming the field.
    public mutating func optionalPort(_ key: String) throws(ServiceModelError) -> TCPPort? {
        guard let number = try optionalInt(key) else { return nil }
        guard let port = TCPPort(Int(clamping: number)) else {
            throw invalid(key, "is \(number), expected a TCP port between 1 and 65535")
        }
        return port
    }
}
