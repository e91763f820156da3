public import ArgumentParser
import Dispatch
import Foundation
import SDJournal
import ServiceModel
import SystemdProvisioning
import SystemdManager
#if canImport(Glibc)
import Glibc
#endif

extension SvcUnit {
    /// `svcunit logs SERVICE [-n N] [-f] [--since TIME] [--json]`: the service's lines from the journal.
    ///
    /// Reads the journal directly (sd-journal), never through journalctl. Not obvious: when journald
    /// is not running the command still reads whatever the journal files hold, says so once on
    /// stderr and exits 0; other commands do not need journald at all.
    public struct Logs: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Show a service's output from the journal.",
            discussion: """
                Without -n every matching line is shown (from --since, if given); with -f and no -n \
                the last 10, then new lines as they arrive until Ctrl-C. --json prints one object \
                per line (JSON Lines): {"time", "message", "priority", "pid"}, time in ISO-8601 UTC. \
                TIME is ISO-8601 (2025-01-02T03:04:05Z), relative (-10m, -2h, -30s, -1d) or a unix time.

                EXAMPLES
                  svcunit logs web -n 50
                  svcunit logs web -f --since -10m
                  svcunit logs 3f2a --json | jq -r .message
                  svcunit logs batch-job -f --until-stopped
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("The service: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var service: String

        @Option(name: [.customShort("n"), .long], parsing: .unconditional, help: "Show the last N lines.")
        public var lines: Int?

        @Flag(name: [.customShort("f"), .long], help: "Keep printing new lines until interrupted.")
        public var follow = false

        @Flag(help: "With -f: stop once the service's unit has stopped (after its last lines).")
        public var untilStopped = false

        @Option(parsing: .unconditional, help: ArgumentHelp("Only lines at or after TIME (may start with -, e.g. -10m).", valueName: "time"))
        public var since: String?

        @Flag(help: "Print one JSON object per line.")
        public var json = false

        public init() {}

        /// journald's socket; without it nothing new reaches the journal.
        static let journalSocket = "/run/systemd/journal/socket"

        public func run() async throws {
            let context = CommandContext(global)
            if let lines, lines < 0 { throw CLIError.usage("-n \(lines) must be 0 or more") }
            if untilStopped && !follow { throw CLIError.usage("--until-stopped goes with -f") }
            let sinceMicroseconds = try since.map { try TimeParsing.since($0) }
            let target = try context.lookup().resolve(service)
            if !JournalReader.journaldIsRunning(socketPath: Self.journalSocket) {
                Output.warning("journald is not running (nothing answers on \(Self.journalSocket)); showing only what the journal files already hold")
            }
            let logs = try await ServiceLogs(unit: ServiceUnit(target.uuid))
            defer { logs.close() }
            let count = lines ?? (follow && sinceMicroseconds == nil ? 10 : nil)
            let json = json
            let entries = try await logs.last(count, since: sinceMicroseconds)
            Self.print(entries, json: json)
            guard follow else { return }
            // Ctrl-C ends the follow cleanly (exit 0) instead of killing the process mid-line.
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let follower = Task { try await logs.follow { batch in Self.print(batch, json: json) } }
            let sources = [SIGINT, SIGTERM].map { number in
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { follower.cancel() }
                source.resume()
                return source
            }
            defer { sources.forEach { $0.cancel() } }
            var stopper: Task<Void, Never>?
            if untilStopped {
                // Watch the unit (signals, not polling); when it has stopped, end the follow and
                // print what journald wrote after the last wake-up.
                let systemd = try await context.services(store: try context.store(create: false))
                let unit = try await systemd.provisioner.unitStatus(target.uuid)
                let watch = try await systemd.manager.watchUnit(unit.name)
                stopper = Task {
                    _ = try? await watch.wait(before: nil) { !$0.isLoaded || $0.activeState.isFinal }
                    follower.cancel()
                }
            }
            do { try await follower.value } catch is CancellationError {}
            stopper?.cancel()
            if untilStopped {
                // journald may still be writing the unit's last lines: one short, bounded catch-up.
                try await Task.sleep(for: .milliseconds(200))
                Self.print(try await logs.readNew(), json: json)
            }
        }

        static func print(_ entries: [JournalEntry], json: Bool) {
            for entry in entries {
                if json {
                    var o = JSONObject()
                    o["time"] = .string(Output.isoTime(microseconds: entry.realtimeMicroseconds))
                    o["message"] = .string(entry.message)
                    o["priority"] = entry.priority.map { .int(Int64($0)) } ?? .null
                    o["pid"] = entry.pid.map { .int(Int64($0)) } ?? .null
                    Output.jsonLine(.object(o))
                } else {
                    let pid = entry.pid.map { "[\($0)]" } ?? ""
                    let message = (entry.priority ?? 6) <= 3 ? Output.paint(entry.message, .red) : entry.message
                    Swift.print("\(Output.paint(Output.localTime(microseconds: entry.realtimeMicroseconds), .dim))\(pid) \(message)")
                }
            }
            Output.flush()
        }
    }
}
