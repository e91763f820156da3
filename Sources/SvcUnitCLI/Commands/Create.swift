public import ArgumentParser

extension SvcUnit {
    /// `svcunit create KIND …`: the group of commands that store a new service without starting it.
    ///
    /// Not obvious: creating never talks to systemd; the service only becomes a unit on `start`.
    public struct Create: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Store a new service (it is not started).",
            discussion: """
                Prints the new service's UUID (or, with --json, the whole service document). \
                Nothing is stored when an option is invalid (exit 2).

                EXAMPLES
                  svcunit create command --name web --health-path / -- python3 -m http.server {port}
                  svcunit create sleeper --wake-up-after 60
                """,
            subcommands: [CreateCommand.self, CreateSleeper.self]
        )

        public init() {}
    }
}
