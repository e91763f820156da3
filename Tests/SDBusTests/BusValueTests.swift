import Testing
@testable import SDBus
import SystemdTestSupport
import SystemdManager

@Suite struct BusValueTests {
    @Test func signaturesOfNestedValues() {
        let props = BusValue.propertyList([("Description", .string("x")), ("ExecStart", .array(of: "(sasb)", []))])
        #expect(props.signature == "a(sv)")
        #expect(BusValue.stringArray([]).signature == "as")
        #expect(BusValue.structure([.uint32(1), .objectPath("/a/b")]).signature == "(uo)")
        #expect(BusValue.array(of: "{sv}", [.dictEntry(.string("k"), .variant(.bool(true)))]).signature == "a{sv}")
        #expect(BusValue.bytes([1, 2]).signature == "ay")
    }

    @Test func accessorsUnwrapVariantsAndWidenIntegers() {
        #expect(BusValue.variant(.variant(.string("x"))).stringValue == "x")
        #expect(BusValue.variant(.uint32(7)).integerValue == 7)
        #expect(BusValue.uint64(.max).integerValue == nil)
        #expect(BusValue.uint64(.max).uint64Value == .max)
        #expect(BusValue.array(of: "y", [.byte(1), .byte(2)]).bytesValue == [1, 2])
        let dict = BusValue.array(of: "{sv}", [.dictEntry(.string("ActiveState"), .variant(.string("active")))])
        #expect(dict.stringKeyedDictionary?["ActiveState"]?.stringValue == "active")
        #expect(BusValue.string("x").stringKeyedDictionary == nil)
    }

    @Test func objectPathValidation() throws {
        #expect(ObjectPath(rawValue: "/") != nil)
        #expect(ObjectPath(rawValue: "/org/freedesktop/systemd1") != nil)
        for bad in ["", "org", "/a/", "//a", "/a//b", "/a-b", "/a.b", "/ä"] {
            #expect(ObjectPath(rawValue: bad) == nil, "\(bad) should be rejected")
        }
        #expect(throws: BusError.self) { try ObjectPath(validating: "/bad path") }
        do {
            _ = try ObjectPath(validating: "no-slash")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("no-slash"))
        }
    }

    @Test func objectPathEscapingMatchesSdBusPathEncode() {
        let prefix: ObjectPath = "/org/freedesktop/systemd1/unit"
        // Values from sd_bus_path_encode (systemd-api-facts.md §2).
        #expect(ObjectPath(prefix: prefix, escaping: "exp-a.service").rawValue == "/org/freedesktop/systemd1/unit/exp_2da_2eservice")
        #expect(ObjectPath(prefix: prefix, escaping: "1x").rawValue == "/org/freedesktop/systemd1/unit/_31x")
        #expect(ObjectPath(prefix: prefix, escaping: "").rawValue == "/org/freedesktop/systemd1/unit/_")
        #expect(ObjectPath(prefix: "/", escaping: "a_b").rawValue == "/a_5fb")
    }

    @Test func matchRulesQuote() {
        let m = SignalMatch(path: "/org/freedesktop/systemd1", interface: "org.freedesktop.systemd1.Manager", member: "JobRemoved")
        #expect(m.rule == "type='signal',path='/org/freedesktop/systemd1',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'")
        #expect(SignalMatch(arg0: "it's").rule == "type='signal',arg0='it'\\''s'")
    }

    @Test func unixAddressEscapesLikeLibsystemd() {
        #expect(BusConnection.unixAddress(path: "/run/user/1000/bus") == "unix:path=/run/user/1000/bus")
        #expect(BusConnection.unixAddress(path: "/tmp/a b;c") == "unix:path=/tmp/a%20b%3bc")
    }

    @Test func errorsDescribeNameAndOperation() {
        let e = BusError(code: .methodError, name: "org.freedesktop.systemd1.NoSuchUnit", message: "Unit x.service not loaded.",
                         operation: "org.freedesktop.systemd1.Manager.GetUnit on /org/freedesktop/systemd1")
        #expect(e.description.contains("org.freedesktop.systemd1.NoSuchUnit"))
        #expect(e.description.contains("GetUnit"))
        #expect(e.hasName("org.freedesktop.systemd1.NoSuchUnit"))
    }
}

/// The writer and the reader against libsystemd itself: a message is built and read back.
@Suite(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager (run through scripts/test)"))
struct BusCodecTests {
    @Test func nestedValuesSurviveAMessage() async throws {
        let manager = try await LiveSystemd.manager()
        let values: [BusValue] = [
            .string("näme"), .objectPath("/a/b"), .bool(true), .bool(false), .int32(-3), .uint32(4_000_000_000),
            .uint64(.max), .int64(-9), .double(1.5), .byte(255), .int16(-2), .uint16(65535),
            .stringArray(["a", "", "c d"]),
            .propertyList([("ExecStart", .array(of: "(sasb)", [.structure([.string("/bin/true"), .stringArray(["true"]), .bool(false)])])),
                           ("MemoryMax", .uint64(1 << 30))]),
            .array(of: "(sa(sv))", []),
            .bytes([0, 1, 0xff]),
            .array(of: "{sv}", [.dictEntry(.string("k"), .variant(.int32(1)))]),
        ]
        let call = MethodCall(destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
                              interface: "org.example.Test", member: "Echo", arguments: values)
        let back = try await manager.bus.readBack(call)
        #expect(back == values)
    }

    @Test func aBadSignatureIsAnInvalidArgumentError() async throws {
        let manager = try await LiveSystemd.manager()
        // An array declared as strings that holds an int: libsystemd refuses to append it.
        let call = MethodCall(destination: nil, path: "/", interface: "org.example.Test", member: "Bad",
                              arguments: [.array(of: "s", [.int32(1)])])
        do {
            _ = try await manager.bus.readBack(call)
            Issue.record("a string array holding an int was appended")
        } catch let error as BusError {
            #expect(error.code == .invalidArgument, "\(error)")
            #expect(error.message.hasPrefix("cannot build the call"), "\(error)")
        }
    }

    @Test func callsOnAClosedConnectionFailAsDisconnected() async throws {
        let manager = try await LiveSystemd.manager()
        manager.bus.close()
        do {
            _ = try await manager.version()
            Issue.record("a call on a closed bus succeeded")
        } catch {
            // The connection is gone: the manager is unreachable through it (exit 6), said as such.
            #expect(error.code == .noUserManager, "\(error)")
            #expect(error.busError?.code == .disconnected, "\(error)")
        }
    }
}
