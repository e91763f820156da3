/// A D-Bus method call to send: who, where, what, and its typed arguments.
///
/// Built from `BusValue`s so the caller states each argument's D-Bus type; the bus thread turns it into
/// an `sd_bus_message` with the non-variadic builder calls (Swift cannot call `sd_bus_message_append`).
public struct MethodCall: Sendable, Hashable {
    public var destination: String?
    public var path: ObjectPath
    public var interface: String
    public var member: String
    public var arguments: [BusValue]
    /// For a call whose reply is one `a{sv}` (`GetAll`): the keys to read; the others are skipped in
    /// the message, never decoded. nil reads the whole reply.
    public var replyKeys: Set<String>?

    public init(destination: String?, path: ObjectPath, interface: String, member: String, arguments: [BusValue] = [],
                replyKeys: Set<String>? = nil) {
        self.destination = destination
        self.path = path
        self.interface = interface
        self.member = member
        self.arguments = arguments
        self.replyKeys = replyKeys
    }

    /// `interface.member on path`, for error context.
    public var operationDescription: String { "\(interface).\(member) on \(path)" }

    /// `org.freedesktop.DBus.Properties.Get(interface, property)`; the reply is one variant.
    public static func getProperty(destination: String, path: ObjectPath, interface: String, property: String) -> MethodCall {
        MethodCall(destination: destination, path: path, interface: "org.freedesktop.DBus.Properties", member: "Get",
                   arguments: [.string(interface), .string(property)])
    }

    /// `org.freedesktop.DBus.Properties.GetAll(interface)`; the reply is one `a{sv}` (with `keeping`,
    /// only those keys: an object with hundreds of properties costs little more than the few read).
    public static func getAllProperties(destination: String, path: ObjectPath, interface: String,
                                        keeping: Set<String>? = nil) -> MethodCall {
        MethodCall(destination: destination, path: path, interface: "org.freedesktop.DBus.Properties", member: "GetAll",
                   arguments: [.string(interface)], replyKeys: keeping)
    }
}

/// A signal received on the bus, read completely into Swift values.
public struct BusSignal: Sendable, Hashable {
    public var sender: String?
    public var path: ObjectPath?
    public var interface: String?
    public var member: String?
    public var arguments: [BusValue]

    public init(sender: String?, path: ObjectPath?, interface: String?, member: String?, arguments: [BusValue]) {
        self.sender = sender
        self.path = path
        self.interface = interface
        self.member = member
        self.arguments = arguments
    }
}

/// Which signals to receive: a D-Bus match rule built from typed parts.
///
/// Not obvious: on a direct (brokerless) connection the rule is only applied locally, and on a broker it
/// is also installed at the broker; either way, a match added before a call sees every signal the call
/// causes, because the bus thread handles both in order.
public struct SignalMatch: Sendable, Hashable {
    public var sender: String?
    public var path: ObjectPath?
    public var interface: String?
    public var member: String?
    /// `arg0='…'`, e.g. the interface name of a `PropertiesChanged`.
    public var arg0: String?

    public init(sender: String? = nil, path: ObjectPath? = nil, interface: String? = nil, member: String? = nil, arg0: String? = nil) {
        self.sender = sender
        self.path = path
        self.interface = interface
        self.member = member
        self.arg0 = arg0
    }

    /// `PropertiesChanged` on one object path.
    public static func propertiesChanged(path: ObjectPath, interface: String? = nil) -> SignalMatch {
        SignalMatch(path: path, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged", arg0: interface)
    }

    /// The D-Bus match rule text, e.g. `type='signal',path='/x',member='JobRemoved'`.
    public var rule: String {
        // Appended, not `[String].joined(separator:)`: that unspecialized generic looks up `[String]`'s
        // conformances at run time, a scan of every conformance record, once per process (callgrind).
        var rule = "type='signal'"
        func quoted(_ s: String) -> String { s.replacingAll("'", with: "'\\''") }
        if let sender { rule += ",sender='\(quoted(sender))'" }
        if let path { rule += ",path='\(path.rawValue)'" }
        if let interface { rule += ",interface='\(quoted(interface))'" }
        if let member { rule += ",member='\(quoted(member))'" }
        if let arg0 { rule += ",arg0='\(quoted(arg0))'" }
        return rule
    }
}

extension String {
    /// Every `target` replaced by `replacement` (match-rule quoting here, `$` → `$$` in SystemdManager).
    package func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for c in self { if c == target { result += replacement } else { result.append(c) } }
        return result
    }
}
