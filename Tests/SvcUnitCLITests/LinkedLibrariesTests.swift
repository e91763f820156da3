import Foundation
import SystemdTestSupport
import Testing

/// Issue 12, item 1: the product links FoundationEssentials and the C library, never Foundation,
/// FoundationNetworking, ICU or libcurl. The debug build links the Swift libraries dynamically, so
/// `ldd` (the witness) lists every library the executable loads at start-up; one `import Foundation`
/// anywhere in a product module brings libFoundation.so and ICU back and fails this test.
@Suite("linked libraries of the built executables")
struct LinkedLibrariesTests {
    static let forbidden = ["libFoundation.so", "libFoundationInternationalization", "lib_FoundationICU",
                            "libFoundationNetworking", "libicu", "libcurl", "libxml2", "libssl", "libcrypto"]

    static var executables: [String] {
        let directory = Run.binary.deletingLastPathComponent().path
        return [directory + "/svcunit"]  // one executable: the CLI and `svcunit entrypoint`
    }

    @Test func noFoundationICUOrCurlIsLoadedAtStartUp() throws {
        let executables = Self.executables
        #expect(executables.contains { $0.hasSuffix("/svcunit") }, "the svcunit executable is built")
        for executable in executables {
            let ldd = try TestProcess.run("/usr/bin/ldd", [executable], environment: ProcessInfo.processInfo.environment)
            #expect(ldd.status == 0, "ldd \(executable): \(ldd.stderr)")
            let libraries = ldd.stdout.split(separator: "\n").compactMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) }
            #expect(libraries.contains { $0.hasPrefix("libFoundationEssentials") } || libraries.contains { $0.hasPrefix("libsystemd") },
                    "ldd lists the libraries: \(ldd.stdout)")
            let loaded = libraries.filter { library in Self.forbidden.contains { library.hasPrefix($0) } }
            #expect(loaded.isEmpty, "\(executable) loads \(loaded) at start-up")
        }
    }
}
