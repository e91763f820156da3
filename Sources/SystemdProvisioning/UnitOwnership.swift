import ServiceModel
public import SystemdManager
import OSCalls

/// Whose service a loaded `svcunit-<uuid>.service` (or `svcunit@<uuid>.service`) runs: the checked
/// identity that ties a unit to one store.
///
/// Unit names are per user, not per store: two stores holding the same UUID (the same document
/// registered twice) name the same unit. What tells them apart is the absolute path of the service
/// document in the unit's `ExecStart` (`--config-file FILE`, for the entrypoint and for the Python
/// runner alike; a template instance's `${SVCUNIT_ROOT}` is resolved from its `Environment`). Not
/// obvious: only a unit that is doing something counts (not `inactive`); a merely loadable template
/// instance names the default store and says nothing about this one.
public enum UnitOwnership: Sendable, Hashable {
    /// The unit runs this store's document for the UUID.
    case ours
    /// The unit runs svcunit for another document (another store, or a moved one).
    case otherFile(String)
    /// The unit does not run a svcunit service document at all (its argv, as systemd reports it).
    case notSvcunit([String])

    /// The document a unit runs: the `--config-file` argument of its first `ExecStart` command,
    /// with `${VAR}`/`$VAR` resolved from the unit's `Environment`. nil when there is none.
    public static func documentFile(execStart: [ExecCommand], environment: [String]) -> String? {
        guard let file = execStart.first?.value(after: "--config-file") else { return nil }
        return ExecCommand.expanding(file, environment: environment)
    }

    /// Compares what a unit runs with `file`, the document this store keeps for the unit's UUID.
    /// A unit with no `ExecStart` at all counts as ours: it runs nothing that could be another's. It is
    /// what a read sees of a unit between a stop and the next start (a stub systemd loaded for the
    /// property read, or a unit being torn down), as in a `restart`.
    public static func of(execStart: [ExecCommand], environment: [String], ownFile file: String) -> UnitOwnership {
        if execStart.isEmpty { return .ours }
        guard let runs = documentFile(execStart: execStart, environment: environment) else {
            return .notSvcunit(execStart.first?.argv ?? [])
        }
        return sameFile(runs, file) ? .ours : .otherFile(runs)
    }

    /// Whether two paths name the same file: compared after resolving symbolic links of the longest
    /// part of each that exists, so a missing document still compares by its directory.
    public static func sameFile(_ a: String, _ b: String) -> Bool {
        a == b || canonical(a) == canonical(b)
    }

    /// `path` with its longest existing prefix resolved (`realpath`) and the rest appended as is.
    static func canonical(_ path: String) -> String {
        var head = path
        var tail: [Substring] = []
        while !head.isEmpty, head != "/" {
            if let base = PathFacts.canonical(head) {
                return tail.isEmpty ? base : (base == "/" ? "" : base) + "/" + tail.reversed().joined(separator: "/")
            }
            guard let slash = head.lastIndex(of: "/") else { break }
            tail.append(head[head.index(after: slash)...])
            head = slash == head.startIndex ? "/" : String(head[..<slash])
        }
        return path
    }

    /// How a service unit's `Description` ends: ` from FILE`, the document its `ExecStart` runs
    /// (paths that reach a unit are checked free of control characters).
    public static func descriptionSuffix(_ file: String) -> String { " from \(file)" }

    /// Whether a unit's `Description` says it runs `file` (see `descriptionSuffix`): enough for a
    /// listing to count the unit as this store's without reading its `ExecStart`.
    ///
    /// Not obvious: only a match is taken on its word. A unit that svcunit did not start could say
    /// anything, and every other answer (another file, an older svcunit's description, a template
    /// instance's fixed one) is settled by `ExecStart`, as before. Whoever can forge a description
    /// can also start the unit with any command line as the same user; commands that act on a unit
    /// (`stop`, `delete`, `status`) read `ExecStart` itself.
    public static func description(_ description: String, runs file: String) -> Bool {
        description.hasSuffix(descriptionSuffix(file))
    }

    /// For messages: `/bin/sleep 300` for a foreign argv.
    static func commandLine(_ argv: [String]) -> String {
        argv.isEmpty ? "no command" : argv.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}

/// A loaded unit with the service's name runs something other than this store's document, so
/// svcunit refuses to adopt it, report it as this service, stop it or delete it.
///
/// The message is one line naming the service, the unit, what the unit runs, and what to try.
public struct UnitOwnershipError: Error, CustomStringConvertible, Sendable {
    public var label: String
    public var unit: UnitName
    public var ownership: UnitOwnership
    /// What this store would run: its document for the UUID.
    public var ownFile: String
    /// What the command refused to do, as a gerund: "starting", "stopping", "deleting", "reporting".
    public var refused: String

    public init(label: String, unit: UnitName, ownership: UnitOwnership, ownFile: String, refused: String) {
        self.label = label
        self.unit = unit
        self.ownership = ownership
        self.ownFile = ownFile
        self.refused = refused
    }

    public var description: String {
        switch ownership {
        case .ours:
            return "\(label): unit \(unit) runs this store's \(ownFile)"
        case .otherFile(let file):
            let otherRoot = Self.storeRoot(of: file)
            return "\(label): not \(refused) unit \(unit): it runs \(file), not this store's \(ownFile) "
                + "(unit names are per user, across stores: one UUID runs from one store at a time; "
                + (otherRoot.map { "use `svcunit --root \($0)` there" } ?? "stop it where it was started") + ")"
        case .notSvcunit(let argv):
            return "\(label): not \(refused) unit \(unit): it is not a svcunit service "
                + "(it runs \(UnitOwnership.commandLine(argv))); stop it with `systemctl --user stop \(unit)` if it is yours"
        }
    }

    /// `<root>` of `<root>/<uuid>/service.json`, when the path has that shape.
    static func storeRoot(of file: String) -> String? {
        let parts = file.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts.last == Substring(ServiceStore.fileName), ServiceUUID(rawValue: String(parts[parts.count - 2])) != nil else { return nil }
        let root = parts.dropLast(2).joined(separator: "/")
        return root.isEmpty ? "/" : root
    }
}
