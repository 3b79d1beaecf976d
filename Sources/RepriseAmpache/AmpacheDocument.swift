import Foundation
import RepriseCore

/// A value in an Ampache response, rendered alike as JSON and as XML.
indirect enum AValue: Sendable {
    case text(String)
    case number(Int64)
    case null
    /// A nested reference such as a song's artist: `{"id": "1", "name": "..."}` or `<artist id="1">...</artist>`.
    case ref(id: String, name: String)
    /// An object with an id attribute in XML.
    case record(ARecord)
    /// A repeated element: a JSON array, repeated XML elements.
    case list([AValue])
    /// A boolean.
    case flag(Bool)
    /// A plain nested object without an id: `{"k": v}` or `<name><k>v</k></name>`.
    case object([(String, AValue)])

    static func int(_ n: Int) -> AValue { .number(Int64(n)) }
    static func opt(_ n: Int?) -> AValue { n.map { .number(Int64($0)) } ?? .null }
    static func opt(_ s: String?) -> AValue { s.map { .text($0) } ?? .null }
    /// Ampache writes booleans as JSON true/false; XML gets 1/0.
    static func bool(_ b: Bool) -> AValue { .flag(b) }
}

/// An Ampache object (song, album, artist): an id and ordered fields.
struct ARecord: Sendable {
    var id: String
    var fields: [(String, AValue)]
}

/// A whole response body: top-level fields, one object, a counted list, or an error.
enum AmpacheDocument: Sendable {
    case fields([(String, AValue)])
    case single(String, ARecord)
    case list(String, total: Int, [ARecord])
    case error(AmpacheError)

    /// The JSON text of this document.
    func json() -> String {
        var out = ""
        switch self {
        case .fields(let f):
            JSONOut.object(f, into: &out)
        case .single(_, let r):
            JSONOut.object([("id", .text(r.id))] + r.fields, into: &out)
        case .list(let name, let total, let items):
            JSONOut.object([("total_count", .int(total)), (name, .list(items.map(AValue.record)))], into: &out)
        case .error(let e):
            JSONOut.object([("error", .record(ARecord(id: "", fields: e.fields)))], into: &out, recordIds: false)
        }
        return out
    }

    /// The XML text of this document, a `<root>` element.
    func xml() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<root>\n"
        switch self {
        case .fields(let f):
            for (k, v) in f { XMLOut.element(k, v, into: &out) }
        case .single(let name, let r):
            XMLOut.element(name, .record(r), into: &out)
        case .list(let name, let total, let items):
            out += "<total_count>\(total)</total_count>\n"
            for r in items { XMLOut.element(name, .record(r), into: &out) }
        case .error(let e):
            out += "<error errorCode=\"\(e.code.rawValue)\">\n"
            for (k, v) in e.fields where k != "errorCode" { XMLOut.element(k, v, into: &out) }
            out += "</error>\n"
        }
        return out + "</root>\n"
    }
}

/// Writes JSON with the keys in the order given.
enum JSONOut {
    static func object(_ fields: [(String, AValue)], into out: inout String, recordIds: Bool = true) {
        out += "{"
        for (i, (k, v)) in fields.enumerated() {
            if i > 0 { out += "," }
            string(k, into: &out)
            out += ":"
            value(v, into: &out, recordIds: recordIds)
        }
        out += "}"
    }

    static func value(_ v: AValue, into out: inout String, recordIds: Bool = true) {
        switch v {
        case .text(let s): string(s, into: &out)
        case .number(let n): out += String(n)
        case .null: out += "null"
        case .ref(let id, let name): object([("id", .text(id)), ("name", .text(name))], into: &out)
        case .record(let r): object(recordIds ? [("id", .text(r.id))] + r.fields : r.fields, into: &out)
        case .object(let fields): object(fields, into: &out)
        case .flag(let b): out += b ? "true" : "false"
        case .list(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                value(item, into: &out)
            }
            out += "]"
        }
    }

    static func string(_ s: String, into out: inout String) { StoredText.appendJSON(s, to: &out) }
}

/// Writes XML elements with escaped text and attributes.
enum XMLOut {
    static func element(_ name: String, _ v: AValue, into out: inout String) {
        switch v {
        case .text(let s): out += "<\(name)>\(escape(s))</\(name)>\n"
        case .number(let n): out += "<\(name)>\(n)</\(name)>\n"
        case .null: out += "<\(name)/>\n"
        case .ref(let id, let text): out += "<\(name) id=\"\(escape(id))\">\(escape(text))</\(name)>\n"
        case .record(let r):
            out += "<\(name) id=\"\(escape(r.id))\">\n"
            for (k, v) in r.fields { element(k, v, into: &out) }
            out += "</\(name)>\n"
        case .list(let items):
            for item in items { element(name, item, into: &out) }
        case .flag(let b): out += "<\(name)>\(b ? 1 : 0)</\(name)>\n"
        case .object(let fields):
            out += "<\(name)>\n"
            for (k, v) in fields { element(k, v, into: &out) }
            out += "</\(name)>\n"
        }
    }

    /// Escapes markup characters and drops characters XML 1.0 cannot carry.
    static func escape(_ s: String) -> String { StoredText.xmlEscaped(s) }
}
