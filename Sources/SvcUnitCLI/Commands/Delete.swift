public import ArgumentParser
import Foundation
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit delete SERVICE... [--force]`: stops services if they run, then removes them from the store.
    ///
    /// Not obvious: the directory is removed only once systemd reports the unit gone, so a service
    /// that refuses to stop is kept (exit non-zero) rather than left running without its file.
    public struct Delete: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Stop services if needed and remove them from the store.",
            discussion: """
                EXAMPLES
                  svcunit delete web
                  svcunit delete 3f2a 9c41 --force
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var selection: ServiceSelection

        @Flag(help: "Kill running processes with SIGKILL instead of stopping them gracefully.")
        public var force = false

        public init() {}

        public func run() async throws {
            let force = force
            try await Batch.run(global, selection, verb: "deleting", allowingMissing: force) { target, systemd, timeout in
                if let orphan = try await systemd.delete(target.uuid, timeout: timeout, force: force) { return orphan }
                return "deleted \(target.label)"
            }
        }
    }
}
