/// One D-Bus value, with enough type information to be written back unchanged.
///
/// svcunit never hands an `sd_bus_message` to code above this module: replies and signals are read
/// completely on the bus thread into `BusValue`s, which are plain, `Sendable` data. The cost is one
/// copy per message; the gain is that no borrowed C pointer can outlive its message.
///
/// Not obvious: an empty array still needs its element signature on the wire, so arrays carry it
/// (`.array(of:_:)`), and a byte array is kept as `.bytes` because systemd uses `ay` for IDs.
public indirect enum BusValue: Sendable, Hashable {
    case byte(UInt8)
    case bool(Bool)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case objectPath(ObjectPath)
    case signature(BusSignature)
    /// An array whose elements all have the signature `element`.
    case array(of: BusSignature, [BusValue])
    /// An `ay` array, kept as raw bytes.
    case bytes([UInt8])
    /// A struct `(…)`.
    case structure([BusValue])
    /// A variant `v`: the contents carry their own signature.
    case variant(BusValue)
    /// A dictionary entry `{kv}`, only valid as an array element.
    case dictEntry(BusValue, BusValue)

    /// The D-Bus signature of this value, e.g. `a(sv)`.
    public var signature: BusSignature {
        switch self {
        case .byte: return "y"
        case .bool: return "b"
        case .int16: return "n"
        case .uint16: return "q"
        case .int32: return "i"
        case .uint32: return "u"
        case .int64: return "x"
        case .uint64: return "t"
        case .double: return "d"
        case .string: return "s"
        case .objectPath: return "o"
        case .signature: return "g"
        case .array(let element, _): return BusSignature(unchecked: "a" + element.rawValue)
        case .bytes: return "ay"
        case .structure(let fields):
            return BusSignature(unchecked: "(" + Self.signatures(of: fields) + ")")
        case .variant: return "v"
        case .dictEntry(let k, let v):
            return BusSignature(unchecked: "{" + k.signature.rawValue + v.signature.rawValue + "}")
        }
    }

    /// The signatures of `fields` one after another: a structure's contents. A loop, not
    /// `[String].joined()`, whose unspecialized generic scans every conformance record of the
    /// executable at run time, once per process (callgrind).
    static func signatures(of fields: [BusValue]) -> String {
        var text = ""
        for field in fields { text += field.signature.rawValue }
        return text
    }
}

extension BusValue {
    /// `as`: a string array, e.g. unit name patterns.
    public static func stringArray(_ strings: [String]) -> BusValue {
        .array(of: "s", strings.map(BusValue.string))
    }

    /// `a(sv)`: a property list, as `StartTransientUnit` takes it.
    public static func propertyList(_ properties: [(String, BusValue)]) -> BusValue {
        .array(of: "(sv)", properties.map { .structure([.string($0.0), .variant($0.1)]) })
    }

    /// The value inside a variant, or the value itself.
    public var unwrappedVariant: BusValue {
        if case .variant(let inner) = self { return inner.unwrappedVariant }
        return self
    }

    public var stringValue: String? {
        switch unwrappedVariant {
        case .string(let s): return s
        case .objectPath(let p): return p.rawValue
        case .signature(let g): return g.rawValue
        default: return nil
        }
    }

    public var objectPathValue: ObjectPath? {
        if case .objectPath(let p) = unwrappedVariant { return p }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = unwrappedVariant { return b }
        return nil
    }

    /// Any integer type widened to `Int64` where it fits (`uint64` above `Int64.max` gives nil).
    public var integerValue: Int64? {
        switch unwrappedVariant {
        case .byte(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int64(let v): return v
        case .uint64(let v): return Int64(exactly: v)
        default: return nil
        }
    }

    public var uint64Value: UInt64? {
        switch unwrappedVariant {
        case .uint64(let v): return v
        default: return integerValue.flatMap { UInt64(exactly: $0) }
        }
    }

    /// Elements of an array (or the bytes of an `ay` as `.byte` values).
    public var arrayValue: [BusValue]? {
        switch unwrappedVariant {
        case .array(_, let items): return items
        case .bytes(let bytes): return bytes.map(BusValue.byte)
        default: return nil
        }
    }

    public var bytesValue: [UInt8]? {
        switch unwrappedVariant {
        case .bytes(let b): return b
        case .array(_, let items):
            var out: [UInt8] = []
            for item in items { guard case .byte(let b) = item else { return nil }; out.append(b) }
            return out
        default: return nil
        }
    }

    public var structureValue: [BusValue]? {
        if case .structure(let f) = unwrappedVariant { return f }
        return nil
    }

    /// An `a{sv}` (or any `a{s…}`) as a Swift dictionary keyed by the string keys.
    public var stringKeyedDictionary: [String: BusValue]? {
        guard case .array(_, let items) = unwrappedVariant else { return nil }
        var out: [String: BusValue] = [:]
        for item in items {
            guard case .dictEntry(let k, let v) = item, let key = k.stringValue else { return nil }
            out[key] = v
        }
        return out
    }
}
