public import FoundationEssentials

/// Reading and writing JSON text for service documents.
///
/// A small hand-written reader instead of `JSONSerialization` because svcunit must keep key order
/// and integer-vs-float for fields it does not know, and must say *where* a document is broken
/// (line and column). The writer produces Python's `json.dumps(indent=4)` layout, the layout
/// ZenML uses for `service.json`; not obvious: non-ASCII text is written as UTF-8, not `\u` escapes.
public enum JSONText {
    /// Parses one JSON value from UTF-8 bytes.
    /// - Throws: `ServiceModelError` with code `.emptyDocument`, `.truncatedJSON` or `.malformedJSON`
    ///   and the line and column of the problem.
    public static func parse(_ data: Data) throws(ServiceModelError) -> JSONValue {
        var parser = Parser(bytes: Array(data))
        return try parser.parseDocument()
    }

    /// Parses one JSON value from a string.
    public static func parse(_ text: String) throws(ServiceModelError) -> JSONValue {
        try parse(Data(utf8: text))
    }

    /// Writes `value` pretty-printed with `indent` spaces, keys in their stored order, and a final newline.
    public static func format(_ value: JSONValue, indent: Int = 4) -> String {
        var out = Writer(indent: indent)
        out.write(value, level: 0)
        out.bytes.append(UInt8(ascii: "\n"))
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// Writes `value` on one line (`{"a": 1, "b": [1, 2]}`), as Python's `json.dumps` does without indent.
    public static func formatCompact(_ value: JSONValue) -> String {
        var out = Writer(indent: nil)
        out.write(value, level: 0)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// Python-compatible float text: always has a fraction or exponent so it reads back as a float.
    static func formatDouble(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        var text = "\(number)"
        if !text.contains(".") && !text.contains("e") && !text.contains("E") { text += ".0" }
        return text
    }

    /// The text as UTF-8 bytes, one string at the end: appending to a `String` piece by piece (its
    /// storage checks on every append) was 53M of the 109M instructions of a `list --json` of 1,000
    /// services.
    private struct Writer {
        let indent: Int?
        var bytes: [UInt8] = []

        init(indent: Int?) {
            self.indent = indent
            bytes.reserveCapacity(4096)
        }

        mutating func write(_ value: JSONValue, level: Int) {
            switch value {
            case .null: append("null")
            case .bool(let flag): append(flag ? "true" : "false")
            case .int(let number): append(String(number))
            case .double(let number): append(JSONText.formatDouble(number))
            case .string(let text): writeString(text)
            case .array(let items):
                if items.isEmpty { append("[]"); return }
                bytes.append(UInt8(ascii: "["))
                for (index, item) in items.enumerated() {
                    if index > 0 { append(indent == nil ? ", " : ",") }
                    newline(level: level + 1)
                    write(item, level: level + 1)
                }
                newline(level: level)
                bytes.append(UInt8(ascii: "]"))
            case .object(let object):
                if object.isEmpty { append("{}"); return }
                bytes.append(UInt8(ascii: "{"))
                for (index, member) in object.members.enumerated() {
                    if index > 0 { append(indent == nil ? ", " : ",") }
                    newline(level: level + 1)
                    writeString(member.key)
                    append(": ")
                    write(member.value, level: level + 1)
                }
                newline(level: level)
                bytes.append(UInt8(ascii: "}"))
            }
        }

        private mutating func append(_ text: String) {
            var text = text
            text.withUTF8 { bytes.append(contentsOf: $0) }
        }

        private mutating func newline(level: Int) {
            guard let indent else { return }
            bytes.append(UInt8(ascii: "\n"))
            bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
        }

        /// Non-ASCII text is written as UTF-8 (Python's `ensure_ascii=False` layout), control
        /// characters as escapes.
        private mutating func writeString(_ text: String) {
            var text = text
            bytes.append(UInt8(ascii: "\""))
            text.withUTF8 { utf8 in
                // Most strings need no escape at all: copied whole (a `list --json` of 1,000 services
                // writes thousands of them).
                var start = 0
                for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                    start = index + 1
                    switch byte {
                    case UInt8(ascii: "\""): append("\\\"")
                    case UInt8(ascii: "\\"): append("\\\\")
                    case UInt8(ascii: "\n"): append("\\n")
                    case UInt8(ascii: "\r"): append("\\r")
                    case UInt8(ascii: "\t"): append("\\t")
                    case 0x08: append("\\b")
                    case 0x0C: append("\\f")
                    default: append("\\u" + hexDigits(UInt32(byte), width: 4))
                    }
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }
}

/// A recursive-descent JSON reader over UTF-8 bytes that reports line/column positions.
private struct Parser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0
    static let maxDepth = 200

    init(bytes: [UInt8]) {
        // Skip a UTF-8 byte order mark; some editors write one.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            self.bytes = Array(bytes.dropFirst(3))
        } else {
            self.bytes = bytes
        }
    }

    mutating func parseDocument() throws(ServiceModelError) -> JSONValue {
        skipWhitespace()
        if index >= bytes.count {
            throw ServiceModelError(.emptyDocument, "the document is empty", hint: "expected a JSON object")
        }
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count {
            throw malformed("unexpected \(describe(bytes[index])) after the end of the JSON value")
        }
        return value
    }

    // MARK: Positions and errors

    func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    func malformed(_ what: String, at offset: Int? = nil) -> ServiceModelError {
        let (line, column) = position(of: offset ?? index)
        return ServiceModelError(.malformedJSON, "malformed JSON at line \(line), column \(column): \(what)")
    }

    func truncated(_ what: String) -> ServiceModelError {
        let (line, column) = position(of: bytes.count)
        return ServiceModelError(
            .truncatedJSON, "truncated JSON: the document ends at line \(line), column \(column) \(what)")
    }

    func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(UnicodeScalar(byte)))'" }
        return "byte 0x" + hexDigits(UInt32(byte), width: 2).uppercased()
    }

