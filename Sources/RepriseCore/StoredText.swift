/// Caps and cleaning for text that clients choose and Reprise stores, logs or writes into M3U and XML.
///
/// ```swift
/// let label = try StoredText.label(" mpd ", field: "label") // "mpd"
/// let agent = StoredText.bounded(userAgent, max: StoredText.maxAgent)
/// ```
public enum StoredText {
    /// Longest token label. Lengths here count Unicode code points, as SQLite's `length()` does.
    public static let maxLabel = 128
    /// Longest stored client name (`client` of a login or handshake).
    public static let maxClient = 128
    /// Longest stored User-Agent.
    public static let maxAgent = 512
    /// Longest user name.
    public static let maxName = 64
    /// Longest password or credential text accepted at all.
    public static let maxCredential = 1024

    /// Whether `text` holds a C0/C1 control character or DEL.
    public static func hasControl(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isControl)
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0) || u.value == 0x2028 || u.value == 0x2029
    }

    /// Free text from a client (agent, client name): control characters dropped, cut to `max` characters.
    public static func bounded(_ text: String?, max: Int) -> String? {
        guard let text else { return nil }
        var out = String.UnicodeScalarView()
        var count = 0
        for u in text.unicodeScalars where !isControl(u) {
            if count == max { break }
            out.append(u)
            count += 1
        }
        return String(out)
    }

    /// A label: trimmed, 1...`maxLabel` characters, no control characters; else a `badRequest` naming `field`.
    public static func label(_ text: String, field: String = "label") throws(RepriseError) -> String {
        let t = text.trimmingCharactersInSet(" \t")
        guard !t.isEmpty, t.unicodeScalars.count <= maxLabel else { throw RepriseError(.badRequest, "\(field) must be 1 to \(maxLabel) characters") }
        guard !hasControl(t) else { throw RepriseError(.badRequest, "\(field) must not contain control characters") }
        return t
    }

    /// A user name or credential: no NUL or other control character, at most `max` characters.
    public static func credential(_ text: String, field: String, max: Int = maxCredential) throws(RepriseError) -> String {
        guard text.unicodeScalars.count <= max else { throw RepriseError(.badRequest, "\(field) is longer than \(max) characters") }
        guard !hasControl(text) else { throw RepriseError(.badRequest, "\(field) must not contain NUL or control characters") }
        return text
    }

    /// `text` with control characters replaced by spaces, for one line of M3U or a log.
    public static func singleLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? " " : $0 }))
    }

    /// `text` with control characters written as escapes (`\n`, `\u{1b}`).
    public static func escapingControls(_ text: String) -> String {
        guard hasControl(text) else { return text }
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(u): out += "\\u{\(String(u.value, radix: 16))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// `text` escaped for XML text and attributes, without the characters XML 1.0 forbids
    /// (controls other than tab, CR and LF; U+FFFE, U+FFFF).
    public static func xmlEscaped(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                if u.value < 0x20 && u != "\n" && u != "\r" && u != "\t" { continue }
                if u.value == 0xFFFE || u.value == 0xFFFF { continue }
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Appends `text` to `out` as a JSON string literal, quotes included.
    public static func appendJSON(_ text: String, to out: inout String) {
        out += "\""
        // Most text needs no escape: appended whole (0xE2 leads U+2028 and U+2029, so it takes the slow way).
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0xE2 }) {
            out += text
            out += "\""
            return
        }
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
