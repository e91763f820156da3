import FoundationEssentials
public import ServiceModel
public import SystemdManager
import OSCalls

extension SystemdServices {
    /// Makes a service persistent: enables `svcunit@<uuid>.service` (`EnableUnitFiles`, as
    /// `systemctl --user enable` does) so it comes back after logout or reboot, and starts it now,
    /// waiting until systemd reports it ready (healthy).
    ///
    /// Writes what the instance needs: a drop-in naming this store and entrypoint, and the template
    /// itself when no installed copy exists (a build run from the source tree). A transient unit of
    /// the same service is stopped first, so only one unit ever runs it.
    /// - Returns: the enablement changes systemd made (symlinks).
    @discardableResult
    public func enable(_ uuid: ServiceUUID, timeout: Duration) async throws -> [SystemdManager.UnitFileChange] {
        let service = try self.service(uuid)
        let unit = ServiceUnit(uuid)
        let directory = ServiceTemplate.userUnitDirectory()
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        if !ServiceTemplate.installedCopies().contains(where: fm.fileExists(atPath:)) {
            try Data(utf8: ServiceTemplate.text(entrypoint: provisioner.entrypoint))
                .write(to: URL(fileURLWithPath: directory + "/" + ServiceTemplate.fileName), options: .atomic)
        }
        let dropInDirectory = ServiceTemplate.dropInDirectory(for: unit)
        try fm.createDirectory(atPath: dropInDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try Data(utf8: ServiceTemplate.dropIn(root: store.root, entrypoint: provisioner.entrypoint))
            .write(to: URL(fileURLWithPath: dropInDirectory + "/50-svcunit.conf"), options: .atomic)
        try HealthTemplates.write(service.document, root: store.root, executable: HealthUnits.executable(entrypoint: provisioner.entrypoint),
                                  environment: CurrentProcess.environmentVariables)
        try await manager.reload()

        // One unit per service: hand over from a running transient unit.
        let transient = try await manager.unitStatus(unit.transientUnit)
        if transient.isLoaded, transient.activeState != .inactive {
            try await stop(uuid, timeout: timeout)
        }
        let changes = try await manager.enableUnitFiles([unit.templateInstance])
        _ = try await start(uuid, timeout: timeout)
        return changes
    }

    /// Undoes `enable`: stops the template instance, disables it and removes the drop-in.
    /// The service stays stored; `svcunit start` runs it as a transient unit again.
    public func disable(_ uuid: ServiceUUID, timeout: Duration) async throws {
        let service = try self.service(uuid)
        let unit = ServiceUnit(uuid)
        let instance = try await manager.unitStatus(unit.templateInstance)
        if instance.isLoaded, instance.activeState != .inactive {
            try await stop(uuid, timeout: timeout)
        }
        _ = try await manager.disableUnitFiles([unit.templateInstance])
        let dropInDirectory = ServiceTemplate.dropInDirectory(for: unit)
        try? FileManager.default.removeItem(atPath: dropInDirectory)
        HealthTemplates.remove(uuid, environment: CurrentProcess.environmentVariables)
        try await manager.reload()
        try await provisioner.persist(service)
    }
}
