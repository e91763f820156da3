/// A JSON value that keeps what `JSONSerialization` loses: the order of object keys and whether a
/// number was written as an integer or a float.
///
/// svcunit keeps every field it does not understand as a `JSONValue` and writes it back unchanged,
/// so a document written by ZenML (or a newer svcunit) survives a load → save round trip.
/// Not obvious: `1` and `1.0` are different values here (`.int` vs `.double`), because Python's
/// pydantic models distinguish `int` from `float` fields.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A one-word description of the kind of value, used in error messages ("expected a string, found an array").
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Encodes a `Double` as an integer when it is integral (so `5` stays `5`), as a float otherwise.
    public static func number(_ value: Double) -> JSONValue {
        if value.rounded() == value, abs(value) < 9.0e15 {
            return .int(Int64(value))
        }
        return .double(value)
    }
}

/// A JSON object whose keys keep the order in which they were read or inserted.
///
/// Lookups are linear: service documents have a handful of keys per object, so a plain array is
/// both simpler and faster than a dictionary plus an order list. Setting an existing key keeps its
/// position.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The members in order.
    public private(set) var members: [(key: String, value: JSONValue)]

    public init() { members = [] }

    public init(_ members: [(key: String, value: JSONValue)]) {
        self.members = []
        for member in members { self[member.key] = member.value }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { (key: $0.0, value: $0.1) })
    }

    public var keys: [String] { members.map(\.key) }
    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }

    /// The value for `key`; assigning `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get { index(of: key).map { members[$0].value } }
        set {
            if let index = index(of: key) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key: key, value: newValue))
            }
        }
    }

    /// Where `key` is. The UTF-8 lengths are compared first: that rejects most other keys without a
    /// string comparison, which was a twelfth of `list`'s instructions (1,000 documents).
    private func index(of key: String) -> Int? {
        let length = key.utf8.count
        return members.firstIndex { $0.key.utf8.count == length && $0.key == key }
    }

    /// Appends a member whose key the caller knows is not present (the parser, which refuses
    /// duplicates as it reads the key): no second search.
    mutating func append(newKey key: String, _ value: JSONValue) {
        members.append((key: key, value: value))
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for member in members {
            hasher.combine(member.key)
            hasher.combine(member.value)
        }
    }
}
