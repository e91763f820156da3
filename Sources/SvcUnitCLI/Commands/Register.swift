public import ArgumentParser
import Foundation
import ServiceModel

extension SvcUnit {
    /// `svcunit register FILE`: adds an existing service.json (from ZenML or another store) to the store.
    ///
    /// Not obvious: the file is validated with the same registry `start` uses, so a document that
    /// registers is one svcunit can run; a UUID that is already stored is refused, never overwritten.
    public struct Register: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Validate a service.json and add it to the store.",
            discussion: """
                Prints the service's UUID. Exits 1 if a service with that UUID is already stored, \
                3 if the file does not exist, 5 if it is not a valid service document.

                EXAMPLES
                  svcunit register ./service.json
                  svcunit register --root /srv/svcunit ~/zenml/local_stores/abc/service.json
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: "The service.json file to register.")
        public var file: String

        @Flag(help: "Print the stored document instead of the UUID.")
        public var json = false

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            let data = try Inspect.read(file)
            var document: ServiceDocument
            do { document = try context.registry.decode(data: data) } catch { throw error.inFile(file) }
            let store = try context.store(create: true)
            if try store.list().contains(document.uuid) {
                throw CLIError("service \(document.uuid) is already stored in \(store.root); delete it first or register another file",
                               status: .failure)
            }
            if document.config.rootRuntimePath == nil { document.config.rootRuntimePath = store.root }
            try store.withLock(document.uuid) { try store.save(document) }
            if json { print(document.formatted(), terminator: "") } else { print(document.uuid.rawValue) }
        }
    }
}
