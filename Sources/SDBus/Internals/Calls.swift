// The only file in SDBus that calls sd_bus_* functions. Each wrapper turns libsystemd's "negative
// return is -errno" into a BusError and keeps C types from leaking upward.
//
// Everything here runs on the owning BusLoop thread: sd-bus objects (the bus, its messages and slots)
// use non-atomic reference counts and must never be touched from two threads at once.
internal import CSystemd
import Glibc
import OSCalls
import SDWorker

typealias BusPointer = OpaquePointer
typealias MessagePointer = OpaquePointer
typealias SlotPointer = OpaquePointer

@inline(__always)
func check(_ r: Int32, _ what: @autoclosure () -> String) throws(BusError) {
    if r < 0 { throw BusError.fromErrno(-r, operation: what()) }
}

extension BusError {
    static func fromErrno(_ e: Int32, operation: String?, code: Code? = nil) -> BusError {
        if e == ELIBACC, let why = svcunit_libsystemd_error() {
            return BusError(code: .libraryUnavailable, message: "cannot load libsystemd: " + String(cString: why),
                            errno: e, operation: operation)
        }
        let text = String(cString: strerror(e))
        let resolved: Code
        if let code { resolved = code }
        else {
            switch e {
            case ETIMEDOUT: resolved = .timedOut
            case ECONNRESET, ENOTCONN, EPIPE, ECONNREFUSED: resolved = .disconnected
            case EINVAL, ENXIO: resolved = .invalidArgument
            case EBADMSG, ENOMSG: resolved = .protocolError
            default: resolved = .system
            }
        }
        return BusError(code: resolved, message: text, errno: e, operation: operation)
    }
}

// MARK: - Connecting

enum BusOpen {
    /// `sd_bus_new` + `sd_bus_set_address` + `sd_bus_start`. `brokered` says whether to send Hello
    /// (true for a dbus-daemon, false for systemd's direct `systemd/private` socket).
    static func address(_ address: String, brokered: Bool) throws(BusError) -> BusPointer {
        var bus: BusPointer?
        var r = sd_bus_new(&bus)
        if r < 0 { throw BusError.fromErrno(-r, operation: "create a bus", code: .connectionFailed) }
        r = address.withCString { sd_bus_set_address(bus, $0) }
        if r >= 0 { r = sd_bus_set_bus_client(bus, brokered ? 1 : 0) }
        if r >= 0 { r = sd_bus_start(bus) }
        if r < 0 {
            _ = sd_bus_flush_close_unref(bus)
            throw BusError.fromErrno(-r, operation: "connect to \(address)", code: .connectionFailed)
        }
        return bus!
    }

    static func close(_ bus: BusPointer) {
        _ = sd_bus_flush_close_unref(bus)
    }
}

// MARK: - Loop primitives

enum BusIO {
    static func fd(_ bus: BusPointer) -> Int32 { sd_bus_get_fd(bus) }
    static func events(_ bus: BusPointer) -> Int32 { sd_bus_get_events(bus) }

    /// Relative poll timeout in ms from sd-bus's absolute CLOCK_MONOTONIC deadline; -1 for none.
    static func pollTimeoutMilliseconds(_ bus: BusPointer) -> Int32 {
        var usec: UInt64 = 0
        guard sd_bus_get_timeout(bus, &usec) >= 0 else { return -1 }
        return PollTimeout.untilMonotonic(microseconds: usec)
    }

    /// One `sd_bus_process` step: > 0 processed something, 0 nothing to do, throws on a dead connection.
    static func process(_ bus: BusPointer) throws(BusError) -> Bool {
        let r = sd_bus_process(bus, nil)
        if r < 0 { throw BusError.fromErrno(-r, operation: "process the bus", code: .disconnected) }
        return r > 0
    }

    static func flush(_ bus: BusPointer) { _ = sd_bus_flush(bus) }

}

// MARK: - Messages

typealias MessageHandler = @convention(c) (
    OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<sd_bus_error>?
) -> Int32

