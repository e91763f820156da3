import ArgumentParser
import Foundation
import ServiceKinds
import ServiceModel
import SvcUnitCLI
import Testing

/// Issue 8, case 6: deterministic mutation fuzzing of the JSON loader and the argument parser.
/// Bounded by iteration count (never by wall-clock time), a fixed seed (override with SVCUNIT_FUZZ_SEED / SVCUNIT_FUZZ_ITERATIONS), never a
/// crash, always a typed error or success. A crash kills the test process; the input being tried is
/// always in `$TMPDIR/svcunit-fuzz-current.bin` then: copy it to Tests/ReliabilityTests/Regressions/.
@Suite("Fuzzing")
struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seed = environment["SVCUNIT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_5EC0_0008
    static let iterations = environment["SVCUNIT_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 2000
    /// A parse that fails renders argument-parser's full usage text (about 20 ms in a debug build),
    /// so the command-line loop takes fewer inputs by default than the JSON loop.
    static let commandLineIterations = environment["SVCUNIT_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 600
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let currentInput = NSTemporaryDirectory() + "svcunit-fuzz-current.bin"

    /// Seed documents: the model tests' fixtures plus a few shapes of our own.
    static func seeds() -> [Data] {
        let fixtures = here.deletingLastPathComponent().appendingPathComponent("ServiceModelTests/Fixtures")
        var seeds = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).sorted()
            .compactMap { FileManager.default.contents(atPath: fixtures.appendingPathComponent($0).path) }
        seeds += [
            #"{"uuid": "5e0c6d1a-8b7f-4e2d-9c3b-1a2f3e4d5c6b", "service_type": {"type": "daemon", "flavor": "command"}, "config": {"command": ["/bin/true"]}}"#,
            #"{"a": [1, -0, 1e308, 1.5e-320, -9223372036854775808, 18446744073709551616, "\ud83d\ude80", "\u0000", true, null, NaN, -Infinity]}"#,
            #"[[[[[[[[[[{"k": {"k": {"k": []}}}]]]]]]]]]]"#,
        ].map { Data($0.utf8) }
        return seeds
    }

    /// Regression inputs kept under Regressions/ (any file) and in `RegressionInputs.all`.
    static func regressions() -> [(String, Data)] {
        let dir = here.appendingPathComponent("Regressions")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
            .filter { !$0.hasSuffix(".swift") }
            .compactMap { name in FileManager.default.contents(atPath: dir.appendingPathComponent(name).path).map { (name, $0) } }
        return files + RegressionInputs.all.map { ($0.name, Data(base64Encoded: $0.base64) ?? Data()) }
    }

    /// Parses and decodes one input; on success, the document must re-encode to a fixed point.
    static func exercise(_ input: Data, registry: ServiceRegistry) -> String? {
        do {
            _ = try JSONText.parse(input)
        } catch {
            // Typed: the error IS a ServiceModelError (typed throws); it must describe itself.
            if error.description.isEmpty { return "empty error message" }
        }
        do {
            let document = try registry.decode(data: input)
            let once = document.encoded()
            let again = try registry.decode(data: once)
            if again.encoded() != once { return "re-encoding is not a fixed point" }
        } catch {
            if error.message.isEmpty { return "empty error message (\(error.code))" }
        }
        return nil
    }

    @Test func jsonLoaderSurvivesMutatedDocuments() throws {
        var rng = SplitMix64(seed: Self.seed)
        let registry = BuiltinKinds.registry()
        let seeds = Self.seeds()
        let dictionary = [#"""#, "{", "}", "[", "]", ",", ":", "\\", "\\u", "\\ud800", "null", "true", "1e999", "-", "0x10",
                          "NaN", "Infinity", "\u{FEFF}", "\"uuid\"", "\"config\"", "\"endpoint\"", "\"port\"", "\"service_type\"",
                          "99999999999999999999999", "\n", "\t", "\u{0}"].map { Array($0.utf8) }
        var failures: [String] = []
        for iteration in 0 ..< Self.iterations {
            var bytes = Array(seeds[Int(rng.next() % UInt64(seeds.count))])
            for _ in 0 ... Int(rng.next() % 4) {
                Mutator.mutate(&bytes, &rng, dictionary: dictionary, seeds: seeds)
            }
            let input = Data(bytes)
            try? input.write(to: URL(fileURLWithPath: Self.currentInput))
            if let problem = Self.exercise(input, registry: registry) {
                failures.append("iteration \(iteration): \(problem): \(input.base64EncodedString().prefix(200))")
            }
        }
        try? FileManager.default.removeItem(atPath: Self.currentInput)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    @Test func regressionInputsStayFixed() {
        let registry = BuiltinKinds.registry()
        for (name, input) in Self.regressions() {
            #expect(Self.exercise(input, registry: registry) == nil, "\(name)")
        }
    }

    /// Random and mutated command lines through svcunit's own parser (in-process: parse and
    /// validate only, nothing runs). Every outcome is a command or an error with an exit code.
    @Test func argumentParserSurvivesRandomCommandLines() {
        var rng = SplitMix64(seed: Self.seed ^ 0xA5A5)
        let words = ArgWords.all
        var accepted = 0
        for _ in 0 ..< Self.commandLineIterations {
            let arguments = ArgWords.commandLine(&rng, words: words)
            do {
                _ = try SvcUnit.parseAsRoot(arguments)
                accepted += 1
            } catch {
                let code = SvcUnit.exitCode(for: error)
                _ = SvcUnit.message(for: error)
                #expect(code.rawValue >= 0, "\(arguments)")
            }
        }
        #expect(accepted > 0, "the generator produces some valid command lines too")
    }

    /// A smaller sample through the real binary (no user manager, a private store): every run
    /// exits with a documented status (0-6), never a signal, and a failure says something.
    @Test func binarySurvivesRandomCommandLines() async throws {
        var rng = SplitMix64(seed: Self.seed ^ 0xB1B1)
        try await withStore { store in
            for _ in 0 ..< 60 {
                let arguments = ArgWords.commandLine(&rng, words: ArgWords.all.filter { !["-f", "--follow"].contains($0) })
                let spawned = try CLI.spawn(arguments + ["--root", store.path],
                                            environment: ["XDG_RUNTIME_DIR": "/nonexistent"], removing: ["DBUS_SESSION_BUS_ADDRESS"])
                let watchdog = Task { try await Task.sleep(for: .seconds(10)); spawned.kill(SIGKILL) }
                let run = await spawned.wait()
                watchdog.cancel()
                #expect(!run.signaled, "\(arguments): \(run)")
                #expect((0 ... 6).contains(run.status), "\(arguments): \(run)")
                if run.status != 0 { #expect(!run.stderr.isEmpty, "\(arguments): \(run)") }
            }
        }
    }
}

/// A small deterministic PRNG (SplitMix64), so a failing iteration can be replayed from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Mutator {
    static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64, dictionary: [[UInt8]], seeds: [Data]) {
        let position = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
        switch rng.next() % 9 {
        case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << (rng.next() % 8))                 // bit flip
        case 1 where !bytes.isEmpty: bytes[position] = UInt8(truncatingIfNeeded: rng.next())          // random byte
        case 2: bytes.insert(contentsOf: dictionary[Int(rng.next() % UInt64(dictionary.count))], at: position)  // token
        case 3 where !bytes.isEmpty: bytes.removeSubrange(position ..< min(bytes.count, position + 1 + Int(rng.next() % 16)))
        case 4: bytes = Array(bytes.prefix(position))                                                   // truncate
        case 5 where !bytes.isEmpty:                                                                    // duplicate a chunk
            let end = min(bytes.count, position + 1 + Int(rng.next() % 64))
            bytes.insert(contentsOf: bytes[position ..< end], at: Int(rng.next() % UInt64(bytes.count)))
        case 6:                                                                                         // splice another seed
            let other = Array(seeds[Int(rng.next() % UInt64(seeds.count))])
            let cut = other.isEmpty ? 0 : Int(rng.next() % UInt64(other.count))
            bytes = Array(bytes.prefix(position)) + other[cut...]
        case 7:                                                                                         // number swap
            let numbers = ["0", "-1", "65536", "1e308", "-1e308", "9223372036854775807", "9223372036854775808", "0.5", "1e-400", "-0"]
            bytes.insert(contentsOf: Array(numbers[Int(rng.next() % UInt64(numbers.count))].utf8), at: position)
        default:                                                                                        // deep nesting
            let depth = Int(rng.next() % 600)
            bytes.insert(contentsOf: Array(repeating: UInt8(ascii: rng.next() % 2 == 0 ? "[" : "{"), count: depth), at: position)
        }
    }
}

