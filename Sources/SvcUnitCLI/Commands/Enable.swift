public import ArgumentParser
import FoundationEssentials
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
            commandName: "enable",
            _superCommandName: SvcUnit.toolName,
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

        @OptionGroup public var selection: ServiceSelection

        public init() {}

        public func run() async throws {
            try await Batch.run(global, selection, verb: "enabling") { target, systemd, timeout in
                try await systemd.enable(target.uuid, timeout: timeout)
                return "enabled \(target.label) as \(ServiceUnit(target.uuid).templateInstance)"
            }
        }
    }

    /// `svcunit disable SERVICE...`: undoes `enable` (stops the instance, removes the enablement).
    public struct Disable: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "disable",
            _superCommandName: SvcUnit.toolName,
            abstract: "Stop and disable persistent services (svcunit@<uuid>.service).",
            discussion: """
                The service stays stored; `svcunit start` runs it as a transient unit again.

                EXAMPLES
                  svcunit disable web
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var selection: ServiceSelection

        public init() {}

        public func run() async throws {
            try await Batch.run(global, selection, verb: "disabling") { target, systemd, timeout in
                try await systemd.disable(target.uuid, timeout: timeout)
                return "disabled \(target.label)"
            }
        }
    }
}
