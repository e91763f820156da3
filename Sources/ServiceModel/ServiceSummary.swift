import FoundationEssentials
import OSCalls

/// What `svcunit list` shows of a stored service: its name, type, flavor and endpoint, taken from a
/// fully decoded (so validated) document.
///
/// Not obvious: a summary is never built from a partial read. Whether a document is valid is decided
/// by the whole decode, once per version of the file; `ServiceSummaryCache` keeps the outcome.
public struct ServiceSummary: Sendable, Hashable {
    /// The endpoint fields a listing shows.
    public struct Endpoint: Sendable, Hashable {
        public var `protocol`: EndpointProtocol
        /// The configured port (`config.port`).
        public var port: TCPPort?
        /// The URI the running service announced (`status.uri`).
        public var uri: String?
    }

    public var name: String
    public var type: String
    public var flavor: String
    public var endpoint: Endpoint?
    /// The endpoint has a monitor and a URI to probe.
    public var probed: Bool
    /// The service is under health supervision (`HealthSupervision`).
    public var supervised: Bool

    /// Whether a running service needs its whole document for a listing: its monitor or its
    /// supervision settings.
    public var needsDocumentWhenRunning: Bool { probed || supervised }

    public init(_ document: ServiceDocument) {
        name = document.config.name
        type = document.serviceType.type
        flavor = document.serviceType.flavor
        endpoint = document.endpoint.map { Endpoint(protocol: $0.config.protocol, port: $0.config.port, uri: $0.status.uri) }
        probed = document.endpoint.map { $0.monitor != nil && $0.status.uri != nil } ?? false
        supervised = document.healthSupervision != nil
    }

    init(name: String, type: String, flavor: String, endpoint: Endpoint?, probed: Bool, supervised: Bool) {
        self.name = name
        self.type = type
        self.flavor = flavor
        self.endpoint = endpoint
        self.probed = probed
        self.supervised = supervised
    }
}

/// The outcome of decoding each stored document at its last listing, keyed by the file's identity
/// (`ServiceStore.FileIdentity`), so `list` of 1,000 unchanged services reads one file, not 1,000.
///
/// Kept in `<root>/.list-cache`, written whole to a temporary file and renamed (never fsynced: it
/// only saves work, and a lost or damaged cache is rebuilt). An entry counts only for the same
/// identity and the same svcunit binary (`generation`), since another build may decode differently.
///
/// Not obvious: a file whose change time is less than `racyWindow` before it was looked at is not
/// kept (git's racy-entry rule): a second write in the same tick of the kernel's file clock, with the
/// same size, would leave the identity as it was with different content.
public struct ServiceSummaryCache: Sendable {
    /// A document's outcome: its summary, or the one-line error that makes it an `invalid` row.
    public typealias Outcome = Result<ServiceSummary, CachedError>

    /// The message of a document that did not decode.
    public struct CachedError: Error, Sendable, Hashable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    public static let fileName = ".list-cache"
    /// How long after its last change a file must have been looked at to be kept: ten times the
    /// coarsest tick of the kernel's file clock (10 ms at HZ=100), so a list right after a `start`
    /// decodes the documents it rewrote once, not for seconds.
    public static let racyWindowNanoseconds: Int64 = 100_000_000
    static let magic = "svcunit list cache 1"

    let path: String
    let generation: String
    /// The wall clock when the cache was made, in nanoseconds: before the files were looked at.
    let lookedAt: Int64
    private var entries: [ServiceUUID: (identity: ServiceStore.FileIdentity, outcome: Outcome)] = [:]
    private var fresh: [ServiceUUID: (identity: ServiceStore.FileIdentity, outcome: Outcome)] = [:]
    private var changed = false

    /// The cache of `store`, read now (an absent, unreadable or foreign file is an empty cache).
    /// `generation` names the binary that decodes (see `currentGeneration(version:)`). Make it before
    /// the store is scanned: its time decides which files are old enough to keep.
    public init(store: ServiceStore, generation: String) {
        lookedAt = WallClock.nanoseconds()
        path = "\(store.root)/\(Self.fileName)"
        self.generation = generation
        entries = Self.read(path, generation: generation)
    }

    /// The version and the identity of the running executable: a rebuilt binary of the same version
    /// starts a new cache.
    public static func currentGeneration(version: String) -> String {
        guard let exe = try? POSIX.fileInfo("/proc/self/exe", followLink: true) else { return version }
        let id = exe.identity
        return "\(version) \(id.device):\(id.inode):\(id.size):\(id.modified)"
    }

    /// The kept outcome of the file as `identity` describes it; nil when there is none for it.
    public func outcome(for uuid: ServiceUUID, identity: ServiceStore.FileIdentity) -> Outcome? {
        guard let entry = entries[uuid], entry.identity == identity else { return nil }
        return entry.outcome
    }

    /// Records what the file was found to hold: kept when it is saved, unless it changed less than
    /// `racyWindowNanoseconds` before the cache was made.
    public mutating func record(_ uuid: ServiceUUID, identity: ServiceStore.FileIdentity, outcome: Outcome) {
        changed = true
        guard identity.changed < lookedAt - Self.racyWindowNanoseconds,
              identity.modified < lookedAt - Self.racyWindowNanoseconds else { return }
        fresh[uuid] = (identity, outcome)
    }

