public import ArgumentParser
import FoundationEssentials
import OSCalls

/// The options every subcommand accepts: where services are stored and which entrypoint units run.
///
/// Included in each subcommand with `@OptionGroup`, so `svcunit list --root DIR` works; the
/// environment variables let scripts set them once. Not obvious: `--root` and `--entrypoint` are
/// only *resolved* here (flag, then environment, then default); nothing touches the disk or systemd
/// until a command asks for the store or the manager.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp(
        "Directory holding one <uuid>/service.json per service (env SVCUNIT_ROOT; default $XDG_DATA_HOME/svcunit or ~/.local/share/svcunit).",
        valueName: "dir"))
    public var root: String?

    @Option(name: .long, help: ArgumentHelp(
        "The svcunit executable that units run as `svcunit entrypoint` (env SVCUNIT_ENTRYPOINT; default: this svcunit).",
        valueName: "path"))
    public var entrypoint: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Print each D-Bus call, journal query and health probe with its duration to standard error (env SVCUNIT_LOG_LEVEL=debug does the same)."))
    public var verbose = false

    public init() {}

    /// The store directory: `--root`, `$SVCUNIT_ROOT`, `$XDG_DATA_HOME/svcunit`, `~/.local/share/svcunit`.
    public func resolvedRoot(environment: [String: String]? = nil) -> String {
        let environment = environment ?? CurrentProcess.environmentVariables
        func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        let chosen: String
        if let root = nonEmpty(root) {
            chosen = root
        } else if let root = nonEmpty(environment["SVCUNIT_ROOT"]) {
            chosen = root
        } else if let data = nonEmpty(environment["XDG_DATA_HOME"]), data.hasPrefix("/") {
            chosen = data + "/svcunit"
        } else {
            let home = nonEmpty(environment["HOME"]) ?? FileManager.default.homeDirectoryForCurrentUser.path
            chosen = home + "/.local/share/svcunit"
        }
        return Self.absolute(chosen)
    }

    /// The entrypoint override, if any: `--entrypoint`, then `$SVCUNIT_ENTRYPOINT`.
    public func resolvedEntrypoint(environment: [String: String]? = nil) -> String? {
        let environment = environment ?? CurrentProcess.environmentVariables
        if let entrypoint, !entrypoint.isEmpty { return Self.absolute(entrypoint) }
        if let env = environment["SVCUNIT_ENTRYPOINT"], !env.isEmpty { return Self.absolute(env) }
        return nil
    }

    /// Units run from another working directory, so relative paths are made absolute here.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path == "~" || path.hasPrefix("~/") { return FileManager.default.homeDirectoryForCurrentUser.path + path.dropFirst() }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
    }
}
