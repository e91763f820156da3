// Clocks and the calendar: the wall clock in microseconds (journald's unit), the monotonic clock,
// and a time broken into calendar fields in UTC or the local zone (gmtime_r/localtime_r, and back
// with timegm/mktime), which FoundationEssentials only offers through its much heavier Calendar.
import Glibc

public enum WallClock {
    /// Microseconds since the epoch (`CLOCK_REALTIME`), the unit of journal timestamps.
    public static func microseconds() -> UInt64 { UInt64(nanoseconds() / 1_000) }

    /// Nanoseconds since the epoch (`CLOCK_REALTIME`), the unit of `Stat`'s file times.
    public static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

public enum MonotonicClock {
    /// Nanoseconds on `CLOCK_MONOTONIC` (not set by anyone, so good for deadlines).
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// A moment as calendar fields: `month` 1–12, `day` 1–31, `weekday` 0 = Sunday, and the zone's
/// offset from UTC in seconds (0 in UTC).
public struct CalendarTime: Equatable, Sendable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    public var utcOffsetSeconds: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, utcOffsetSeconds: Int = 0) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// `seconds` since the epoch in UTC.
    public static func utc(_ seconds: Int64) -> CalendarTime {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return CalendarTime(parts)
    }

    /// `seconds` since the epoch in the local zone (`TZ`, else /etc/localtime).
    public static func local(_ seconds: Int64) -> CalendarTime {
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        return CalendarTime(parts)
    }

    /// Seconds since the epoch of these fields read in UTC (`inLocalZone` false) or the local zone;
    /// nil for a date that does not exist (Feb 30: the C library would roll it over to March).
    public func secondsSinceEpoch(inLocalZone: Bool) -> Int64? {
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        parts.tm_isdst = -1
        let seconds = inLocalZone ? mktime(&parts) : timegm(&parts)
        guard parts.tm_mday == Int32(day), parts.tm_mon == Int32(month - 1) else { return nil }
        return Int64(seconds)
    }

    private init(_ parts: tm) {
        self.init(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                  hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec),
                  utcOffsetSeconds: Int(parts.tm_gmtoff))
    }
}
