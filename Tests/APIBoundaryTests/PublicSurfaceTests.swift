// Issue 14 item 5: this target depends on SDBus, SDJournal and SDDaemon only and never imports
// CSystemd. With MemberImportVisibility on, using a declaration whose type came from libsystemd's
// headers would not compile here, so building this file proves that the wrappers' public surface
// carries no C type. The tests exercise that surface without a bus or a journal.
import SDBus
import SDDaemon
import Glibc
import SDJournal
import Testing

@Suite("the wrappers' public surface (no C types)")
struct PublicSurfaceTests {
    @Test func busValuesAndCallsAreSwiftTypes() throws {
        let path = try ObjectPath(validating: "/org/freedesktop/systemd1")
        let call = MethodCall.getAllProperties(destination: "org.freedesktop.systemd1", path: path,
                                               interface: "org.freedesktop.systemd1.Unit")
        #expect(call.operationDescription == "org.freedesktop.DBus.Properties.GetAll on /org/freedesktop/systemd1")
        #expect(BusValue.stringArray(["a", "b"]).arrayValue?.compactMap(\.stringValue) == ["a", "b"])
        #expect(ObjectPath(prefix: "/org/freedesktop/systemd1/unit", escaping: "a-b.service").rawValue
                == "/org/freedesktop/systemd1/unit/a_2db_2eservice")
        let match = SignalMatch.propertiesChanged(path: path)
        #expect(match.rule.contains("member='PropertiesChanged'"))
        #expect(throws: BusError.self) { try ObjectPath(validating: "not a path") }
        #expect(BusConnection.unixAddress(path: "/run/user/0/bus") == "unix:path=/run/user/0/bus")
    }

    @Test func journalFiltersAreSwiftTypes() throws {
        let match = try JournalMatch(field: "SYSLOG_IDENTIFIER", value: "svcunit-x")
        #expect(match.description == "SYSLOG_IDENTIFIER=svcunit-x")
        #expect(JournalFilter(anyOf: [[match]]).groups.count == 1)
        #expect(throws: JournalError.self) { try JournalMatch(field: "lower-case", value: "x") }
        let entry = JournalEntry(cursor: nil, realtimeMicroseconds: 1, messageBytes: Array("hi".utf8), priority: 6, pid: 1,
                                 syslogIdentifier: "x", fields: [:])
        #expect(entry.message == "hi")
    }

    @Test func notifierSaysWhetherSystemdExpectsIt() {
        #expect(Notifier.isExpected == (getenv("NOTIFY_SOCKET") != nil))
    }
}
