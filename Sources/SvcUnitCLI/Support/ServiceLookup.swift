import FoundationEssentials
import ServiceModel

/// Turns what a user typed (a full UUID, a unique UUID prefix or a service name) into stored UUIDs.
///
/// Not obvious: an exact name wins over UUID prefixes (names such as `b` or `cafe` are also hex
/// prefixes, and would otherwise be ambiguous most of the time); prefixes are matched only when no
/// service has that name. Two services with the same name (possible through `register`) or a
/// prefix shared by several UUIDs are ambiguous: exit 2 with the candidates listed. A full UUID
/// always means exactly that service.
struct ServiceLookup {
    let store: ServiceStore?
    let root: String
    let registry: ServiceRegistry

    /// One stored service's identity, for matching and for messages.
    struct Candidate {
        var uuid: ServiceUUID
        var name: String?
        var label: String { name.map { "\(uuid) (\($0))" } ?? uuid.rawValue }
    }

    /// Every stored service with its name (nil when the file does not decode).
    func candidates() throws -> [Candidate] {
        guard let store else { return [] }
        return try store.list().map { uuid in
            let name = (try? store.read(uuid)).flatMap { try? registry.decode(data: $0) }?.config.name
            return Candidate(uuid: uuid, name: name)
        }
    }

    /// A full UUID is looked up directly, without reading the other services, and its file is read at
    /// once: an entry that is not a usable service (a planted symlink, a directory without
    /// service.json) is reported for what it is, before systemd is contacted, not as "no service".
    ///
    /// - Throws: `CLIError` `.notFound` (3) when nothing matches, `.usage` (2) when several do; the
    ///   store's `ServiceModelError` (e.g. `.unsafePath`) for an entry it refuses to read.
    /// - Parameter allowingMissing: a full UUID with no entry in the store still resolves (without a
    ///   name), for `stop`/`delete --force`, which can stop a unit whose document is gone.
    func resolve(_ identifier: String, among known: [Candidate]? = nil, allowingMissing: Bool = false) throws -> Candidate {
        if let uuid = ServiceUUID(rawValue: identifier) {
            if let found = known?.first(where: { $0.uuid == uuid }) { return found }
            guard let store, store.hasEntry(for: uuid) else {
                if allowingMissing { return Candidate(uuid: uuid, name: nil) }
                throw CLIError("no service \(uuid) in \(root)", status: .notFound)
            }
            // A document that does not decode (or is too large, or missing from a real directory) still
            // resolves: loading it reports the problem in full, and `delete --force` can remove it. An
            // entry svcunit refuses to read at all (a symbolic link) is refused here.
            let data: Data?
            do { data = try store.read(uuid) } catch {
                guard error.code == .documentTooLarge || error.code == .fileNotFound else { throw error }
                data = nil
            }
            return Candidate(uuid: uuid, name: data.flatMap { try? registry.decode(data: $0) }?.config.name)
        }
        let all = try known ?? candidates()
        // A name says exactly what it means; a prefix only abbreviates. So an exact name wins, and
        // prefixes are tried only when no service has that name.
        let named = all.filter { $0.name == identifier }
        let lower = identifier.lowercased()
        let matches = !named.isEmpty ? named : identifier.isEmpty ? [] : all.filter { $0.uuid.rawValue.hasPrefix(lower) }
        switch matches.count {
        case 1: return matches[0]
        case 0: throw CLIError("no service named or with a UUID starting with \"\(identifier)\" in \(root)", status: .notFound)
        default:
            throw CLIError(
                "\"\(identifier)\" is ambiguous: it matches \(matches.count) services: "
                    + matches.map(\.label).joined(separator: ", ") + "; give more of the UUID",
                status: .usage)
        }
    }

    /// Resolves each identifier (duplicates dropped, order kept); the first failure is thrown.
    func resolveAll(_ identifiers: [String], allowingMissing: Bool = false) throws -> [Candidate] {
        let all = identifiers.allSatisfy { ServiceUUID(rawValue: $0) != nil } ? nil : try candidates()
        var seen = Set<ServiceUUID>()
        var out: [Candidate] = []
        for identifier in identifiers {
            let found = try resolve(identifier, among: all, allowingMissing: allowingMissing)
            if seen.insert(found.uuid).inserted { out.append(found) }
        }
        return out
    }
}