enum BusMessages {
    static func newMethodCall(_ bus: BusPointer, _ call: MethodCall) throws(BusError) -> MessagePointer {
        var m: MessagePointer?
        let r = withOptionalCString(call.destination) { dest in
            call.path.rawValue.withCString { path in
                call.interface.withCString { iface in
                    call.member.withCString { member in
                        sd_bus_message_new_method_call(bus, &m, dest, path, iface, member)
                    }
                }
            }
        }
        try check(r, call.operationDescription)
        do {
            for argument in call.arguments { try append(argument, to: m!) }
        } catch {
            _ = sd_bus_message_unref(m)
            throw BusError(code: .invalidArgument, message: "cannot build the call: \(error.message)",
                           errno: error.errno, operation: call.operationDescription)
        }
        return m!
    }

    static func unref(_ m: MessagePointer) { _ = sd_bus_message_unref(m) }

    /// Builds `call`, seals it and reads its arguments back: proves the writer and the reader agree
    /// without a peer (used by the codec tests).
    static func readBack(_ bus: BusPointer, _ call: MethodCall) throws(BusError) -> [BusValue] {
        let m = try newMethodCall(bus, call)
        defer { unref(m) }
        try check(sd_bus_message_seal(m, 1, 0), "seal the message")
        try check(sd_bus_message_rewind(m, 1), "rewind the message")
        return try readAll(m)
    }

    static func callAsync(_ bus: BusPointer, _ m: MessagePointer, timeoutMicroseconds: UInt64,
                          handler: MessageHandler, userdata: UnsafeMutableRawPointer) throws(BusError) {
        // A floating slot (nil): sd-bus owns it and frees it once the reply or timeout is handled.
        try check(sd_bus_call_async(bus, nil, m, handler, userdata, timeoutMicroseconds), "send the call")
    }

    static func addMatch(_ bus: BusPointer, rule: String, handler: MessageHandler, installed: MessageHandler,
                         userdata: UnsafeMutableRawPointer) throws(BusError) -> SlotPointer {
        var slot: SlotPointer?
        let r = rule.withCString { sd_bus_add_match_async(bus, &slot, $0, handler, installed, userdata) }
        try check(r, "add match \(rule)")
        return slot!
    }

    static func unrefSlot(_ slot: SlotPointer) { _ = sd_bus_slot_unref(slot) }

    /// The D-Bus error carried by a reply, or nil for a normal return.
    static func error(of m: MessagePointer) -> BusError? {
        guard sd_bus_message_is_method_error(m, nil) > 0 else { return nil }
        let e = sd_bus_message_get_error(m)
        let name = e?.pointee.name.map { String(cString: $0) }
        let message = e?.pointee.message.map { String(cString: $0) } ?? name ?? "unknown D-Bus error"
        let errno = sd_bus_message_get_errno(m)
        let code: BusError.Code
        switch name {
        case BusErrorName.noReply?, BusErrorName.timeout?: code = .timedOut
        default: code = .methodError
        }
        return BusError(code: code, name: name, message: message, errno: errno > 0 ? errno : nil)
    }

    static func header(of m: MessagePointer) -> (sender: String?, path: ObjectPath?, interface: String?, member: String?) {
        let sender = sd_bus_message_get_sender(m).map { String(cString: $0) }
        let path = sd_bus_message_get_path(m).flatMap { ObjectPath(rawValue: String(cString: $0)) }
        let interface = sd_bus_message_get_interface(m).map { String(cString: $0) }
        let member = sd_bus_message_get_member(m).map { String(cString: $0) }
        return (sender, path, interface, member)
    }

    // MARK: Writing

