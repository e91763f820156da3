import ServiceModel

/// How an error reads, for people and for `--json`: one place for both, so they carry the same facts.
///
/// For people: a first line with the facts (`bad (d761e1eb) failed to start: exited with status 7`),
/// then, for a failed start, at most a few indented lines of the service's own last output and where
/// to look (`  see: svcunit logs bad`). For programs: one JSON object with the same facts as fields.
/// Not obvious: the first line is all a script that greps stderr needs; every further line is
/// indented, so "the error line" stays the first line that starts with `svcunit: error:`.
enum ErrorReport {
    /// The lines after `svcunit: error: ` (the first) and the indented ones below it.
    /// - Parameter root: the `--root` given on the command line, repeated in the `see:` command.
    static func lines(for error: any Error, root: String? = nil) -> [String] {
        var lines = [ExitCodes.oneLine(error)]
        guard let failure = (error as? ServiceModelError)?.failure else { return lines }
        lines += failure.output.map { "  " + ExitCodes.oneLine($0) }
        lines.append("  see: " + logsCommand(failure, root: root))
        return lines
    }

    /// The error as the fields of one JSON object: message, exit_status and, for a failed start or
    /// stop, the service (name, uuid), operation, reason, output (the service's own last lines) and see.
    static func facts(of error: any Error, status: ExitCodes, root: String? = nil) -> JSONObject {
        var o = JSONObject()
        o["message"] = .string(ExitCodes.oneLine(error))
        o["exit_status"] = .int(Int64(status.rawValue))
        if let failure = (error as? ServiceModelError)?.failure {
            o["service"] = .object(["name": .string(failure.name), "uuid": .string(failure.uuid.rawValue)])
            o["operation"] = .string(failure.operation)
            o["reason"] = .string(failure.reason)
            o["output"] = .array(failure.output.map(JSONValue.string))
            o["see"] = .string(logsCommand(failure, root: root))
        }
        return o
    }

    /// `svcunit logs bad`: the name when it is one plain word a shell passes unquoted, else the UUID.
    static func logsCommand(_ failure: ServiceFailure, root: String?) -> String {
        let plain = isPlainWord(failure.name, also: "._@+-") && !failure.name.hasPrefix("-")
        let rootPart = root.map { " --root " + quoted($0) } ?? ""
        return "svcunit logs \(plain ? failure.name : failure.uuid.rawValue)\(rootPart)"
    }

    /// A path as a shell word: unchanged when it needs no quoting, else in single quotes.
    static func quoted(_ word: String) -> String {
        return isPlainWord(word, also: "/._@+-=:,") ? word : "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// Non-empty, and only ASCII letters, digits and the characters in `also`.
    private static func isPlainWord(_ word: String, also: String) -> Bool {
        !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || also.unicodeScalars.contains(scalar))
        }
    }
}
