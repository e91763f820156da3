public import ArgumentParser
import Foundation
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit enable SERVICE...`: makes services persistent as `svcunit@<uuid>.service`.
    ///
    /// Not obvious: the instance is a `Type=notify` unit, so it counts as started only once its
    /// health monitor passes; after this, plain `systemctl --user start|stop|status svcunit@<uuid>`
    /// manage it without svcunit, and it comes back after logout/reboot (with `loginctl enable-linger`).
    public struct Enable: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Make services persistent: enable and start them as svcunit@<uuid>.service.",
            discussion: """
                Writes the svcunit@ template (when the package did not install it) and a drop-in naming \
                this store, enables the instance through systemd (EnableUnitFiles) and starts it, \
                replacing a running transient unit of the same service.

                EXAMPLES
                  svcunit enable web
                  systemctl --user status svcunit@$(svcunit status web --json | jq -r .uuid)
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("Services: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var services: [String]

        @Option(help: ArgumentHelp("Seconds to wait for each service to become healthy (default 60).", valueName: "seconds"))
        public var timeout: String = "60"

        public init() {}

        public func validate() throws {
            if services.isEmpty { throw ValidationError("name at least one service") }
        }

        public func run() async throws {
            let context = CommandContext(global)
            let seconds = try TimeParsing.seconds(timeout, option: "--timeout")
            let targets = try context.lookup().resolveAll(services)
            let systemd = try await context.services(store: try context.store(create: false))
            try await Batch.run(targets, verb: "enabling") { target in
                try await systemd.enable(target.uuid, timeout: TimeParsing.duration(seconds))
                return "enabled \(target.label) as \(ServiceUnit(target.uuid).templateInstance)"
            }
        }
    }

    /// `svcunit disable SERVICE...`: undoes `enable` (stops the instance, removes the enablement).
    public struct Disable: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Stop and disable persistent services (svcunit@<uuid>.service).",
            discussion: """
                The service stays stored; `svcunit start` runs it as a transient unit again.

                EXAMPLES
                  svcunit disable web
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("Services: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var services: [String]

        @Option(help: ArgumentHelp("Seconds to wait for each service to stop (default 30).", valueName: "seconds"))
        public var timeout: String = "30"

        public init() {}

        public func validate() throws {
            if services.isEmpty { throw ValidationError("name at least one service") }
        }

        public func run() async throws {
            let context = CommandContext(global)
            let seconds = try TimeParsing.seconds(timeout, option: "--timeout")
            let targets = try context.lookup().resolveAll(services)
            let systemd = try await context.services(store: try context.store(create: false))
            try await Batch.run(targets, verb: "disabling") { target in
                try await systemd.disable(target.uuid, timeout: TimeParsing.duration(seconds))
                return "disabled \(target.label)"
            }
        }
    }
}
