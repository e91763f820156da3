public import SDBus

/// One command of a service's `ExecStart=` (or another `Exec*=` list) as systemd reports it: the
/// `(sasbttttuii)` struct of the `org.freedesktop.systemd1.Service` properties.
///
/// Not obvious: systemd reports argv after specifier expansion (`%i` is the instance) but *before*
/// environment expansion, so a template's `${SVCUNIT_ROOT}/%i/service.json` arrives as
/// `${SVCUNIT_ROOT}/<uuid>/service.json`; `expanding(_:)` resolves it against the unit's `Environment`.
/// A `$$` sent at creation (svcunit's escape for a literal `$`) also arrives as `$$`.
public struct ExecCommand: Sendable, Hashable {
    /// The executable's path.
    public var path: String
    /// The full argv, argv[0] included.
    public var argv: [String]
    /// `-` prefix: a failing exit is ignored.
    public var ignoreFailure: Bool
    /// The PID of the last (or current) run of this command; 0 when it never ran.
    public var pid: UInt32

    public init(path: String, argv: [String], ignoreFailure: Bool = false, pid: UInt32 = 0) {
        self.path = path
        self.argv = argv
        self.ignoreFailure = ignoreFailure
        self.pid = pid
    }

    /// Parses one `(sasbttttuii)` struct; nil for any other shape.
    init?(_ value: BusValue) {
        guard let f = value.structureValue, f.count == 10, let path = f[0].stringValue,
              let argv = f[1].arrayValue?.compactMap(\.stringValue), let ignore = f[2].boolValue else { return nil }
        self.init(path: path, argv: argv, ignoreFailure: ignore, pid: f[7].integerValue.flatMap { UInt32(exactly: $0) } ?? 0)
    }

    /// Parses an `a(sasbttttuii)` property value (a variant or the bare array); empty for anything else.
    public static func list(_ value: BusValue?) -> [ExecCommand] {
        (value?.arrayValue ?? []).compactMap(ExecCommand.init)
    }

    /// The value of the argument after `option` (`--config-file PATH` → `PATH`), if present.
    public func value(after option: String) -> String? {
        guard let index = argv.firstIndex(of: option), index + 1 < argv.count else { return nil }
        return argv[index + 1]
    }

    /// `word` with `$$` turned into `$` and `${NAME}`/`$NAME` replaced from `environment`
    /// (`NAME=value` strings, the later assignment winning), as systemd does when it runs the command.
    /// A variable that is not set becomes empty, as in systemd.
    public static func expanding(_ word: String, environment: [String]) -> String {
        var values: [String: String] = [:]
        for assignment in environment {
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            values[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...])
        }
        let scalars = Array(word.unicodeScalars)
        func isNameScalar(_ s: Unicode.Scalar) -> Bool {
            s == "_" || ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
        }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            guard scalars[i] == "$", i + 1 < scalars.count else { out.append(scalars[i]); i += 1; continue }
            if scalars[i + 1] == "$" { out.append("$"); i += 2; continue }
            if scalars[i + 1] == "{", let close = scalars[(i + 2)...].firstIndex(of: "}") {
                var name = String.UnicodeScalarView()
                name.append(contentsOf: scalars[(i + 2)..<close])
                out.append(contentsOf: (values[String(name)] ?? "").unicodeScalars)
                i = close + 1
                continue
            }
            var end = i + 1
            while end < scalars.count, isNameScalar(scalars[end]) { end += 1 }
            if end == i + 1 { out.append("$"); i += 1; continue }
            var name = String.UnicodeScalarView()
            name.append(contentsOf: scalars[(i + 1)..<end])
            out.append(contentsOf: (values[String(name)] ?? "").unicodeScalars)
            i = end
        }
        return String(out)
    }
}

extension UnitStatus {
    /// `ExecStart` as read with the unit's properties (empty for a unit that is not a service or not loaded).
    public var execStart: [ExecCommand] { ExecCommand.list(properties["ExecStart"]) }
    /// `Environment=` assignments (`NAME=value`) as read with the unit's properties.
    public var environment: [String] { properties["Environment"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
}

extension SystemdManager {
    /// The `ExecStart` property of a service unit (`org.freedesktop.systemd1.Service`, `a(sasbttttuii)`),
    /// read now. Empty for a unit that is not loaded (systemd answers a stub with no commands).
    public func execStart(_ name: UnitName) async throws(SystemdError) -> [ExecCommand] {
        ExecCommand.list(try await unitProperty(name, interface: Self.serviceInterface, property: "ExecStart"))
    }

    /// What each of many service units runs: its `ExecStart`, and for the units in `environmentOf`
    /// also its `Environment`, in one batch of `Get` calls (`BusConnection.callAll`: sent back to
    /// back, one hand-over, one resumption). A unit whose `ExecStart` cannot be read is left out; an
    /// `Environment` that cannot be read is empty.
    public func execStarts(_ names: [UnitName], environmentOf: Set<UnitName> = []) async
        -> [UnitName: (execStart: [ExecCommand], environment: [String])] {
        let withEnvironment = names.filter { environmentOf.contains($0) }
        let calls = names.map { MethodCall.getProperty(destination: Self.destination, path: $0.objectPath,
                                                       interface: Self.serviceInterface, property: "ExecStart") }
            + withEnvironment.map { MethodCall.getProperty(destination: Self.destination, path: $0.objectPath,
                                                           interface: Self.serviceInterface, property: "Environment") }
        let replies = await bus.callAll(calls)
        var environments: [UnitName: [String]] = [:]
        for (name, reply) in zip(withEnvironment, replies[names.count...]) {
            environments[name] = (try? reply.get())?.first?.unwrappedVariant.arrayValue?.compactMap(\.stringValue) ?? []
        }
        var out: [UnitName: (execStart: [ExecCommand], environment: [String])] = [:]
        for (name, reply) in zip(names, replies) {
            guard let value = (try? reply.get())?.first else { continue }
            out[name] = (ExecCommand.list(value.unwrappedVariant), environments[name] ?? [])
        }
        return out
    }

    /// The `Environment` property of a service unit (`as`: its `Environment=` assignments), read now.
    public func environment(_ name: UnitName) async throws(SystemdError) -> [String] {
        try await unitProperty(name, interface: Self.serviceInterface, property: "Environment").arrayValue?.compactMap(\.stringValue) ?? []
    }
}