enum ArgWords {
    static let commands = ["create", "command", "sleeper", "register", "start", "stop", "restart", "status", "list", "logs",
                           "delete", "enable", "disable", "inspect", "help"]
    static let options = ["--root", "--entrypoint", "--name", "--description", "--protocol", "--port", "--no-allocate-port",
                          "--health-path", "--health-status", "--head", "--health-timeout", "--restart", "--restart-delay",
                          "--stop-timeout", "--memory-max", "--cpu-quota", "--silent", "--json", "--env", "--workdir", "--timeout",
                          "--force", "-n", "--lines", "-f", "--follow", "--since", "--running", "--help", "-h", "--version",
                          "--generate-completion-script", "--", "-", "--=", "--root=", "--port=-1", "-nf"]
    static let values = ["", " ", "0", "-1", "65536", "1e300", "nan", "inf", "-inf", "0x10", "1.5", "30", "256M", "99999999T",
                         "50%", "/", "//evil.example/", "http://x:1/", "../..", "/nonexistent", "/tmp", "web", "a\nb", "a;b",
                         "$(id)", "ü🚀", "{port}", "A=B", "=", "5e0c6d1a-8b7f-4e2d-9c3b-1a2f3e4d5c6b", "5e0c", "tcp", "http",
                         "https", "always", "on-failure", "-10m", "2025-01-02T03:04:05Z", String(repeating: "x", count: 5000),
                         "/bin/sleep", "300", "\u{0}", "--name"]
    static let all = commands + options + values

    static func commandLine(_ rng: inout SplitMix64, words: [String]) -> [String] {
        var arguments: [String] = []
        // Usually start with a real (sub)command, so the parser gets past the first word.
        if rng.next() % 8 != 0 { arguments.append(commands[Int(rng.next() % UInt64(commands.count))]) }
        if arguments.first == "create" { arguments.append(rng.next() % 2 == 0 ? "command" : "sleeper") }
        for _ in 0 ..< Int(rng.next() % 7) {
            switch rng.next() % 3 {
            case 0: arguments.append(options[Int(rng.next() % UInt64(options.count))])
            case 1: arguments.append(values[Int(rng.next() % UInt64(values.count))])
            default: arguments.append(words[Int(rng.next() % UInt64(words.count))])
            }
        }
        return arguments.filter { words.contains($0) || commands.contains($0) }
    }
}
