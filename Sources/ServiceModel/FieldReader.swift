/// Reads typed fields out of one JSON object while remembering the path to it, so every decoding
/// error names the exact field (`endpoint.config.port`), and collects the fields nobody read so
/// they can be written back unchanged.
///
/// Used by the model types and by flavors (`ServiceKind.decodeConfig`). Not obvious: a key that is
/// present with `null` counts as present; optional fields accept `null`, required ones reject it.
public struct FieldReader: Sendable {
    /// The object being read.
    public let object: JSONObject
    /// The path of the object in the document, e.g. `endpoint.config`; empty for the top level.
    public let path: String
    /// The keys read so far. An array, not a set: an object has a handful of keys, and hashing each
    /// one cost more than the whole of `list`'s document parsing (`perf`, 1,000 documents).
    private var consumed: [String] = []

    public init(_ object: JSONObject, path: String) {
        self.object = object
        self.path = path
    }

    /// Reads the object at `value`, or fails naming `path` when it is not an object.
    public init(_ value: JSONValue, path: String) throws(ServiceModelError) {
        guard case .object(let object) = value else {
            if path.isEmpty {
                throw ServiceModelError(.invalidField, "the document must be an object, found \(value.kindDescription)")
            }
            throw FieldReader.wrongKind(path, expected: "an object", found: value)
        }
        self.init(object, path: path)
    }

    /// The full path of `key` inside this object.
    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The raw value for `key`, marking it as read.
    public mutating func raw(_ key: String) -> JSONValue? {
        consumed.append(key)
        return object[key]
    }

    /// Marks keys as read without reading them (for keys another layer owns).
    public mutating func markRead(_ keys: [String]) { consumed += keys }

    /// The members nobody read, in document order.
    public var unread: JSONObject {
        JSONObject(object.members.filter { !consumed.contains($0.key) })
    }

    // MARK: Typed readers

    public mutating func string(_ key: String, default defaultValue: String) throws(ServiceModelError) -> String {
        guard let value = raw(key) else { return defaultValue }
        guard case .string(let text) = value else { throw wrongKind(key, expected: "a string", found: value) }
        return text
    }

    public mutating func optionalString(_ key: String) throws(ServiceModelError) -> String? {
        guard let value = raw(key), value != .null else { return nil }
        guard case .string(let text) = value else { throw wrongKind(key, expected: "a string or null", found: value) }
        return text
    }

    public mutating func requiredString(_ key: String) throws(ServiceModelError) -> String {
        guard let value = raw(key) else { throw missing(key, expected: "a string") }
        guard case .string(let text) = value else { throw wrongKind(key, expected: "a string", found: value) }
        return text
    }

    public mutating func bool(_ key: String, default defaultValue: Bool) throws(ServiceModelError) -> Bool {
        guard let value = raw(key) else { return defaultValue }
        guard case .bool(let flag) = value else { throw wrongKind(key, expected: "true or false", found: value) }
        return flag
    }

    public mutating func optionalInt(_ key: String) throws(ServiceModelError) -> Int64? {
        guard let value = raw(key), value != .null else { return nil }
        guard case .int(let number) = value else { throw wrongKind(key, expected: "an integer", found: value) }
        return number
    }

    public mutating func int(_ key: String, default defaultValue: Int64) throws(ServiceModelError) -> Int64 {
        guard let value = raw(key) else { return defaultValue }
        guard case .int(let number) = value else { throw wrongKind(key, expected: "an integer", found: value) }
        return number
    }

    /// A number written as an integer or a float.
    public mutating func optionalNumber(_ key: String) throws(ServiceModelError) -> Double? {
        guard let value = raw(key), value != .null else { return nil }
        switch value {
        case .int(let number): return Double(number)
        case .double(let number) where number.isFinite: return number
        default: throw wrongKind(key, expected: "a number", found: value)
        }
    }