    // MARK: Grammar

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(ServiceModelError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw truncated("where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        // Python's json module writes these for non-finite floats; accept them so such files load.
        case UInt8(ascii: "N"): try expectLiteral("NaN"); return .double(.nan)
        case UInt8(ascii: "I"): try expectLiteral("Infinity"); return .double(.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw malformed("unexpected \(describe(bytes[index])) where a value was expected")
        }
    }

    mutating func expectLiteral(_ literal: String) throws(ServiceModelError) {
        let start = index
        for expected in literal.utf8 {
            guard index < bytes.count else { throw truncated("inside '\(literal)'") }
            guard bytes[index] == expected else { throw malformed("invalid literal, expected '\(literal)'", at: start) }
            index += 1
        }
    }

    mutating func enter() throws(ServiceModelError) {
        depth += 1
        if depth > Self.maxDepth { throw malformed("nesting deeper than \(Self.maxDepth) levels") }
    }

    mutating func parseObject() throws(ServiceModelError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1  // {
        var object = JSONObject()
        skipWhitespace()
        guard index < bytes.count else { throw truncated("inside an object") }
        if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw truncated("inside an object") }
            guard bytes[index] == UInt8(ascii: "\"") else {
                throw malformed("expected a quoted key, found \(describe(bytes[index]))")
            }
            let keyStart = index
            let key = try parseString()
            // A linear search: a document's objects have a handful of keys (hashing them cost more).
            if object[key] != nil { throw malformed("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            guard index < bytes.count else { throw truncated("after the key \"\(key)\"") }
            guard bytes[index] == UInt8(ascii: ":") else {
                throw malformed("expected ':' after the key \"\(key)\", found \(describe(bytes[index]))")
            }
            index += 1
            object.append(newKey: key, try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw truncated("inside an object") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(object)
            default: throw malformed("expected ',' or '}' in an object, found \(describe(bytes[index]))")
            }
        }
    }

    mutating func parseArray() throws(ServiceModelError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        guard index < bytes.count else { throw truncated("inside an array") }
        if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw truncated("inside an array") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(items)
            default: throw malformed("expected ',' or ']' in an array, found \(describe(bytes[index]))")
            }
        }
    }

    mutating func parseString() throws(ServiceModelError) -> String {
        let start = index
        index += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = index
        // Whether every byte since `runStart` is ASCII (most of a service document): such a run needs
        // no UTF-8 validation. Measured: `String(validating:as:)` is generic and unspecialized in the
        // standard library; looking up its metadata cost a tenth of `list`'s instructions (1,000
        // documents).
        var ascii = true
        func flush(_ parser: Parser, _ end: Int, into scalars: inout String.UnicodeScalarView) -> Bool {
            guard let text = String(validating: parser.bytes[runStart..<end], as: UTF8.self) else { return false }
            scalars.append(contentsOf: text.unicodeScalars)
            return true
        }
        while true {
            guard index < bytes.count else { throw truncated("inside a string that starts at \(lineColumn(start))") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                if scalars.isEmpty {
                    // No escapes (the common case): one conversion, no scalar copying.
                    if ascii {
                        let text = bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[runStart..<index]), as: UTF8.self) }
                        index += 1
                        return text
                    }
                    guard let text = String(validating: bytes[runStart..<index], as: UTF8.self) else {
                        throw malformed("invalid UTF-8 in a string", at: start)
                    }
                    index += 1
                    return text
                }
                guard flush(self, index, into: &scalars) else { throw malformed("invalid UTF-8 in a string", at: start) }
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw malformed("control character in a string (escape it)") }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") {
                guard flush(self, index, into: &scalars) else { throw malformed("invalid UTF-8 in a string", at: start) }
                index += 1
                guard index < bytes.count else { throw truncated("inside a string escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code) {
                        // A UTF-16 surrogate pair written as two escapes.
                        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            index += 2
                            let low = try parseHex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw malformed("invalid surrogate pair in a \\u escape") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            throw malformed("unpaired surrogate in a \\u escape")
                        }
                    }
                    guard let scalar = UnicodeScalar(code) else { throw malformed("invalid \\u escape") }
                    scalars.append(scalar)
                default:
                    throw malformed("invalid escape '\\\(Character(UnicodeScalar(escape)))' in a string", at: index - 2)
                }
                runStart = index
                continue
            }
            index += 1
        }
    }

    func lineColumn(_ offset: Int) -> String {
        let (line, column) = position(of: offset)
        return "line \(line), column \(column)"
    }

    mutating func parseHex4() throws(ServiceModelError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw truncated("inside a \\u escape") }
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw malformed("invalid hex digit in a \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(ServiceModelError) -> JSONValue {
        let start = index
        var isFloat = false
        if bytes[index] == UInt8(ascii: "-") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "I") {
                try expectLiteral("Infinity")
                return .double(-.infinity)
            }
        }
        func digits(_ parser: inout Parser) -> Int {
            let begin = parser.index
            while parser.index < parser.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index]) {
                parser.index += 1
            }
            return parser.index - begin
        }
        guard index < bytes.count else { throw truncated("inside a number") }
        let intDigits = digits(&self)
        if intDigits == 0 { throw malformed("invalid number", at: start) }
        if intDigits > 1, bytes[start + (bytes[start] == UInt8(ascii: "-") ? 1 : 0)] == UInt8(ascii: "0") {
            throw malformed("invalid number (leading zero)", at: start)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            guard index < bytes.count else { throw truncated("inside a number") }
            if digits(&self) == 0 { throw malformed("invalid number (no digits after '.')", at: start) }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { throw truncated("inside a number") }
            if digits(&self) == 0 { throw malformed("invalid number (no digits in the exponent)", at: start) }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if !isFloat, let integer = Int64(text) { return .int(integer) }
        guard let number = Double(text) else { throw malformed("invalid number", at: start) }
        return .double(number)
    }
}

/// `value` in lower-case hex, zero-padded to `width` digits (what `String(format: "%0Nx")` gave,
/// without Foundation's formatter).
func hexDigits(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
