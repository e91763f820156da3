public import ServiceModel
public import SystemdManager

extension SystemdProvisioner {
    /// What a unit runs, decided from a full read of its properties made just now (the one `GetAll`
    /// of `SystemdManager.unitStatus` carries `ExecStart` and `Environment`), so it costs no second call.
    ///
    /// Not obvious: only for a `UnitStatus` read fresh from systemd, never a watch's copy (a watch
    /// begun before the unit started holds the stub's empty `ExecStart`; see `ownership(of:uuid:)`).
    /// The same rules as `ownership(of:uuid:)`: a unit that is not loaded, or `inactive` with no job,
    /// counts as this store's.
    public func ownership(ofFreshlyRead unit: UnitStatus, uuid: ServiceUUID) -> UnitOwnership {
        guard unit.isLoaded, unit.activeState != .inactive || unit.jobID != 0 else { return .ours }
        let environment = unit.name == ServiceUnit(uuid).templateInstance ? unit.environment : []
        return UnitOwnership.of(execStart: unit.execStart, environment: environment, ownFile: store.file(for: uuid))
    }
}
