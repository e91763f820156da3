public import FoundationEssentials

/// The identity of one service instance: the directory name in the store, the `uuid` field of
/// `service.json`, and the registry's cache key.
///
/// Not obvious: the text form is always lower-case (`Foundation.UUID.uuidString` is upper-case,
/// while Python's `str(uuid)` and every ZenML file are lower-case), so paths and JSON stay the same
/// whichever tool wrote them.
public struct ServiceUUID: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The canonical lower-case text, e.g. `4f6c7a8e-…`.
    public let rawValue: String

    /// Validates `rawValue` as a UUID (any case) and stores its canonical lower-case form.
    public init?(rawValue: String) {
        // Already canonical (every name in a store, every unit name): taken as it is, without
        // `UUID(uuidString:)`, whose sscanf was 3% of `list` over 1,000 services.
        if Self.isCanonical(rawValue) {
            self.init(canonical: rawValue)
            return
        }
        guard let uuid = UUID(uuidString: rawValue) else { return nil }
        self.init(uuid)
    }

    private init(canonical: String) { rawValue = canonical }

    /// 8-4-4-4-12 lower-case hexadecimal digits.
    ///
    /// Over the string's contiguous bytes (`withUTF8`), not its `utf8` view's iterator: `list` checks
    /// a UUID per stored service and per running unit, and the iterator cost 3% of it.
    static func isCanonical(_ text: String) -> Bool {
        guard text.utf8.count == 36 else { return false }
        var text = text
        return text.withUTF8 { bytes in
            for index in 0 ..< 36 {
                let byte = bytes[index]
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    if byte != UInt8(ascii: "-") { return false }
                } else if !((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)) {
                    return false
                }
            }
            return true
        }
    }

    /// Validates `text` as a UUID.
    /// - Throws: `ServiceModelError.Code.invalidUUID` naming `fieldPath` and the bad text.
    public init(validating text: String, fieldPath: String = "uuid") throws(ServiceModelError) {
        guard let valid = ServiceUUID(rawValue: text) else {
            throw ServiceModelError(
                .invalidUUID, "field `\(fieldPath)` is \"\(text)\", which is not a UUID",
                fieldPath: fieldPath, hint: "expected 8-4-4-4-12 hexadecimal digits")
        }
        self = valid
    }

    public init(_ uuid: UUID) { rawValue = uuid.uuidString.lowercased() }

    /// A new random (version 4) UUID.
    public static func random() -> ServiceUUID { ServiceUUID(UUID()) }

    public var uuid: UUID { UUID(uuidString: rawValue)! }
    public var description: String { rawValue }
    public static func < (lhs: ServiceUUID, rhs: ServiceUUID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The UUID's 128 bits as two numbers, which order as the canonical texts do (lower-case
    /// hexadecimal digits at fixed places): for sorting many UUIDs, where comparing the texts
    /// (`<`) cost `list` 3.3M instructions for a thousand (callgrind).
    public var orderKey: (high: UInt64, low: UInt64) {
        var text = rawValue
        return text.withUTF8 { bytes in
            var high: UInt64 = 0, low: UInt64 = 0, digits = 0
            for byte in bytes where byte != UInt8(ascii: "-") {
                let value = UInt64(byte <= UInt8(ascii: "9") ? byte &- UInt8(ascii: "0") : byte &- UInt8(ascii: "a") &+ 10)
                if digits < 16 { high = high << 4 | value } else { low = low << 4 | value }
                digits += 1
            }
            return (high, low)
        }
    }
}
