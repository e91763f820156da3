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
        /// False while `name` is only what `JSONSkim` found: the file may still not decode, and then
        /// the service has no name. `verified` decides.
        var verified = true
        var label: String { name.map { "\(uuid) (\($0))" } ?? uuid.rawValue }
    }

    /// Every stored service with its name (nil when the file does not decode).
    ///
    /// Not obvious: the names are skimmed (`JSONSkim`: `config.name` only, nothing else of the
    /// document is built), so a name check or lookup in a store of 1,000 services costs the reads of
    /// the files and little more; a candidate is decoded in full only when its skimmed name matters
    /// (it matches, see `verified`) or the skim could not tell (then at once, as before).
    func candidates() throws -> [Candidate] {
        guard let store else { return [] }
        return try store.list().map { uuid in
            guard let data = try? store.read(uuid) else { return Candidate(uuid: uuid, name: nil) }
            if let name = JSONSkim.string(at: ["config", "name"], in: data) { return Candidate(uuid: uuid, name: name, verified: false) }
            return Candidate(uuid: uuid, name: (try? registry.decode(data: data))?.config.name)
        }
    }

    /// `candidate` with the name a full decode of its file gives (nil when it does not decode), as
    /// every message and match must show it. A skim's name is the decoded one whenever the file
    /// decodes (`JSONSkim`'s contract), so only skimmed names equal to what is looked for need this.
    func verified(_ candidate: Candidate) -> Candidate {
        guard !candidate.verified, let store else { return candidate }
        let name = (try? store.read(candidate.uuid)).flatMap { try? registry.decode(data: $0) }?.config.name
        return Candidate(uuid: candidate.uuid, name: name)
    }

    /// The stored services whose document decodes and is named `name`.
    func named(_ name: String, among all: [Candidate]) -> [Candidate] {
        all.filter { $0.name == name }.map(verified).filter { $0.name == name }
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
            if let found = known?.first(where: { $0.uuid == uuid }) { return verified(found) }
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
        let named = named(identifier, among: all)
        let lower = identifier.lowercased()
        let matches = !named.isEmpty ? named : identifier.isEmpty ? [] : all.filter { $0.uuid.rawValue.hasPrefix(lower) }.map(verified)
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
