public import ArgumentParser
import Dispatch
import FoundationEssentials
import SDJournal
import ServiceModel
import SystemdProvisioning
import SystemdManager
import OSCalls

extension SvcUnit {
    /// `svcunit logs SERVICE [-o MODE] [-n N] [-f] [--since T] [--until T] [--this-run] [--service-only]`:
    /// the service's lines from the journal, in journalctl's output formats.
    ///
    /// Reads the journal directly (sd-journal), never through journalctl, and prints entries as it
    /// reads them (a long history is streamed, not collected). Not obvious: when journald is not
    /// running the command still reads whatever the journal files hold, says so once on stderr and
    /// exits 0; other commands do not need journald at all.
    public struct Logs: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "logs",
            _superCommandName: SvcUnit.toolName,
            abstract: "Show a service's output from the journal.",
            discussion: """
                Output modes (-o), as journalctl's: short (the default: "Nov 30 03:36:03 \
                identifier[pid]: message", local time; the host name is left out), short-iso \
                ("2026-11-30T03:36:03+0100 identifier[pid]: message"), cat (the message only) and json \
                (JSON Lines: {"time", "message", "priority", "pid", "identifier", "invocation_id", \
                "source"}, time in ISO-8601 UTC; --json is the same). The json message is exact: a \
                string, or an array of byte values when it is not valid UTF-8.

                The user manager's own lines about the unit ("Starting …", "Started …", "Main process \
                exited, code=exited, status=3", "Failed with result …") are shown by default, as \
                journalctl --user-unit shows them, because they say when each run began and how it \
                ended; they are marked by their identifier, systemd[PID] (json: "source": "manager", \
                the service's own lines "source": "service"). --service-only leaves them out.

                A message with control characters (other than tab and newline) or invalid UTF-8 is \
                shown as journalctl shows it, "[23B blob data]"; -a shows it with the characters \
                escaped (\\e, \\x07, …) instead. Nothing a service prints reaches the terminal raw. \
                -o json is never escaped.

                Ranges combine as in journalctl: --since and --until bound the lines by time; -n N \
                shows the last N of them (counted from the newest end, also with --since, where \
                journalctl 252 counts from --since); without -n \
                every line in the range is shown; -f then keeps printing new lines until Ctrl-C (until \
                --until passes, or with --until-stopped until the unit has stopped). With -f and \
                neither -n, --since nor --this-run, the last 10 lines come first. --this-run shows \
                only the current run (or the last one, if the service is not running), by the unit's \
                invocation ID. TIME is ISO-8601 (2025-01-02T03:04:05Z), relative (-10m, -2h, -30s, \
                -1d), now, or a unix time.

                EXAMPLES
                  svcunit logs web -n 50
                  svcunit logs web -f --since -10m
                  svcunit logs web --this-run --service-only -o cat
                  svcunit logs 3f2a -o json | jq -r .message
                  svcunit logs batch-job -f --until-stopped
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("The service: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var service: String

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output mode, in journalctl's names and formats.", valueName: "mode"))
        public var output: LogOutputMode?

        @Option(name: [.customShort("n"), .long], parsing: .unconditional, help: "Show the last N lines.")
        public var lines: Int?

        @Flag(name: [.customShort("f"), .long], help: "Keep printing new lines until interrupted.")
        public var follow = false

        @Flag(help: "With -f: stop once the service's unit has stopped (after its last lines).")
        public var untilStopped = false

        @Option(parsing: .unconditional, help: ArgumentHelp("Only lines at or after TIME (may start with -, e.g. -10m).", valueName: "time"))
        public var since: TimeValue?

        @Option(parsing: .unconditional, help: ArgumentHelp("Only lines at or before TIME.", valueName: "time"))
        public var until: TimeValue?

        @Flag(help: "Only the current (or last) run's lines, by the unit's invocation ID.")
        public var thisRun = false

        @Flag(help: "Leave out the user manager's own lines about the unit (Started …, Main process exited …).")
        public var serviceOnly = false

        @Flag(name: [.customShort("a"), .long], help: "Show messages with control characters escaped instead of as [N blob data].")
        public var all = false

        @Flag(help: "The same as -o json.")
        public var json = false

        public init() {}

        /// journald's socket; without it nothing new reaches the journal.
        static let journalSocket = "/run/systemd/journal/socket"

        /// The option rules, checked at parse time, before any service is looked up.
        public func validate() throws {
            try checkingValues { _ = try range(now: WallClock.microseconds()) }
        }

        /// `--since`/`--until` in microseconds, after the checks of every option rule.
        func range(now: UInt64) throws(CLIError) -> (since: UInt64?, until: UInt64?) {
            if let lines, lines < 0 { throw CLIError.usage("-n \(lines) must be 0 or more") }
            if untilStopped && !follow { throw CLIError.usage("--until-stopped goes with -f") }
            if json, let output, output != .json { throw CLIError.usage("--json and -o \(output.rawValue) contradict each other") }
            let sinceMicroseconds = try since.map { value throws(CLIError) in try value.microseconds("--since", now: now) }
            let untilMicroseconds = try until.map { value throws(CLIError) in try value.microseconds("--until", now: now) }
            if let sinceMicroseconds, let untilMicroseconds, sinceMicroseconds > untilMicroseconds {
                throw CLIError.usage("--since \(since?.text ?? "") is after --until \(until?.text ?? "")")
            }
            return (sinceMicroseconds, untilMicroseconds)
        }

        public func run() async throws {
            let context = CommandContext(global)
            let now = WallClock.microseconds()
            let (sinceMicroseconds, untilMicroseconds) = try range(now: now)
            let target = try context.lookup().resolve(service)
            if !JournalReader.journaldIsRunning(socketPath: Self.journalSocket) {
                Output.warning("journald is not running (nothing answers on \(Self.journalSocket)); showing only what the journal files already hold")
            }
            let unit = ServiceUnit(target.uuid)
            var selection = ServiceLogSelection(serviceOnly: serviceOnly)
            if thisRun {
                guard let id = try await Self.currentInvocation(unit, target, context) else {
                    Output.warning("\(target.label) has no run in the journal")
                    return
                }
                selection.invocationID = id
            }
            let printer = LogPrinter(mode: json ? .json : output ?? .short, all: all)
            let logs = try await ServiceLogs(unit: unit, selection: selection, extraFields: printer.extraFields, following: follow)
            defer { logs.close() }
            let count = lines ?? (follow && sinceMicroseconds == nil && !thisRun ? 10 : nil)
            let inRange = try await logs.read(last: count, since: sinceMicroseconds, until: untilMicroseconds) { printer.print($0) }
            guard follow, inRange else { return }
            // Ctrl-C ends the follow cleanly (exit 0) instead of killing the process mid-line.
            Signals.ignore(.terminate)
            let deadline = untilMicroseconds.map { until in
                ContinuousClock.now.advanced(by: .microseconds(until > now ? Int64(clamping: until - now) : 0))
            }
            let follower = Task { try await logs.follow(until: untilMicroseconds, deadline: deadline) { printer.print($0) } }
            // SIGINT through `Interrupts` (one dispatch source per signal: a second one for SIGINT
            // would not see the signal); SIGTERM through a source of its own.
            Interrupts.install()
            Interrupts.handOver { follower.cancel() }
            let sources = [Signal.terminate].map { signal in
                let source = DispatchSource.makeSignalSource(signal: signal.rawValue, queue: .global())
                source.setEventHandler { follower.cancel() }
                source.resume()
                return source
            }
            defer { sources.forEach { $0.cancel() } }
            var stopper: Task<SystemdError?, Never>?
            if untilStopped {
                // Watch the unit (signals, not polling); when it has stopped, end the follow and
                // print what journald wrote after the last wake-up.
                let systemd = try await context.services(store: try context.store(create: false))
                let status = try await systemd.provisioner.unitStatus(target.uuid)
                let watch = try await systemd.manager.watchUnit(status.name)
                stopper = Task {
                    var lost: SystemdError?
                    do { _ = try await watch.wait(before: nil) { !$0.isLoaded || $0.activeState.isFinal } } catch let error as SystemdError {
                        // The manager went away: nobody can say any more when the unit stops.
                        if error.code == .noUserManager { lost = systemd.manager.lostConnection ?? error }
                    } catch {}
                    follower.cancel()
                    return lost
                }
            }
            do { try await follower.value } catch is CancellationError {}
            stopper?.cancel()
            if untilStopped {
                // journald may still be writing the unit's last lines: one short, bounded catch-up.
                try await Task.sleep(for: .milliseconds(200))
                try await logs.readOn(until: untilMicroseconds) { printer.print($0) }
                if let lost = await stopper?.value {
                    throw SystemdError(code: .noUserManager, message: "\(target.label): stopped following --until-stopped: \(lost.message)",
                                       busError: lost.busError, hint: lost.hint)
                }
            }
        }

        /// The invocation ID `--this-run` means: the unit's own while systemd knows the unit (running,
        /// or failed and not yet reset), else that of the newest run in the journal. Without a user
        /// manager the journal alone answers.
        static func currentInvocation(_ unit: ServiceUnit, _ target: ServiceLookup.Candidate, _ context: CommandContext) async throws -> String? {
            if let store = try? context.existingStore(),
               let systemd = try? await context.services(store: store),
               let status = try? await systemd.provisioner.unitStatus(target.uuid),
               status.isLoaded, let id = status.invocationID {
                return id
            }
            let logs = try await ServiceLogs(unit: unit)
            defer { logs.close() }
            return try await logs.lastInvocationID()
        }
    }
}

/// `logs -o MODE`: journalctl's names.
public enum LogOutputMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case short
    case shortISO = "short-iso"
    case cat
    case json
}

/// Writes journal entries in one output mode, a batch at a time (one write and one flush per
/// batch, so a long history streams without a system call per line).
struct LogPrinter: Sendable {
    let mode: LogOutputMode
    /// Show non-printable messages escaped instead of as `[N blob data]`.
    let all: Bool

    /// The journal fields this mode shows besides message, time, priority, PID and identifier:
    /// all for json; the command name (the identifier when a line has none) for short; none for cat.
    var extraFields: [String] {
        switch mode {
        case .json: ServiceLogFilter.extraFields
        case .short, .shortISO: ["_COMM"]
        case .cat: []
        }
    }

    func print(_ entries: [JournalEntry]) {
        // Written in 64 KiB pieces: one buffer the size of ten thousand lines would be grown, copied
        // and faulted in page by page, then torn down at exit, for nothing a reader sees.
        let chunk = 64 << 10
        var out: [UInt8] = []
        out.reserveCapacity(chunk + 4096)
        defer { Output.writeStandardOutput(out) }
        var shared = SharedText()
        for entry in entries {
            if out.count >= chunk {
                Output.writeStandardOutput(out)
                out.removeAll(keepingCapacity: true)
            }
            render(entry, into: &out, &shared)
        }
    }

    /// What consecutive lines share, formatted once: the time text of one second, and the
    /// ` identifier[pid]: ` of one process (built again when either changes).
    struct SharedText {
        var second = UInt64.max
        var time: [UInt8] = []
        var writer: (identifier: String?, pid: Int32?)? = nil
        var source: [UInt8] = []
    }

    /// Appends `entry`'s line (and newline) to `out`: what `line` gives, built from bytes for the
    /// common line (one printable line), and through `line` for the rest (continuation lines, blobs,
    /// escapes). An error's message is painted red as `line` would.
    func render(_ entry: JournalEntry, into out: inout [UInt8], _ shared: inout SharedText) {
        if mode == .json {
            out += Array((JSONText.formatCompact(Self.json(entry)) + "\n").utf8)
            return
        }
        let bytes = entry.messageBytes
        guard !bytes.contains(UInt8(ascii: "\n")), Output.isPrintable(utf8: bytes) else {
            out += Array((line(entry) + "\n").utf8)
            return
        }
        if mode != .cat {
            if entry.realtimeMicroseconds / 1_000_000 != shared.second {
                shared.second = entry.realtimeMicroseconds / 1_000_000
                shared.time = Array(Output.journalTime(microseconds: entry.realtimeMicroseconds, iso: mode == .shortISO).utf8)
            }
            out += shared.time
            let identifier = entry.identifier
            if shared.writer == nil || shared.writer?.identifier != identifier || shared.writer?.pid != entry.pid {
                shared.writer = (identifier, entry.pid)
                shared.source = Array((" " + Output.escaped(identifier ?? "") + (entry.pid.map { "[\($0)]" } ?? "") + ": ").utf8)
            }
            out += shared.source
        }
        if (entry.priority ?? 6) <= 3, Output.fancy {
            out += Array(Output.paint(String(decoding: bytes, as: UTF8.self), .red).utf8)
        } else {
            out += bytes
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// One entry for people: the prefix of the mode, then the message shown safely (see `message`).
    func line(_ entry: JournalEntry) -> String {
        var prefix = ""
        if mode != .cat {
            prefix = Output.journalTime(microseconds: entry.realtimeMicroseconds, iso: mode == .shortISO) + " "
            prefix += Output.escaped(entry.identifier ?? "")
            if let pid = entry.pid { prefix += "[\(pid)]" }
            prefix += ": "
        }
        let lines = message(entry.messageBytes)
        var body = lines.joined(separator: "\n" + String(repeating: " ", count: mode == .cat ? 0 : Output.visibleWidth(prefix)))
        if (entry.priority ?? 6) <= 3 { body = Output.paint(body, .red) }
        return prefix + body
    }

    /// The message's lines as journalctl shows them: as they are when printable (tab and newline
    /// allowed; continuation lines are indented under the first), else `[N blob data]`, or with
    /// `-a` every control character escaped.
    func message(_ bytes: [UInt8]) -> [String] {
        if Output.isPrintable(utf8: bytes) {
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        guard all else { return [Output.blobNotice(byteCount: bytes.count)] }
        return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Output.escaped(utf8: Array($0)) }
    }

    /// One JSON Lines object; the message exact (a string, or byte values when not valid UTF-8).
    static func json(_ entry: JournalEntry) -> JSONValue {
        var o = JSONObject()
        o["time"] = .string(Output.isoTime(microseconds: entry.realtimeMicroseconds))
        if let text = String(validating: entry.messageBytes, as: UTF8.self) {
            o["message"] = .string(text)
        } else {
            o["message"] = .array(entry.messageBytes.map { .int(Int64($0)) })
        }
        o["priority"] = entry.priority.map { .int(Int64($0)) } ?? .null
        o["pid"] = entry.pid.map { .int(Int64($0)) } ?? .null
        o["identifier"] = entry.identifier.map(JSONValue.string) ?? .null
        o["invocation_id"] = entry.invocationID.map(JSONValue.string) ?? .null
        o["source"] = .string(entry.isFromManager ? "manager" : "service")
        return .object(o)
    }
}
