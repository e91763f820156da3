public import ArgumentParser
import FoundationEssentials
import ServiceModel
import OSCalls
import SystemPackage

extension SvcUnit {
    /// `svcunit edit SERVICE`: the stored document in `$VISUAL`/`$EDITOR`, checked before it replaces
    /// the stored one, as `systemctl edit` and `kubectl edit` do.
    ///
    /// Not obvious: the editor works on a private copy (0600 in a 0700 temporary directory), never
    /// on the store; a copy that does not load is refused with the loader's error, and on a terminal
    /// the user may edit it again (the copy keeps their edits). The stored document is replaced only
    /// if no other command changed it meanwhile.
    public struct Edit: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "edit",
            _superCommandName: SvcUnit.toolName,
            abstract: "Edit a stored service's document in $VISUAL or $EDITOR; its UUID stays.",
            discussion: """
                The editor gets a copy of <root>/<uuid>/service.json. When it exits, the copy is \
                checked as every command will read it (the UUID may not change, the name must be \
                printable and not another service's); an invalid copy is refused with the error, \
                and on a terminal "edit again? [Y/n]" reopens it. Without a terminal, or on "n", \
                it exits 5 and the stored document is unchanged. An unchanged copy is "no changes". \
                The editor is $VISUAL, else $EDITOR, else vi, run through /bin/sh.

                A running service keeps running as it was started: it is told that the change \
                applies at its next start, or restarted with --restart-now.

                EXAMPLES
                  svcunit edit web
                  EDITOR=nano svcunit edit web --restart-now
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var change: ChangeOptions

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            let wait = try change.wait()
            let target = try context.lookup().resolve(change.service)
            let store = try context.store(create: false)
            let original = try store.read(target.uuid)
            // A document that does not load can be edited too: that is one way to repair it.
            let previous = try? context.registry.decode(data: original)
            let label = previous?.label ?? target.label
            let copy = try Self.privateCopy(of: original, name: "service.json")
            var keepCopy = false
            defer { if !keepCopy { Self.remove(copy) } }

            var document: ServiceDocument
            while true {
                let environment = CurrentProcess.environmentVariables
                let editor = [environment["VISUAL"], environment["EDITOR"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
                let status = try ChildProcess.runOnTerminal(editor, arguments: [copy.file])
                guard status == 0 else {
                    throw CLIError("\(label): the editor (\(editor)) exited with status \(status); nothing was changed", status: .failure)
                }
                guard let edited = FileManager.default.contents(atPath: copy.file) else {
                    throw CLIError("\(label): cannot read the edited copy \(copy.file); nothing was changed", status: .failure)
                }
                if edited == original {
                    print(Output.escaped("no changes to \(label)"))
                    return
                }
                do {
                    let decoded: ServiceDocument
                    decoded = try context.registry.decode(data: edited)
                    document = try ServiceChange.validated(decoded, previous: previous, uuid: target.uuid, context: context, store: store)
                    break
                } catch {
                    let refusal = "\(label): the edited document is not valid: \(ExitCodes.oneLine(error))"
                    guard Terminal.isTerminal(.standardInput) else {
                        throw CLIError(refusal + "; the stored document is unchanged", status: .badInput)
                    }
                    Output.error(refusal)
                    let answer = (Output.ask("edit again? [Y/n] ") ?? "n").filter { !$0.isWhitespace }.lowercased()
                    guard answer.isEmpty || answer == "y" || answer == "yes" else {
                        throw CLIError("\(label): not saved; the stored document is unchanged", status: .badInput)
                    }
                }
            }
            try store.withLock(target.uuid) {
                guard (try? store.read(target.uuid)) == original else {
                    keepCopy = true
                    throw CLIError("\(label) was changed by another command while it was being edited; not saved "
                                   + "(your version is in \(copy.file))", status: .failure)
                }
                try store.save(document)
            }
            print(Output.escaped("changed \(document.label)"))
            try await ServiceChange.reach(target, label: document.label, context: context, store: store, restartNow: change.restartNow,
                                          timeout: wait, root: global.root, quiet: false)
        }

        /// `data` in a new 0700 temporary directory as a 0600 file named `name`.
        static func privateCopy(of data: Data, name: String) throws(CLIError) -> (directory: String, file: String) {
            let base = CurrentProcess.environmentValue("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            let directory: String
            do { directory = try FileSystemCalls.makeTemporaryDirectory(prefix: "\(base)/svcunit-edit-") } catch {
                throw CLIError("cannot create a temporary directory in \(base): \(error.text)", status: .failure)
            }
            let file = directory + "/" + name
            guard FileManager.default.createFile(atPath: file, contents: data, attributes: [.posixPermissions: 0o600]) else {
                remove((directory, file))
                throw CLIError("cannot write \(file)", status: .failure)
            }
            return (directory, file)
        }

        static func remove(_ copy: (directory: String, file: String)) {
            try? FileManager.default.removeItem(atPath: copy.directory)
        }
    }
}