    static func append(_ value: BusValue, to m: MessagePointer) throws(BusError) {
        func basic<T>(_ type: UInt8, _ v: T) throws(BusError) {
            var copy = v
            let r = withUnsafePointer(to: &copy) { sd_bus_message_append_basic(m, CChar(bitPattern: type), $0) }
            try check(r, "append \(Character(Unicode.Scalar(type)))")
        }
        func text(_ type: UInt8, _ s: String) throws(BusError) {
            let r = s.withCString { sd_bus_message_append_basic(m, CChar(bitPattern: type), $0) }
            try check(r, "append \(Character(Unicode.Scalar(type))) \(s.debugDescription)")
        }
        func container(_ type: UInt8, _ contents: String, _ body: () throws(BusError) -> Void) throws(BusError) {
            let r = contents.withCString { sd_bus_message_open_container(m, CChar(bitPattern: type), $0) }
            try check(r, "open container \(Character(Unicode.Scalar(type)))\(contents)")
            try body()
            try check(sd_bus_message_close_container(m), "close container \(contents)")
        }
        switch value {
        case .byte(let v): try basic(UInt8(ascii: "y"), v)
        case .bool(let v): try basic(UInt8(ascii: "b"), Int32(v ? 1 : 0))  // sd-bus wants a 4-byte int
        case .int16(let v): try basic(UInt8(ascii: "n"), v)
        case .uint16(let v): try basic(UInt8(ascii: "q"), v)
        case .int32(let v): try basic(UInt8(ascii: "i"), v)
        case .uint32(let v): try basic(UInt8(ascii: "u"), v)
        case .int64(let v): try basic(UInt8(ascii: "x"), v)
        case .uint64(let v): try basic(UInt8(ascii: "t"), v)
        case .double(let v): try basic(UInt8(ascii: "d"), v)
        case .string(let s): try text(UInt8(ascii: "s"), s)
        case .objectPath(let p): try text(UInt8(ascii: "o"), p.rawValue)
        case .signature(let g): try text(UInt8(ascii: "g"), g.rawValue)
        case .bytes(let bytes):
            let r = bytes.withUnsafeBytes {
                sd_bus_message_append_array(m, CChar(bitPattern: UInt8(ascii: "y")), $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count)
            }
            try check(r, "append ay")
        case .array(let element, let items):
            try container(UInt8(ascii: "a"), element.rawValue) { () throws(BusError) in
                for item in items { try append(item, to: m) }
            }
        case .structure(let fields):
            let sig = BusValue.signatures(of: fields)
            try container(UInt8(ascii: "r"), sig) { () throws(BusError) in
                for field in fields { try append(field, to: m) }
            }
        case .variant(let inner):
            try container(UInt8(ascii: "v"), inner.signature.rawValue) { () throws(BusError) in
                try append(inner, to: m)
            }
        case .dictEntry(let k, let v):
            try container(UInt8(ascii: "e"), k.signature.rawValue + v.signature.rawValue) { () throws(BusError) in
                try append(k, to: m)
                try append(v, to: m)
            }
        }
    }

    // MARK: Reading

    /// Reads every remaining value at the current level.
    static func readAll(_ m: MessagePointer) throws(BusError) -> [BusValue] {
        var out: [BusValue] = []
        while let v = try readNext(m) { out.append(v) }
        return out
    }

    /// A reply that is one `a{sv}`, with only the entries whose key is in `keys` decoded; the other
    /// values are skipped inside the message (`sd_bus_message_skip`), never built. Same shape as
    /// `readAll`'s: one array of dict entries.
    static func readPropertyMap(_ m: MessagePointer, keeping keys: Set<String>) throws(BusError) -> [BusValue] {
        try check(sd_bus_message_enter_container(m, CChar(bitPattern: UInt8(ascii: "a")), "{sv}"), "enter container a{sv}")
        var entries: [BusValue] = []
        entries.reserveCapacity(keys.count)
        while true {
            let r = sd_bus_message_enter_container(m, CChar(bitPattern: UInt8(ascii: "e")), "sv")
            try check(r, "enter container {sv}")
            if r == 0 { break }
            var p: UnsafePointer<CChar>?
            try check(sd_bus_message_read_basic(m, CChar(bitPattern: UInt8(ascii: "s")), &p), "read s")
            let key = p.map { String(cString: $0) } ?? ""
            if keys.contains(key), let value = try readNext(m) {
                entries.append(.dictEntry(.string(key), value))
            } else {
                try check(sd_bus_message_skip(m, "v"), "skip v")
            }
            try check(sd_bus_message_exit_container(m), "exit container")
        }
        try check(sd_bus_message_exit_container(m), "exit container")
        return [.array(of: BusSignature(unchecked: "{sv}"), entries)]
    }

