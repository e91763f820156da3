/// Periodic health supervision of a running service (issue 13): how often its endpoint monitor is
/// run, how many failed checks in a row make it unhealthy, and what happens then.
///
/// Stored in svcunit's own top-level object (`svcunit.health`), which ZenML ignores, for every kind
/// of service: a user's ZenML document keeps its own fields untouched. Absent means off, so nothing
/// changes for services that never asked for it.
///
///     "svcunit": { "health": { "interval_seconds": 10, "unhealthy_after": 3,
///                              "on_unhealthy": "restart", "grace_seconds": 0 } }
public struct HealthSupervision: Sendable, Hashable {
    /// The key inside the `svcunit` object.
    public static let key = "health"

    /// What a check does once the service has failed `unhealthyAfter` checks in a row.
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Restart the service's unit through systemd (and journal why).
        case restart
        /// Only record it: the service is reported unhealthy and left running.
        case record
    }

    /// Seconds between the end of one check and the start of the next.
    public var intervalSeconds: Double
    /// Consecutive failed checks that make the service unhealthy.
    public var unhealthyAfter: Int
    public var action: Action
    /// Seconds after the service became active before the first check.
    public var graceSeconds: Double

    public static let defaultInterval = 10.0
    public static let defaultUnhealthyAfter = 3
    /// The allowed ranges. Below a second a oneshot check unit per tick costs more than it tells; more
    /// than a day is a unit mistake; a threshold above 1000 would never trigger in practice.
    public static let intervalRange = 1.0...86_400.0
    public static let unhealthyAfterRange = 1...1000
    public static let graceRange = 0.0...86_400.0

    public init(intervalSeconds: Double = defaultInterval, unhealthyAfter: Int = defaultUnhealthyAfter,
                action: Action = .restart, graceSeconds: Double = 0) {
        self.intervalSeconds = intervalSeconds
        self.unhealthyAfter = unhealthyAfter
        self.action = action
        self.graceSeconds = graceSeconds
    }

    /// What is wrong with these values, as the end of a sentence naming the setting; nil when valid.
    /// One rule for the CLI options and for a hand-edited document.
    public var problem: (setting: String, problem: String)? {
        if !intervalSeconds.isFinite || !Self.intervalRange.contains(intervalSeconds) {
            return ("interval", "must be 1 to 86400 seconds")
        }
        if !Self.unhealthyAfterRange.contains(unhealthyAfter) {
            return ("unhealthy_after", "must be 1 to 1000 consecutive failed checks")
        }
        if !graceSeconds.isFinite || !Self.graceRange.contains(graceSeconds) {
            return ("grace", "must be 0 to 86400 seconds")
        }
        return nil
    }

    init(reading reader: inout FieldReader) throws(ServiceModelError) {
        intervalSeconds = try reader.optionalNumber("interval_seconds") ?? Self.defaultInterval
        unhealthyAfter = Int(clamping: try reader.int("unhealthy_after", default: Int64(Self.defaultUnhealthyAfter)))
        action = try reader.enumValue("on_unhealthy", default: .restart)
        graceSeconds = try reader.optionalNumber("grace_seconds") ?? 0
        if let (setting, problem) = problem {
            let key = ["interval": "interval_seconds", "grace": "grace_seconds"][setting] ?? setting
            throw reader.invalid(key, problem)
        }
    }

    var json: JSONValue {
        .object(JSONObject([
            ("interval_seconds", .number(intervalSeconds)), ("unhealthy_after", .int(Int64(unhealthyAfter))),
            ("on_unhealthy", .string(action.rawValue)), ("grace_seconds", .number(graceSeconds)),
        ]))
    }

    /// One line for `status`: "every 10 s, unhealthy after 3 failed checks, then restart (grace 5 s)".
    public var summary: String {
        var text = "every \(Self.seconds(intervalSeconds)), unhealthy after \(unhealthyAfter) failed check\(unhealthyAfter == 1 ? "" : "s"), then "
            + (action == .restart ? "restart" : "record only")
        if graceSeconds > 0 { text += " (grace \(Self.seconds(graceSeconds)))" }
        return text
    }

    /// `10 s`, `2.5 s`.
    public static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int64(value)) s" : "\(value) s"
    }
}

extension ServiceDocument {
    /// The service's health supervision, or nil when it has none (the default). Setting nil leaves
    /// no empty `svcunit` object behind, so a document without supervision is written as before.
    public var healthSupervision: HealthSupervision? {
        get { svcunit?.health }
        set {
            if newValue == nil, svcunit == nil { return }
            var settings = svcunit ?? SvcUnitSettings()
            settings.health = newValue
            svcunit = settings == SvcUnitSettings() ? nil : settings
        }
    }
}
