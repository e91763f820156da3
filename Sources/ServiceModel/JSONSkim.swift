public import FoundationEssentials

/// Finds one string member of a JSON document (e.g. `config.name`) without building the document:
/// the other members are skipped over byte by byte, and only the wanted string is decoded (by
/// `JSONText`, so its escapes mean exactly what they mean to a full parse).
///
/// For commands that need one field of every stored service (the name check of `create`, name
/// lookups): a full decode of 1,000 documents costs tens of milliseconds, a skim a fraction of it.
/// Not obvious: a skim validates nothing. Its contract is only that for a document that a full
/// parse accepts it returns that document's string at the path, or nil; nil also for every case it
/// does not handle (a key written with escapes, a member that is not a string, anything malformed),
/// so callers fall back to the full decode whenever it says nil, and must confirm a match with a
/// full decode when the document has to be a valid service as well.
public enum JSONSkim {
    /// The string at `path` (object keys from the top), or nil (see the type's contract).
    public static func string(at path: [String], in data: Data) -> String? {
        data.withUnsafeBytes { raw -> String? in
            var skim = Skimmer(bytes: raw.bindMemory(to: UInt8.self))
            if skim.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { skim.index = 3 }
            for (depth, key) in path.enumerated() {
                guard skim.enterMember(Array(key.utf8)) else { return nil }
                if depth == path.count - 1 {
                    skim.skipWhitespace()
                    let start = skim.index
                    guard skim.peek == UInt8(ascii: "\""), skim.skipValue() else { return nil }
                    let token = Data(UnsafeRawBufferPointer(rebasing: raw[start..<skim.index]))
                    guard case .string(let text)? = try? JSONText.parse(token) else { return nil }
                    return text
                }
            }
            return nil
        }
    }
}

private struct Skimmer {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// At an object: moves to the value of its member `key` (the first one; a duplicate makes the
    /// document invalid for a full parse anyway). False when there is none or the text is not as
    /// expected.
    mutating func enterMember(_ key: [UInt8]) -> Bool {
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else { return false }
        index += 1
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { return false }
            let start = index + 1
            guard skipString() else { return false }
            let name = bytes[start..<(index - 1)]
            // A key with escapes is not compared (nil, and the caller decodes in full).
            if name.contains(UInt8(ascii: "\\")) { return false }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { return false }
            index += 1
            if name.elementsEqual(key) { return true }
            guard skipValue() else { return false }
            skipWhitespace()
            guard peek == UInt8(ascii: ",") else { return false }
            index += 1
        }
    }

    /// Past a string that starts at `index` (on its opening quote).
    mutating func skipString() -> Bool {
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""): index += 1; return true
            case UInt8(ascii: "\\"): index += 2
            default: index += 1
            }
        }
        return false
    }

    /// Past one value of any kind (strings inside containers are skipped as strings, so brackets
    /// in them do not count).
    mutating func skipValue() -> Bool {
        skipWhitespace()
        guard let first = peek else { return false }
        switch first {
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""): guard skipString() else { return false }; continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { index += 1; return true }
                default: break
                }
                index += 1
            }
            return false
        default:
            // A number or a literal: up to the next delimiter.
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return true
                default: index += 1
                }
            }
            return true
        }
    }
}