    /// Writes the outcomes of `listed` (the files of the scan just made), when anything differs from
    /// what was read. Failures are ignored: the cache only saves work.
    public func save(listed: [ServiceStore.StoredFile]) {
        var kept: [(ServiceUUID, ServiceStore.FileIdentity, Outcome)] = []
        kept.reserveCapacity(listed.count)
        for file in listed {
            if let new = fresh[file.uuid], new.identity == file.identity {
                kept.append((file.uuid, new.identity, new.outcome))
            } else if let old = entries[file.uuid], old.identity == file.identity {
                kept.append((file.uuid, old.identity, old.outcome))
            }
        }
        // Nothing decoded and nothing gone: the file already says this.
        guard changed || kept.count != entries.count else { return }
        var text = "\(Self.magic)\t\(Self.escaped(generation))\n"
        for (uuid, identity, outcome) in kept { text += Self.line(uuid, identity, outcome) }
        let temporary = "\(path).\(CurrentProcess.id).tmp"
        POSIX.unlinkFile(temporary)
        guard POSIX.writeNewFile(temporary, text) else { POSIX.unlinkFile(temporary); return }
        do { try POSIX.renameFile(temporary, path) } catch { POSIX.unlinkFile(temporary) }
    }

    // MARK: The file: a header line, then one tab-separated line per document

    static func line(_ uuid: ServiceUUID, _ id: ServiceStore.FileIdentity, _ outcome: Outcome) -> String {
        var fields = [uuid.rawValue, String(id.device), String(id.inode), String(id.size), String(id.modified), String(id.changed)]
        switch outcome {
        case .success(let s):
            fields += ["ok", s.name, s.type, s.flavor, s.endpoint?.protocol.rawValue ?? "-",
                       s.endpoint?.port.map { String($0.value) } ?? "-", s.endpoint?.uri.map { "=" + $0 } ?? "-",
                       (s.probed ? "p" : "") + (s.supervised ? "s" : "") + "."]
        case .failure(let error):
            fields += ["error", error.message]
        }
        return fields.map(escaped).joined(separator: "\t") + "\n"
    }

    static func read(_ path: String, generation: String) -> [ServiceUUID: (identity: ServiceStore.FileIdentity, outcome: Outcome)] {
        guard let data = try? POSIX.openNoFollow(path, flags: POSIX.readOnly) else { return [:] }
        defer { POSIX.closeFD(data) }
        guard let bytes = try? POSIX.readAll(data, limit: 64 << 20) else { return [:] }
        var out: [ServiceUUID: (identity: ServiceStore.FileIdentity, outcome: Outcome)] = [:]
        // One pass over the bytes: a thousand entries are a thousand lines to split, and splitting
        // `Data` slice by slice costs more than the decoding the cache saves.
        Array(bytes).withUnsafeBufferPointer { buffer in
            var lines = Lines(buffer)
            guard let header = lines.next(), header == [magic, generation] else { return }
            while let f = lines.next() {
                guard let (uuid, entry) = entry(f) else { continue }
                out[uuid] = entry
            }
        }
        return out
    }

    /// One line's entry; nil for a line that is not one (then it is left out, and decoded anew).
    static func entry(_ f: [String]) -> (ServiceUUID, (identity: ServiceStore.FileIdentity, outcome: Outcome))? {
        guard f.count >= 8, let uuid = ServiceUUID(rawValue: f[0]),
              let device = UInt64(f[1]), let inode = UInt64(f[2]), let size = Int64(f[3]),
              let modified = Int64(f[4]), let changed = Int64(f[5]) else { return nil }
        let identity = ServiceStore.FileIdentity(device: device, inode: inode, size: size, modified: modified, changed: changed)
        switch f[6] {
        case "ok" where f.count == 14:
            var endpoint: ServiceSummary.Endpoint?
            if f[10] != "-" {
                guard let proto = EndpointProtocol(rawValue: f[10]) else { return nil }
                let port: TCPPort?
                if f[11] == "-" { port = nil } else { guard let p = UInt16(f[11]).flatMap({ TCPPort(rawValue: $0) }) else { return nil }; port = p }
                endpoint = .init(protocol: proto, port: port, uri: f[12] == "-" ? nil : String(f[12].dropFirst()))
            }
            return (uuid, (identity, .success(ServiceSummary(name: f[7], type: f[8], flavor: f[9], endpoint: endpoint,
                                                             probed: f[13].contains("p"), supervised: f[13].contains("s")))))
        case "error" where f.count == 8:
            return (uuid, (identity, .failure(CachedError(f[7]))))
        default:
            return nil
        }
    }

    /// The file's lines, each as its tab-separated fields, unescaped.
    struct Lines {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func next() -> [String]? {
            guard position < bytes.count else { return nil }
            var fields: [String] = []
            fields.reserveCapacity(14)
            var start = position
            var escaped = false
            while position < bytes.count {
                let byte = bytes[position]
                if byte == 0x09 || byte == 0x0A {
                    fields.append(field(start, position, escaped))
                    start = position + 1
                    escaped = false
                    position += 1
                    if byte == 0x0A { return fields }
                    continue
                }
                if byte == 0x5C { escaped = true }
                position += 1
            }
            fields.append(field(start, position, escaped))
            return fields
        }

        func field(_ from: Int, _ to: Int, _ escaped: Bool) -> String {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self)
            return escaped ? ServiceSummaryCache.unescaped(text) : text
        }
    }

    /// Backslash, tab, newline and carriage return as `\\`, `\t`, `\n`, `\r`: one line per entry.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return text }
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescaped(_ text: String) -> String {
        var out = ""
        var escape = false
        for c in text.unicodeScalars {
            if escape {
                switch c {
                case "t": out += "\t"
                case "n": out += "\n"
                case "r": out += "\r"
                default: out.unicodeScalars.append(c)
                }
                escape = false
            } else if c == "\\" {
                escape = true
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
