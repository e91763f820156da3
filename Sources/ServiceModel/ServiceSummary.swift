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
}

extension ServiceSummary {
    /// The summary of a fully decoded document. (An extension, so that the struct keeps its
    /// synthesized memberwise initializer, which the cache's reader uses.)
    public init(_ document: ServiceDocument) {
        name = document.config.name
        type = document.serviceType.type
        flavor = document.serviceType.flavor
        endpoint = document.endpoint.map { Endpoint(protocol: $0.config.protocol, port: $0.config.port, uri: $0.status.uri) }
        probed = document.endpoint.map { $0.monitor != nil && $0.status.uri != nil } ?? false
        supervised = document.healthSupervision != nil
    }
}

/// The outcome of decoding each stored document at its last listing, keyed by the file's identity
/// (`ServiceStore.FileIdentity`), so `list` of 1,000 unchanged services reads one file, not 1,000.
///
/// Kept in `<root>/.list-cache`, written whole to a temporary file and renamed (never fsynced: it
/// only saves work, and a lost or damaged cache is rebuilt). An entry counts only for the same
/// identity and the same svcunit binary (`generation`), since another build may decode differently.
///
/// Not obvious: a file whose change time is less than `racyWindowNanoseconds` before it was looked
/// at is not kept (git's racy-entry rule): a second write in the same tick of the kernel's file
/// clock, with the same size, would leave the identity as it was with different content.
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
    /// What the file held when the cache was made.
    private var entries: [ServiceUUID: Entry] = [:]
    /// What this run decoded and may keep.
    private var fresh: [ServiceUUID: (identity: ServiceStore.FileIdentity, outcome: Outcome)] = [:]
    /// Whether anything was decoded (kept or not): the file is then written again.
    private var changed = false

    /// A kept outcome and its line as read (written back as it was when it still holds).
    struct Entry {
        var identity: ServiceStore.FileIdentity
        var outcome: Outcome
        var line: ArraySlice<UInt8>
    }

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
        var bytes = Array("\(Self.magic)\t\(Self.escaped(generation))\n".utf8)
        bytes.reserveCapacity(kept.count * 160)
        for (uuid, identity, outcome) in kept {
            // An entry kept as it was is copied as it was read: a thousand lines are not formatted
            // again for the one that changed.
            if fresh[uuid] == nil, let old = entries[uuid] { bytes += old.line; bytes.append(0x0A); continue }
            bytes += Self.line(uuid, identity, outcome).utf8
        }
        let temporary = "\(path).\(CurrentProcess.id).tmp"
        POSIX.unlinkFile(temporary)
        guard POSIX.writeNewFile(temporary, bytes) else { POSIX.unlinkFile(temporary); return }
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

    static func read(_ path: String, generation: String) -> [ServiceUUID: Entry] {
        guard let data = try? POSIX.openNoFollow(path, flags: POSIX.readOnly) else { return [:] }
        defer { POSIX.closeFD(data) }
        guard let read = try? POSIX.readAll(data, limit: 64 << 20) else { return [:] }
        let bytes = Array(read)
        var out: [ServiceUUID: Entry] = [:]
        // One pass over the bytes, fields as ranges: a thousand entries are a thousand lines, and
        // splitting `Data` or making a string of every field costs more than the decoding saved.
        var start = 0
        var header = true
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let line = bytes[start..<end]
            start = end + 1
            let fields = Self.fieldRanges(line)
            if header {
                guard fields.count == 2, Self.text(bytes, fields[0]) == magic, Self.text(bytes, fields[1]) == generation else { return [:] }
                header = false
                continue
            }
            guard let (uuid, identity, outcome) = entry(bytes, fields) else { continue }
            out[uuid] = Entry(identity: identity, outcome: outcome, line: line)
        }
        return out
    }

    /// The byte ranges of a line's tab-separated fields.
    static func fieldRanges(_ line: ArraySlice<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(14)
        var from = line.startIndex
        for index in line.indices where line[index] == 0x09 {
            ranges.append(from..<index)
            from = index + 1
        }
        ranges.append(from..<line.endIndex)
        return ranges
    }

    /// A field's text, unescaped.
    static func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
        let slice = bytes[range]
        let text = String(decoding: slice, as: UTF8.self)
        return slice.contains(0x5C) ? unescaped(text) : text
    }

    /// A field of decimal digits (an optional leading minus), without making a string of it.
    static func number<T: FixedWidthInteger>(_ bytes: [UInt8], _ range: Range<Int>, as: T.Type) -> T? {
        var index = range.lowerBound
        let negative = index < range.upperBound && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < range.upperBound, range.count <= 20 else { return nil }
        var value: T = 0
        while index < range.upperBound {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = negative ? times.subtractingReportingOverflow(T(digit)) : times.addingReportingOverflow(T(digit))
            guard !o1, !o2 else { return nil }
            value = plus
            index += 1
        }
        return value
    }

    /// One line's entry; nil for a line that is not one (then it is left out, and decoded anew).
    static func entry(_ b: [UInt8], _ f: [Range<Int>]) -> (ServiceUUID, ServiceStore.FileIdentity, Outcome)? {
        guard f.count >= 8, let uuid = ServiceUUID(rawValue: text(b, f[0])),
              let device = number(b, f[1], as: UInt64.self), let inode = number(b, f[2], as: UInt64.self),
              let size = number(b, f[3], as: Int64.self), let modified = number(b, f[4], as: Int64.self),
              let changed = number(b, f[5], as: Int64.self) else { return nil }
        let identity = ServiceStore.FileIdentity(device: device, inode: inode, size: size, modified: modified, changed: changed)
        switch text(b, f[6]) {
        case "ok" where f.count == 14:
            var endpoint: ServiceSummary.Endpoint?
            let proto = text(b, f[10]), portText = text(b, f[11]), uri = text(b, f[12]), flags = text(b, f[13])
            if proto != "-" {
                guard let p = EndpointProtocol(rawValue: proto) else { return nil }
                let port: TCPPort?
                if portText == "-" { port = nil } else { guard let n = number(b, f[11], as: UInt16.self), let t = TCPPort(rawValue: n) else { return nil }; port = t }
                endpoint = .init(protocol: p, port: port, uri: uri == "-" ? nil : String(uri.dropFirst()))
            }
            return (uuid, identity, .success(ServiceSummary(name: text(b, f[7]), type: text(b, f[8]), flavor: text(b, f[9]), endpoint: endpoint,
                                                            probed: flags.contains("p"), supervised: flags.contains("s"))))
        case "error" where f.count == 8:
            return (uuid, identity, .failure(CachedError(text(b, f[7]))))
        default:
            return nil
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
