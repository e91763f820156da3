import Testing
import SDBus
@testable import SystemdManager

@Suite struct UnitNameTests {
    @Test func validNamesAndTheirObjectPaths() throws {
        let name = try UnitName(validating: "svcunit-1b4e28ba-2fa1-11d2-883f-0016d3cca427.service")
        #expect(name.unitType == "service")
        #expect(name.objectPath.rawValue.hasPrefix("/org/freedesktop/systemd1/unit/svcunit_2d1b4e28ba"))
        #expect(try UnitName(validating: "svcunit@abc.service").unitType == "service")
        #expect(try UnitName(validating: "svcunit.slice").objectPath.rawValue == "/org/freedesktop/systemd1/unit/svcunit_2eslice")
    }

    @Test(arguments: [
        ("", "empty"), ("noext", "no type suffix"), ("a.bogus", "unknown unit type"), ("a b.service", "not allowed"),
        ("../x.service", "not allowed"), ("a\nb.service", "not allowed"), ("a;b.service", "not allowed"),
        ("ü.service", "not allowed"), ("a@b@c.service", "more than one"), ("@a.service", "starts with"),
    ])
    func invalidNamesSayWhy(name: String, reason: String) {
        do {
            _ = try UnitName(validating: name)
            Issue.record("\(name.debugDescription) was accepted")
        } catch {
            #expect(error.code == .invalidUnitName)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.message.contains(name.debugDescription))
        }
    }

    @Test func tooLongNamesAreRejected() {
        #expect(UnitName(rawValue: String(repeating: "a", count: 248) + ".service") == nil)
        #expect(UnitName(rawValue: String(repeating: "a", count: 247) + ".service") != nil)
    }
}

@Suite struct UnitStatusTests {
    let name = try! UnitName(validating: "x.service")

    @Test func parsesAFailedRun() {
        let status = UnitStatus(name: name, properties: [
            "ActiveState": .string("failed"), "SubState": .string("failed"), "LoadState": .string("loaded"),
            "Result": .string("exit-code"), "ExecMainCode": .int32(1), "ExecMainStatus": .int32(3),
            "MainPID": .uint32(0), "NRestarts": .uint32(2), "Job": .structure([.uint32(0), .objectPath("/")]),
            "InvocationID": .bytes(Array(repeating: 0xab, count: 16)), "ActiveEnterTimestamp": .uint64(0),
            "MemoryCurrent": .uint64(.max),
        ])
        #expect(status.activeState == .failed)
        #expect(status.result == .exitCode)
        #expect(status.exitDescription == "exited with status 3")
        #expect(status.nRestarts == 2)
        #expect(status.isFinished)
        #expect(status.invocationID == String(repeating: "ab", count: 16))
        #expect(status.activeEnterTimestamp == nil)
        #expect(status.memoryCurrent == nil)
    }

    @Test func killedBySignalAndPendingJob() {
        let status = UnitStatus(name: name, properties: [
            "ActiveState": .string("inactive"), "ExecMainCode": .int32(2), "ExecMainStatus": .int32(9),
            "Job": .structure([.uint32(12), .objectPath("/org/freedesktop/systemd1/job/12")]),
        ])
        #expect(status.exitDescription == "killed by signal KILL")
        #expect(!status.isFinished, "a pending job means not finished yet")
    }

    @Test func transientPropertiesHaveSystemdSignatures() {
        #expect(UnitProperty.execStart(argv: ["/bin/echo", "hi"]).value.signature == "a(sasb)")
        #expect(UnitProperty.execStart(argv: ["/bin/echo", "$HOME", "a$$b"]).value ==
            .array(of: "(sasb)", [.structure([.string("/bin/echo"), .stringArray(["/bin/echo", "$$HOME", "a$$$$b"]), .bool(false)])]))
        #expect(UnitProperty.restartDelay(.milliseconds(1500)).value == .uint64(1_500_000))
        #expect(UnitProperty.stopTimeout(nil).value == .uint64(.max))
        #expect(UnitProperty.cpuQuota(percent: 50).value == .uint64(500_000))
        #expect(UnitProperty.environment(["B": "2", "A": "1"]).value == .stringArray(["A=1", "B=2"]))
    }
}
