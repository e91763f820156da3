public import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit stop SERVICE... [--timeout S] [--force]`: stops services and waits until their processes are gone.
    ///
    /// Not obvious: stopping a service that is not running succeeds (it records admin state
    /// `inactive`, so it is not considered "should be running" any more).
    public struct Stop: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "stop",
            _superCommandName: SvcUnit.toolName,
            abstract: "Stop services and wait until they have stopped.",
            discussion: """
                A service counts as stopped once every one of its processes is gone and how it ended \
                is recorded; systemd may take a few more milliseconds to finish the unit's own \
                clean-up (`systemctl --user status` shows it deactivating until then), and a `start` \
                right after waits for that. Several services stop concurrently. --force kills the processes (SIGKILL) instead of \
                asking them to stop (SIGTERM, then SIGKILL after the service's stop timeout). A full UUID \
                also stops a unit of this store whose service.json is broken, holds another UUID or is \
                gone (`svcunit list` shows it as orphaned). A unit of the same name that runs another \
                store's service.json is never stopped: one line names that file.

                EXAMPLES
                  svcunit stop web
                  svcunit stop 3f2a 9c41 --force
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var selection: ServiceSelection

        @Flag(help: "Kill the processes with SIGKILL instead of stopping them gracefully.")
        public var force = false

        public init() {}

        public func run() async throws {
            let force = force
            // A full UUID reaches a running unit even when its document is broken or gone.
            try await Batch.run(global, selection, verb: "stopping", allowingMissing: true) { target, systemd, timeout in
                if let orphan = try await systemd.stop(target.uuid, timeout: timeout, force: force, returnOnceEnded: true) {
                    return "\(orphan) (\(target.uuid))"
                }
                return "stopped \(target.label)"
            }
        }
    }
}
