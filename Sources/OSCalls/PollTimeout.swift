// How long a poll(2) may wait, from the deadlines svcunit keeps (Swift's ContinuousClock) and the
// ones libsystemd gives (CLOCK_MONOTONIC µs): one conversion for the bus and journal workers and the
// CLI's child processes.

/// poll() timeouts in milliseconds, rounded up so a wait never ends before its deadline.
public enum PollTimeout {
    /// Until `deadline`; 0 when it has passed.
    public static func until(_ deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    /// Until an absolute CLOCK_MONOTONIC time in µs, as sd-bus and sd-journal give their own
    /// timeouts (`UInt64.max`: none, -1).
    public static func untilMonotonic(microseconds: UInt64) -> Int32 {
        if microseconds == .max { return -1 }
        let nowMicroseconds = MonotonicClock.nanoseconds() / 1000
        return microseconds <= nowMicroseconds ? 0 : Int32(clamping: (microseconds - nowMicroseconds + 999) / 1000)
    }

    /// The smaller of two timeouts, where -1 means none.
    public static func earlier(_ a: Int32, _ b: Int32) -> Int32 {
        a < 0 ? b : b < 0 ? a : min(a, b)
    }
}
