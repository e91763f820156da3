/// The fields of one JSON object that svcunit does not model, plus the order in which the object's
/// keys appeared when it was read.
///
/// Every typed object of the document carries one, so fields written by ZenML or by a newer
/// svcunit survive a load → save round trip. Not obvious: the key order is kept too, so a file
/// whose known fields are in ZenML's order (or any order) is written back in that same order; keys
/// that were not in the file are placed after the ones that were, in svcunit's canonical order.
public struct UnknownFields: Sendable, Hashable {
    /// Members svcunit does not model, in document order.
    public var members: JSONObject
    /// Every key of the object as read, in document order; empty for objects svcunit created.
    public var keyOrder: [String]

    public init(members: JSONObject = JSONObject(), keyOrder: [String] = []) {
        self.members = members
        self.keyOrder = keyOrder
    }

    /// Captures the unread members and key order of an object that has been decoded.
    public init(from reader: FieldReader) {
        self.init(members: reader.unread, keyOrder: reader.object.keys)
    }

    /// Builds the JSON object from the known fields (in canonical order) and these unknown ones.
    public func object(known: [(key: String, value: JSONValue)]) -> JSONValue {
        var all = known
        for member in members where !known.contains(where: { $0.key == member.key }) {
            all.append(member)
        }
        if !keyOrder.isEmpty {
            let position = Dictionary(keyOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            all = all.enumerated()
                .sorted { lhs, rhs in
                    let left = position[lhs.element.key] ?? (keyOrder.count + lhs.offset)
                    let right = position[rhs.element.key] ?? (keyOrder.count + rhs.offset)
                    return left < right
                }
                .map(\.element)
        }
        return .object(JSONObject(all))
    }
}
