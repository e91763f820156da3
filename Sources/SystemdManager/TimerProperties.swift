import SDBus

/// The properties of a transient `.timer` unit (systemd.timer), typed as `StartTransientUnit` takes them.
///
/// Not obvious: a transient timer's monotonic triggers are not set one property each but as one
/// `TimersMonotonic` array of (base, µs) pairs, and the base is spelled as in a unit file
/// (`OnActiveSec`, not `OnActiveUSec`: 252 answers "Invalid timer base" to the latter).
extension UnitProperty {
    /// A monotonic trigger of a timer: its base (systemd.timer) and the delay after it.
    public enum TimerBase: String, Sendable, Hashable {
        /// Relative to when the timer itself was activated (`OnActiveSec=`).
        case active = "OnActiveSec"
        /// Relative to when the unit it triggers was last activated (`OnUnitActiveSec=`).
        case unitActive = "OnUnitActiveSec"
        /// Relative to when the unit it triggers last became inactive (`OnUnitInactiveSec=`).
        case unitInactive = "OnUnitInactiveSec"
    }

    /// `OnActiveSec=`, `OnUnitInactiveSec=`, … as the `TimersMonotonic` array `a(st)`.
    public static func timersMonotonic(_ timers: [(TimerBase, Duration)]) -> UnitProperty {
        .init(name: "TimersMonotonic", value: .array(of: "(st)", timers.map { base, delay in
            .structure([.string(base.rawValue), .uint64(delay.microseconds)])
        }))
    }

    /// `AccuracySec=` (systemd.timer), as `AccuracyUSec`: how late systemd may fire the timer to
    /// coalesce wake-ups. Its default is one minute, far too coarse for checks every few seconds.
    public static func timerAccuracy(_ accuracy: Duration) -> UnitProperty {
        .init(name: "AccuracyUSec", value: .uint64(accuracy.microseconds))
    }
}
