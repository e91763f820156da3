import ArgumentParser
import FoundationEssentials
import ServiceModel

/// The stored services' summaries as `list` reads them: through the store's `ServiceSummaryCache`,
/// and with one rule for reading a document that is not in it. Not obvious: name lookups do not use
/// it; skimming every name costs less than keeping the cache current in a loop of `create`s.
enum StoredSummaries {
    /// The cache of `store` for this build of svcunit. Make it before scanning the store: its time
    /// decides which files are old enough to keep.
    static func cache(for store: ServiceStore) -> ServiceSummaryCache {
        ServiceSummaryCache(store: store, generation: ServiceSummaryCache.currentGeneration(version: SvcUnit.configuration.version))
    }

    /// One document read and decoded in full.
    struct Read: Sendable {
        /// The document, when it decodes and holds its directory's UUID.
        var document: ServiceDocument?
        /// Why it cannot be used, in one line (`ExitCodes.oneLine`).
        var error: String?
        /// What the cache may keep: the summary or the decoding error; nil when the file could not
        /// be read at all (that may pass, so it is not kept).
        var outcome: ServiceSummaryCache.Outcome?
    }

    static func read(_ uuid: ServiceUUID, store: ServiceStore, registry: ServiceRegistry) -> Read {
        let data: Data
        do { data = try store.read(uuid) } catch {
            return Read(error: ExitCodes.oneLine(error))
        }
        do {
            let document = try store.document(uuid, decoding: data, with: registry)
            return Read(document: document, outcome: .success(ServiceSummary(document)))
        } catch {
            let message = ExitCodes.oneLine(error)
            return Read(error: message, outcome: .failure(ServiceSummaryCache.CachedError(message)))
        }
    }
}
