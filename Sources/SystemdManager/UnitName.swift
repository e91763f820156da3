public import SDBus

/// A systemd unit name such as `svcunit-1b4e28ba-2fa1-11d2-883f-0016d3cca427.service`.
///
/// Validated on creation with systemd's rules (`unit_name_is_valid`): a prefix of
/// `[A-Za-z0-9:_.\-\\]`, at most one `@` (template or instance), a known type suffix, and at most 255
/// bytes. Not obvious: a valid name may still need escaping in an object path; `objectPath` does that
/// the way `sd_bus_path_encode` does, so no D-Bus round trip (`GetUnit`) is needed to find the object.
public struct UnitName: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// The unit types systemd knows (`.service`, `.slice`, …).
    public static let knownTypes: Set<String> = [
        "service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope",
    ]

    public init?(rawValue: String) {
        guard (try? UnitName.validate(rawValue)) != nil else { return nil }
        self.rawValue = rawValue
    }

    /// - Throws: `SystemdError` with code `.invalidUnitName` and the reason.
    public init(validating rawValue: String) throws(SystemdError) {
        try UnitName.validate(rawValue)
        self.rawValue = rawValue
    }

    private static func validate(_ s: String) throws(SystemdError) {
        func fail(_ why: String) -> SystemdError {
            SystemdError(code: .invalidUnitName, message: "invalid unit name \(s.debugDescription): \(why)")
        }
        let bytes = Array(s.utf8)
        guard !bytes.isEmpty else { throw fail("it is empty") }
        guard bytes.count <= 255 else { throw fail("it is longer than 255 bytes") }
        guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")), dot > 0 else { throw fail("it has no type suffix") }
        let suffix = String(decoding: bytes[(dot + 1)...], as: UTF8.self)
        guard knownTypes.contains(suffix) else { throw fail("unknown unit type \(suffix.debugDescription)") }
        var ats = 0
        for b in bytes[..<dot] {
            if b == UInt8(ascii: "@") { ats += 1; continue }
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ":") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "\\")
            guard ok else { throw fail("character \(Character(Unicode.Scalar(b)).debugDescription) is not allowed") }
        }
        guard ats <= 1 else { throw fail("more than one '@'") }
        if ats == 1, bytes.first == UInt8(ascii: "@") { throw fail("it starts with '@'") }
    }

    /// The type suffix, e.g. `service`.
    public var unitType: String {
        String(rawValue[rawValue.index(after: rawValue.lastIndex(of: ".")!)...])
    }

    /// `/org/freedesktop/systemd1/unit/<escaped name>`, as `sd_bus_path_encode` builds it.
    public var objectPath: ObjectPath {
        ObjectPath(prefix: "/org/freedesktop/systemd1/unit", escaping: rawValue)
    }

    public var description: String { rawValue }

    public static func < (a: UnitName, b: UnitName) -> Bool { a.rawValue < b.rawValue }
}
