import Foundation
import ServiceModel
import Testing

/// `JSONSkim`'s contract: for a document a full parse accepts, the skimmed string is the parsed one
/// or nil; never another string.
@Suite("JSON skim")
struct JSONSkimTests {
    static func fullParse(_ text: String, _ path: [String]) -> String? {
        guard var value = try? JSONText.parse(text) else { return nil }
        for key in path {
            guard case .object(let object) = value, let next = object[key] else { return nil }
            value = next
        }
        if case .string(let s) = value { return s }
        return nil
    }

    static let documents = [
        #"{"config": {"name": "web"}}"#,
        #"{"type": {"a": [1, "}]\"", {"x": null}]}, "config": {"description": "n\"ame", "name": "w\u00e9b \"q\" \\"}}"#,
        #"  {"uuid":"x","config":{"name":"","port":-1.5e3,"ok":true}}  "#,
        #"{"config": {"nested": {"name": "inner"}, "name": "outer"}}"#,
        #"{"config": {"name": 3}}"#,
        #"{"config": {"na\u006de": "escaped key"}}"#,
        #"{"conf": {"name": "elsewhere"}}"#,
        #"{"config": {"name": "😀 ✓"}}"#,
        "\u{FEFF}{\"config\": {\"name\": \"bom\"}}",
    ]

    @Test(arguments: documents)
    func agreesWithTheFullParseOrSaysNil(_ text: String) {
        let skimmed = JSONSkim.string(at: ["config", "name"], in: Data(text.utf8))
        let parsed = Self.fullParse(text, ["config", "name"])
        if let skimmed { #expect(skimmed == parsed, "\(text)") }
    }

    @Test func findsTheUsualCases() {
        #expect(JSONSkim.string(at: ["config", "name"], in: Data(Self.documents[0].utf8)) == "web")
        #expect(JSONSkim.string(at: ["config", "name"], in: Data(Self.documents[1].utf8)) == "wéb \"q\" \\")
        #expect(JSONSkim.string(at: ["config", "name"], in: Data(Self.documents[3].utf8)) == "outer")
        #expect(JSONSkim.string(at: ["config", "name"], in: Data(Self.documents[4].utf8)) == nil)
        #expect(JSONSkim.string(at: ["config", "name"], in: Data(Self.documents[6].utf8)) == nil)
    }

    @Test func saysNilForBrokenText() {
        for text in [#"{"config": {"name": "open"#, #"{"config": "#, "", "[]", #"{"config" {"name": "x"}}"#] {
            #expect(JSONSkim.string(at: ["config", "name"], in: Data(text.utf8)) == nil, "\(text)")
        }
    }
}