    static func readNext(_ m: MessagePointer) throws(BusError) -> BusValue? {
        var type: CChar = 0
        var contentsPointer: UnsafePointer<CChar>?
        let r = sd_bus_message_peek_type(m, &type, &contentsPointer)
        try check(r, "peek type")
        if r == 0 { return nil }
        let t = UInt8(bitPattern: type)
        let contents = contentsPointer.map { String(cString: $0) } ?? ""

        func enter(_ body: () throws(BusError) -> BusValue) throws(BusError) -> BusValue {
            let r = contents.withCString { sd_bus_message_enter_container(m, type, $0) }
            try check(r, "enter container \(Character(Unicode.Scalar(t)))\(contents)")
            let v = try body()
            try check(sd_bus_message_exit_container(m), "exit container")
            return v
        }
        func basic<T>(_ initial: T) throws(BusError) -> T {
            var v = initial
            let r = withUnsafeMutablePointer(to: &v) { sd_bus_message_read_basic(m, type, $0) }
            try check(r, "read \(Character(Unicode.Scalar(t)))")
            return v
        }
        func text() throws(BusError) -> String {
            var p: UnsafePointer<CChar>?
            let r = sd_bus_message_read_basic(m, type, &p)
            try check(r, "read \(Character(Unicode.Scalar(t)))")
            // D-Bus strings are UTF-8 by contract; String(cString:) repairs anything that is not.
            return p.map { String(cString: $0) } ?? ""
        }

        switch t {
        case UInt8(ascii: "y"): return .byte(try basic(UInt8(0)))
        case UInt8(ascii: "b"): return .bool(try basic(Int32(0)) != 0)
        case UInt8(ascii: "n"): return .int16(try basic(Int16(0)))
        case UInt8(ascii: "q"): return .uint16(try basic(UInt16(0)))
        case UInt8(ascii: "i"): return .int32(try basic(Int32(0)))
        case UInt8(ascii: "u"): return .uint32(try basic(UInt32(0)))
        case UInt8(ascii: "x"): return .int64(try basic(Int64(0)))
        case UInt8(ascii: "t"): return .uint64(try basic(UInt64(0)))
        case UInt8(ascii: "d"): return .double(try basic(Double(0)))
        case UInt8(ascii: "h"): return .int32(try basic(Int32(-1)))  // fds are not passed on; keep the number
        case UInt8(ascii: "s"): return .string(try text())
        case UInt8(ascii: "o"):
            let s = try text()
            guard let p = ObjectPath(rawValue: s) else {
                throw BusError(code: .protocolError, message: "peer sent an invalid object path \(s.debugDescription)")
            }
            return .objectPath(p)
        case UInt8(ascii: "g"): return .signature(BusSignature(unchecked: try text()))
        case UInt8(ascii: "a"):
            if contents == "y" {
                var ptr: UnsafeRawPointer?
                var size = 0
                let r = sd_bus_message_read_array(m, CChar(bitPattern: UInt8(ascii: "y")), &ptr, &size)
                try check(r, "read ay")
                guard let ptr, size > 0 else { return .bytes([]) }
                return .bytes(Array(UnsafeRawBufferPointer(start: ptr, count: size)))
            }
            return try enter { () throws(BusError) in .array(of: BusSignature(unchecked: contents), try readAll(m)) }
        case UInt8(ascii: "r"):
            return try enter { () throws(BusError) in .structure(try readAll(m)) }
        case UInt8(ascii: "e"):
            return try enter { () throws(BusError) in
                let fields = try readAll(m)
                guard fields.count == 2 else {
                    throw BusError(code: .protocolError, message: "dictionary entry with \(fields.count) fields")
                }
                return .dictEntry(fields[0], fields[1])
            }
        case UInt8(ascii: "v"):
            return try enter { () throws(BusError) in
                guard let inner = try readNext(m) else {
                    throw BusError(code: .protocolError, message: "empty variant")
                }
                return .variant(inner)
            }
        default:
            throw BusError(code: .protocolError, message: "unsupported D-Bus type code \(Character(Unicode.Scalar(t)))")
        }
    }
}

@inline(__always)
func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
