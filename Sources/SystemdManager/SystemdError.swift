public import SDBus

/// Why an operation on the systemd manager failed, naming the unit and what to try.
///
/// Wraps the `BusError` it came from (with the D-Bus error name systemd sent, such as
/// `org.freedesktop.systemd1.NoSuchUnit`) rather than flattening it to text, so callers can still
/// match on the name. Not obvious: systemd's "unit not loaded" is `noSuchUnit` here even for a unit
/// that exists on disk but is not loaded right now.
public struct SystemdError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable, Hashable {
            case noUserManager, noSuchUnit, unitExists, invalidUnitName, invalidProperty, jobFailed, timedOut,
                busFailure, protocolError
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// No user manager could be reached.
        public static let noUserManager = Code(.noUserManager)
        /// `org.freedesktop.systemd1.NoSuchUnit`: the unit is not loaded.
        public static let noSuchUnit = Code(.noSuchUnit)
        /// `org.freedesktop.systemd1.UnitExists`: a transient unit of that name is still loaded.
        public static let unitExists = Code(.unitExists)
        public static let invalidUnitName = Code(.invalidUnitName)
        /// systemd refused a transient-unit property (`PropertyReadOnly`, `InvalidArgs`).
        public static let invalidProperty = Code(.invalidProperty)
        /// A job ended with a result other than done/skipped.
        public static let jobFailed = Code(.jobFailed)
        public static let timedOut = Code(.timedOut)
        /// Any other D-Bus failure; see `busError`.
        public static let busFailure = Code(.busFailure)
        /// systemd's reply did not have the documented shape.
        public static let protocolError = Code(.protocolError)
        public var description: String { kind.rawValue }
    }

    public var code: Code
    public var message: String
    public var unit: UnitName?
    public var busError: BusError?
    /// What the user could try, e.g. `systemctl --user reset-failed <unit>`.
    public var hint: String?

    public init(code: Code, message: String, unit: UnitName? = nil, busError: BusError? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.unit = unit
        self.busError = busError
        self.hint = hint
    }

    /// The D-Bus error name, when systemd sent one.
    public var dbusErrorName: String? { busError?.name }

    public var description: String {
        var s = message
        if let name = busError?.name, !s.contains(name) { s += " (\(name))" }
        if let hint { s += "; " + hint }
        return s
    }
}

/// The D-Bus error names systemd's manager sends.
public enum SystemdErrorName {
    public static let noSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
    public static let unitExists = "org.freedesktop.systemd1.UnitExists"
    public static let noSuchJob = "org.freedesktop.systemd1.NoSuchJob"
    public static let noSuchProcess = "org.freedesktop.systemd1.NoSuchProcess"
    public static let jobFailed = "org.freedesktop.systemd1.JobFailed"
    public static let alreadySubscribed = "org.freedesktop.systemd1.AlreadySubscribed"
    public static let unitMasked = "org.freedesktop.systemd1.UnitMasked"
}

extension SystemdError {
    /// Classifies a bus failure of `operation` on `unit`.
    static func from(_ error: any Error, operation: String, unit: UnitName?) -> SystemdError {
        if let e = error as? SystemdError { return e }
        guard let bus = error as? BusError else {
            return SystemdError(code: .busFailure, message: "\(operation) failed: \(error)", unit: unit)
        }
        let subject = unit.map { " \($0)" } ?? ""
        switch bus.name {
        case SystemdErrorName.noSuchUnit?:
            return SystemdError(code: .noSuchUnit, message: "unit\(subject) is not loaded: \(bus.message)",
                                unit: unit, busError: bus)
        case SystemdErrorName.unitExists?:
            return SystemdError(code: .unitExists, message: "unit\(subject) already exists: \(bus.message)",
                                unit: unit, busError: bus,
                                hint: unit.map { "stop it or run `systemctl --user reset-failed \($0)`" })
        case BusErrorName.propertyReadOnly?, BusErrorName.invalidArgs?:
            return SystemdError(code: .invalidProperty, message: "\(operation)\(subject) rejected: \(bus.message)",
                                unit: unit, busError: bus)
        default:
            break
        }
        if bus.code == .timedOut {
            return SystemdError(code: .timedOut, message: "\(operation)\(subject): no answer from the user manager in time",
                                unit: unit, busError: bus, hint: "check `systemctl --user status`")
        }
        if bus.code == .libraryUnavailable { return libraryUnavailable(bus) }
        if bus.code == .disconnected || bus.code == .connectionFailed {
            return SystemdError(code: .noUserManager, message: "\(operation)\(subject): lost the user manager: \(bus.message)",
                                unit: unit, busError: bus, hint: "check `systemctl --user status`")
        }
        if bus.code == .protocolError {
            return SystemdError(code: .protocolError, message: "\(operation)\(subject): \(bus.message)", unit: unit, busError: bus)
        }
        return SystemdError(code: .busFailure, message: "\(operation)\(subject) failed: \(bus.message)", unit: unit, busError: bus)
    }
}

extension SystemdError {
    /// libsystemd.so.0 could not be opened: no user manager can be reached without it.
    static func libraryUnavailable(_ bus: BusError) -> SystemdError {
        SystemdError(code: .noUserManager, message: "cannot talk to systemd: \(bus.message)", busError: bus,
                     hint: "svcunit reaches systemd through libsystemd.so.0; install the libsystemd0 package")
    }
}
