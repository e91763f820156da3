import ArgumentParser
import ServiceModel
import SvcUnitCLI
import Testing

@Suite("svcunit command line (in-process)")
struct ParsingTests {
    @Test func inspectParsesFileAndJSONFlag() throws {
        let command = try SvcUnit.parseAsRoot(["inspect", "svc.json", "--json"])
        let inspect = try #require(command as? SvcUnit.Inspect)
        #expect(inspect.file == "svc.json")
        #expect(inspect.json)
        let plain = try #require(try SvcUnit.parseAsRoot(["inspect", "svc.json"]) as? SvcUnit.Inspect)
        #expect(plain.json == false)
    }

    @Test func missingFileIsAUsageError() {
        #expect(throws: (any Error).self) { try SvcUnit.parseAsRoot(["inspect"]) }
    }

    @Test func rootConfiguration() {
        #expect(SvcUnit.configuration.commandName == "svcunit")
        #expect(SvcUnit.configuration.version == "0.1.0")
        #expect(SvcUnit.configuration.subcommands.map { $0._commandName }
            == ["create", "register", "start", "stop", "restart", "status", "list", "logs", "set", "edit", "delete", "enable", "disable", "inspect", "health", "health-check"])
    }

    @Test func exitCodeTable() {
        #expect(ExitCodes.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5, 6, 130])
        #expect(ExitCodes.status(for: .fileNotFound) == .notFound)
        #expect(ExitCodes.status(for: .timedOut) == .timedOut)
        for code in [ServiceModelError.Code.malformedJSON, .emptyDocument, .truncatedJSON, .missingServiceType, .unregisteredServiceType, .invalidField, .invalidUUID] {
            #expect(ExitCodes.status(for: code) == .badInput, "\(code)")
        }
        for code in [ServiceModelError.Code.ioFailure, .startFailed, .stopFailed, .provisioningFailed, .portUnavailable, .unsafePath] {
            #expect(ExitCodes.status(for: code) == .failure, "\(code)")
        }
        #expect(ExitCodes.domainStatus(for: CLIError("x", status: .badInput)) == .badInput)
        #expect(ExitCodes.oneLine(ServiceModelError(.startFailed, "a\nb")) == "a b")
    }

    @Test func inProcessRunReturnsDocumentedStatuses() async {
        #expect(await SvcUnit.run(arguments: ["inspect", "/nonexistent/service.json"]) == 3)
        #expect(await SvcUnit.run(arguments: ["inspect"]) == 2)
        #expect(await SvcUnit.run(arguments: ["--version"]) == 0)
    }
}
