import ServiceModel
@testable import SvcUnitCLI
import Testing

/// How a failed start reads for people and for `--json`: the same facts in both.
@Suite struct ErrorReportTests {
    let uuid = ServiceUUID(rawValue: "d761e1eb-0000-4000-8000-000000000001")!

    func failedStart(name: String = "bad", output: [String] = ["about to fail"]) -> ServiceModelError {
        ServiceModelError(.startFailed, "\(name) (d761e1eb) failed to start: exited with status 7",
                          failure: ServiceFailure(name: name, uuid: uuid, operation: "start", reason: "exited with status 7", output: output))
    }

    @Test func aFailedStartLeadsWithTheFactsThenItsOwnOutputThenWhereToLook() {
        #expect(ErrorReport.lines(for: failedStart()) == [
            "bad (d761e1eb) failed to start: exited with status 7",
            "  about to fail",
            "  see: svcunit logs bad",
        ])
        // A multi-line output line stays one indented line; a --root is repeated, quoted for a shell.
        #expect(ErrorReport.lines(for: failedStart(output: ["a\nb"]), root: "/tmp/my store") == [
            "bad (d761e1eb) failed to start: exited with status 7",
            "  a b",
            "  see: svcunit logs bad --root '/tmp/my store'",
        ])
        // A name a shell would split or a parser take for an option: the UUID instead.
        #expect(ErrorReport.lines(for: failedStart(name: "my web")).last == "  see: svcunit logs \(uuid)")
        #expect(ErrorReport.lines(for: failedStart(name: "-x")).last == "  see: svcunit logs \(uuid)")
    }

    @Test func otherErrorsStayOneLine() {
        #expect(ErrorReport.lines(for: ServiceModelError(.invalidField, "bad\nfield")) == ["bad field"])
        #expect(ErrorReport.lines(for: CLIError("no service x", status: .notFound)) == ["no service x"])
    }

    @Test func jsonCarriesTheSameFactsAsFields() throws {
        let error = ErrorReport.facts(of: failedStart(), status: .failure)
        #expect(error["message"] == .string("bad (d761e1eb) failed to start: exited with status 7"))
        #expect(error["exit_status"] == .int(1))
        #expect(error["service"] == .object(["name": .string("bad"), "uuid": .string(uuid.rawValue)]))
        #expect(error["operation"] == .string("start"))
        #expect(error["reason"] == .string("exited with status 7"))
        #expect(error["output"] == .array([.string("about to fail")]))
        #expect(error["see"] == .string("svcunit logs bad"))
        let plain = ErrorReport.facts(of: CLIError("no service x", status: .notFound), status: .notFound)
        #expect(plain.map(\.key) == ["message", "exit_status"])
    }

}
