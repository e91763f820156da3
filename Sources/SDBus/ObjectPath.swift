/// A D-Bus object path such as `/org/freedesktop/systemd1/unit/foo_2eservice`.
///
/// Validated on creation with the D-Bus rules: it starts with `/`, its elements are non-empty runs of
/// `[A-Za-z0-9_]`, and only the root path may end with `/`. systemd's "no job" path is `/`.
public struct ObjectPath: RawRepresentable, Sendable, Hashable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    /// - Throws: `BusError` with code `.invalidArgument` when `rawValue` is not a valid path.
    public init(validating rawValue: String) throws(BusError) {
        guard ObjectPath.isValid(rawValue) else {
            throw BusError(code: .invalidArgument, message: "not a valid D-Bus object path: \(rawValue.debugDescription)")
        }
        self.rawValue = rawValue
    }

    public init?(rawValue: String) {
        guard ObjectPath.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// For literals in code; an invalid literal is a programming error.
    public init(stringLiteral value: String) {
        precondition(ObjectPath.isValid(value), "invalid object path literal \(value)")
        self.rawValue = value
    }

    /// Builds `prefix/escaped(external)` exactly as `sd_bus_path_encode` does: every byte that is not
    /// `[A-Za-z0-9]` (and a leading digit) becomes `_xx`; an empty label becomes `_`.
    public init(prefix: ObjectPath, escaping external: String) {
        var label = ""
        let bytes = Array(external.utf8)
        if bytes.isEmpty { label = "_" }
        for (i, b) in bytes.enumerated() {
            let isAlpha = (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            let isDigit = b >= 0x30 && b <= 0x39
            if isAlpha || (isDigit && i > 0) {
                label.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                label += "_" + String(b, radix: 16).leftPadded(to: 2)
            }
        }
        let base = prefix.rawValue == "/" ? "" : prefix.rawValue
        self.rawValue = base + "/" + label
    }

    public var description: String { rawValue }

    /// The path `/`, which systemd uses for "no job".
    public static let root: ObjectPath = "/"

    static func isValid(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard bytes.first == 0x2F else { return false }
        if bytes.count == 1 { return true }
        guard bytes.last != 0x2F else { return false }
        var previousSlash = true
        for b in bytes.dropFirst() {
            if b == 0x2F {
                if previousSlash { return false }
                previousSlash = true
                continue
            }
            previousSlash = false
            let ok = (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
            if !ok { return false }
        }
        return true
    }
}

/// A D-Bus type signature such as `a(sv)`.
///
/// Checked only for the alphabet of type codes: libsystemd rejects a malformed nesting when the
/// message is built, with an error that names the signature.
public struct BusSignature: RawRepresentable, Sendable, Hashable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init?(rawValue: String) {
        guard BusSignature.isPlausible(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        precondition(BusSignature.isPlausible(value), "invalid signature literal \(value)")
        self.rawValue = value
    }

    init(unchecked: String) { self.rawValue = unchecked }

    public var description: String { rawValue }

    static func isPlausible(_ s: String) -> Bool {
        s.utf8.count <= 255 && s.utf8.allSatisfy { "ybnqiuxtdsogavh(){}".utf8.contains($0) }
    }
}

extension String {
    /// `"a".leftPadded(to: 2)` is `"0a"`; used for hex bytes here and in SystemdManager.
    package func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
