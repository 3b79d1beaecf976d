import Foundation
import RepriseCore
import Testing

/// `StoredText.appendJSON` writes text that any JSON parser reads back unchanged, on its fast way (no
/// escape needed) and its slow one.
@Suite struct JSONTextTests {
    @Test(arguments: ["plain", "", "Café", "em — dash", "quote \" and \\ back", "tab\tnew\nline\r", "\u{01}\u{1F}", "line\u{2028}para\u{2029}", "🎵 ♫"])
    func readsBackUnchanged(_ text: String) throws {
        var out = ""
        StoredText.appendJSON(text, to: &out)
        let back = try JSONSerialization.jsonObject(with: Data("[\(out)]".utf8)) as? [String]
        #expect(back == [text])
        // U+2028 and U+2029 are escaped, so the text is safe inside JSONP too.
        #expect(!out.contains("\u{2028}") && !out.contains("\u{2029}"))
    }
}