    public mutating func optionalStringArray(_ key: String) throws(ServiceModelError) -> [String]? {
        guard let value = raw(key), value != .null else { return nil }
        guard case .array(let items) = value else { throw wrongKind(key, expected: "an array of strings", found: value) }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw FieldReader.wrongKind("\(fieldPath(key))[\(index)]", expected: "a string", found: item)
            }
            result.append(text)
        }
        return result
    }

    public mutating func optionalStringMap(_ key: String) throws(ServiceModelError) -> [(key: String, value: String)]? {
        guard let value = raw(key), value != .null else { return nil }
        guard case .object(let object) = value else {
            throw wrongKind(key, expected: "an object of strings", found: value)
        }
        var result: [(key: String, value: String)] = []
        for member in object {
            guard case .string(let text) = member.value else {
                throw FieldReader.wrongKind("\(fieldPath(key)).\(member.key)", expected: "a string", found: member.value)
            }
            result.append((member.key, text))
        }
        return result
    }

    public mutating func optionalObject(_ key: String) throws(ServiceModelError) -> FieldReader? {
        guard let value = raw(key), value != .null else { return nil }
        return try FieldReader(value, path: fieldPath(key))
    }

    public mutating func object(_ key: String) throws(ServiceModelError) -> FieldReader {
        guard let value = raw(key) else { return FieldReader(JSONObject(), path: fieldPath(key)) }
        return try FieldReader(value, path: fieldPath(key))
    }

    public mutating func enumValue<E: RawRepresentable>(_ key: String, default defaultValue: E) throws(ServiceModelError) -> E
    where E.RawValue == String, E: CaseIterable {
        guard let value = raw(key) else { return defaultValue }
        return try enumValue(key, value)
    }

    public mutating func optionalEnumValue<E: RawRepresentable>(_ key: String, as type: E.Type) throws(ServiceModelError) -> E?
    where E.RawValue == String, E: CaseIterable {
        guard let value = raw(key), value != .null else { return nil }
        return try enumValue(key, value)
    }

    private func enumValue<E: RawRepresentable>(_ key: String, _ value: JSONValue) throws(ServiceModelError) -> E
    where E.RawValue == String, E: CaseIterable {
        // Only an error names the allowed values: building that text for every read was a tenth of
        // `list`'s instructions (1,000 documents, three enums each).
        func allowed() -> String { E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
        guard case .string(let text) = value else { throw wrongKind(key, expected: "one of \(allowed())", found: value) }
        guard let result = E(rawValue: text) else {
            throw invalid(key, "is \"\(text)\", expected one of \(allowed())")
        }
        return result
    }

    // MARK: Errors

    /// An error naming `key`'s full path and what is wrong with its value.
    public func invalid(_ key: String, _ problem: String) -> ServiceModelError {
        let path = fieldPath(key)
        return ServiceModelError(.invalidField, "field `\(path)` \(problem)", fieldPath: path)
    }

    public func wrongKind(_ key: String, expected: String, found: JSONValue) -> ServiceModelError {
        FieldReader.wrongKind(fieldPath(key), expected: expected, found: found)
    }

    public func missing(_ key: String, expected: String) -> ServiceModelError {
        let path = fieldPath(key)
        return ServiceModelError(.invalidField, "field `\(path)` is missing (expected \(expected))", fieldPath: path)
    }

    public static func wrongKind(_ path: String, expected: String, found: JSONValue) -> ServiceModelError {
        ServiceModelError(
            .invalidField, "field `\(path)` must be \(expected), found \(found.kindDescription)", fieldPath: path)
    }
}

/// Checks a number of seconds read from a document: finite, not negative, at most a day.
func validateSeconds(_ value: Double?, _ key: String, in reader: FieldReader, allowZero: Bool = true) throws(ServiceModelError) {
    guard let value else { return }
    if value < 0 || (!allowZero && value == 0) {
        throw reader.invalid(key, "is \(JSONText.formatCompact(.number(value))) s, must be \(allowZero ? "0 or more" : "more than 0") seconds")
    }
    if value > 86_400 {
        throw reader.invalid(key, "is \(JSONText.formatCompact(.number(value))) s, more than one day (86400 s)")
    }
}
