import Foundation
import ServiceModel
import Testing

@Suite("JSON text")
struct JSONTextTests {
    @Test func dataOfUTF8TextIsItsBytes() {
        #expect(Array(Data(utf8: "héllo {\"x\": 1}\n")) == Array("héllo {\"x\": 1}\n".utf8))
        #expect(Data(utf8: "").isEmpty)
    }

    @Test func keepsKeyOrderAndIntegerVersusFloat() throws {
        let value = try JSONText.parse(#"{"z": 1, "a": 1.0, "m": [true, null, "x"], "e": 1e3}"#)
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["z", "a", "m", "e"])
        #expect(object["z"] == .int(1))
        #expect(object["a"] == .double(1.0))
        #expect(object["e"] == .double(1000))
        #expect(JSONText.formatCompact(value) == #"{"z": 1, "a": 1.0, "m": [true, null, "x"], "e": 1000.0}"#)
    }

    @Test func writesFourSpaceIndentLikePython() {
        let value: JSONValue = .object(["a": .array([.int(1), .object([:])]), "b": .array([])])
        #expect(JSONText.format(value) == "{\n    \"a\": [\n        1,\n        {}\n    ],\n    \"b\": []\n}\n")
    }

    @Test func stringEscapesRoundTrip() throws {
        let text = #"{"s": "quote \" backslash \\ tab \t nl \n uni \u00e9 \ud83d\ude00 ctrl \u0001"}"#
        let value = try JSONText.parse(text)
        #expect(value == .object(["s": .string("quote \" backslash \\ tab \t nl \n uni é 😀 ctrl \u{01}")]))
        #expect(try JSONText.parse(JSONText.format(value)) == value)
        // Copied whole when nothing needs an escape, piece by piece around the escapes otherwise: the
        // same rules, Python's json.dumps(ensure_ascii=False).
        #expect(JSONText.formatCompact(.string("plain é 😀 /")) == "\"plain é 😀 /\"")
        #expect(JSONText.formatCompact(.string("é\u{7F}\u{1F}\"\\")) == #""é\#u{7F}\u001f\"\\""#)
        #expect(JSONText.formatCompact(.string("\na\rb\tc\u{08}d\u{0C}e\u{01}😀\u{1B}")) == #""\na\rb\tc\bd\fe\u0001😀\u001b""#)
        #expect(JSONText.formatCompact(.object(["k\"ey": .string("")])) == #"{"k\"ey": ""}"#)
    }

    /// Strings without escapes take one of two paths: all ASCII (no validation needed) or with
    /// raw UTF-8, which must be valid. Both give the same strings; a bad byte is refused either way.
    @Test func rawUTF8InStringsIsValidatedAndASCIIIsNot() throws {
        let raw = Data(#"{"a": "plain ascii", "b": "caf"#.utf8) + Data([0xC3, 0xA9]) + Data(#" é", "c": ""}"#.utf8)
        #expect(try JSONText.parse(raw) == .object(["a": .string("plain ascii"), "b": .string("café é"), "c": .string("")]))
        for bad: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x61, 0x80]] {
            let input = Data(#"{"a": ""#.utf8) + Data(bad) + Data(#""}"#.utf8)
            let error = try #require(modelError { _ = try JSONText.parse(input) }, "\(bad)")
            #expect(error.code == .malformedJSON)
            #expect(error.message.contains("invalid UTF-8"), "\(error.message)")
        }
    }

    @Test func malformedJSONSaysLineAndColumn() throws {
        let error = try #require(modelError { _ = try JSONText.parse("{\n  \"a\": 1,\n  \"b\" 2\n}") })
        #expect(error.code == .malformedJSON)
        #expect(error.message.contains("line 3, column 7"), "\(error.message)")
        #expect(error.message.contains("expected ':'"))
    }

    @Test func truncatedJSONIsReportedAsTruncated() throws {
        let error = try #require(modelError { _ = try JSONText.parse("{\n  \"a\": [1, 2") })
        #expect(error.code == .truncatedJSON)
        #expect(error.message.contains("truncated JSON"))
        #expect(error.message.contains("line 2"))
    }

    @Test func emptyDocumentIsReported() throws {
        for text in ["", "  \n\t "] {
            let error = try #require(modelError { _ = try JSONText.parse(text) })
            #expect(error.code == .emptyDocument)
            #expect(error.message.contains("empty"))
        }
    }

    @Test func trailingGarbageAndDuplicateKeysAreMalformed() throws {
        let garbage = try #require(modelError { _ = try JSONText.parse("{} x") })
        #expect(garbage.code == .malformedJSON)
        #expect(garbage.message.contains("line 1, column 4"))
        let duplicate = try #require(modelError { _ = try JSONText.parse(#"{"a": 1, "a": 2}"#) })
        #expect(duplicate.message.contains("duplicate key \"a\""))
    }
}
