import Foundation
import RepriseCore

/// A value of a Subsonic attribute: XML writes it as text, JSON keeps its type.
enum SValue: Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)

    static func int(_ n: Int) -> SValue { .int(Int64(n)) }
}

/// An element of a Subsonic response: attributes, children (one or a list), and text (`value` in JSON).
struct SNode: Sendable {
    var attributes: [(String, SValue)] = []
    var children: [(String, SChild)] = []
    var text: String?

    init(_ attributes: [(String, SValue)] = [], children: [(String, SChild)] = [], text: String? = nil) {
        (self.attributes, self.children, self.text) = (attributes, children, text)
    }

    /// Adds an attribute when the value is known (Subsonic leaves unknown ones out).
    mutating func add(_ name: String, _ value: SValue?) { if let value { attributes.append((name, value)) } }
    mutating func add(_ name: String, _ value: String?) { if let value { attributes.append((name, .string(value))) } }
    mutating func add(_ name: String, _ value: Int?) { if let value { attributes.append((name, .int(value))) } }
    mutating func add(_ name: String, _ value: Int64?) { if let value { attributes.append((name, .int(value))) } }
    mutating func add(_ name: String, _ value: Bool?) { if let value { attributes.append((name, .bool(value))) } }
    mutating func child(_ name: String, _ node: SNode) { children.append((name, .one(node))) }
    /// A list: in JSON always an array, even of one or none.
    mutating func list(_ name: String, _ nodes: [SNode]) { children.append((name, .many(nodes))) }
}

enum SChild: Sendable {
    case one(SNode)
    case many([SNode])
    /// Plain values: a JSON array of them, repeated elements with text in XML.
    case values([SValue])
}

/// A Subsonic error, with its documented code.
struct SubsonicError: Error, Sendable {
    enum Code: Int, Sendable {
        case generic = 0
        case missingParameter = 10
        case clientTooOld = 20
        case serverTooOld = 30
        case wrongCredentials = 40
        case tokenAuthNotSupported = 41
        case authMechanismNotSupported = 42
        case conflictingAuth = 43
        case invalidApiKey = 44
        case notAuthorized = 50
        case notFound = 70
    }

    let code: Code
    let message: String
    init(_ code: Code, _ message: String) { (self.code, self.message) = (code, message) }

    static func missing(_ name: String) -> SubsonicError { SubsonicError(.missingParameter, "required parameter is missing: \(name)") }
    static func notFound(_ what: String) -> SubsonicError { SubsonicError(.notFound, "\(what) not found") }
}

/// The `subsonic-response` envelope in XML, JSON or JSONP.
enum SubsonicFormat: Sendable, Equatable {
    case xml, json
    case jsonp(callback: String)

    static let apiVersion = "1.16.1"
    static let namespace = "http://subsonic.org/restapi"

    /// The response body and its content type: `ok` with `body`'s children, or `failed` with the error.
    func render(_ body: SNode?, error: SubsonicError?) -> (String, String) {
        var root = SNode([
            ("status", .string(error == nil ? "ok" : "failed")), ("version", .string(Self.apiVersion)), ("type", .string("reprise")),
            ("serverVersion", .string(Reprise.version)), ("openSubsonic", .bool(true)),
        ])
        if let body { root.children = body.children }
        if let error { root.child("error", SNode([("code", .int(error.code.rawValue)), ("message", .string(error.message))])) }
        switch self {
        case .xml:
            var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            Self.xml("subsonic-response", root, namespace: Self.namespace, into: &out)
            return (out, "text/xml; charset=utf-8")
        case .json:
            var out = "{\"subsonic-response\":"
            Self.json(root, into: &out)
            return (out + "}", "application/json; charset=utf-8")
        case .jsonp(let callback):
            var out = "\(callback)({\"subsonic-response\":"
            Self.json(root, into: &out)
            return (out + "});", "application/javascript; charset=utf-8")
        }
    }

    static func text(_ v: SValue) -> String {
        switch v {
        case .string(let s): s
        case .int(let n): String(n)
        case .bool(let b): b ? "true" : "false"
        case .double(let d): String(d)
        }
    }

    static func xml(_ name: String, _ node: SNode, namespace: String? = nil, into out: inout String) {
        out += "<\(name)"
        if let namespace { out += " xmlns=\"\(namespace)\"" }
        for (k, v) in node.attributes { out += " \(k)=\"\(StoredText.xmlEscaped(text(v)))\"" }
        if node.children.isEmpty && node.text == nil {
            out += "/>"
            return
        }
        out += ">"
        if let t = node.text { out += StoredText.xmlEscaped(t) }
        for (k, child) in node.children {
            switch child {
            case .one(let n): xml(k, n, into: &out)
            case .many(let ns): for n in ns { xml(k, n, into: &out) }
            case .values(let vs): for v in vs { out += "<\(k)>\(StoredText.xmlEscaped(text(v)))</\(k)>" }
            }
        }
        out += "</\(name)>"
    }

    static func json(_ node: SNode, into out: inout String) {
        out += "{"
        var first = true
        func key(_ k: String) {
            if !first { out += "," }
            first = false
            StoredText.appendJSON(k, to: &out)
            out += ":"
        }
        for (k, v) in node.attributes {
            key(k)
            switch v {
            case .string(let s): StoredText.appendJSON(s, to: &out)
            case .int(let n): out += String(n)
            case .bool(let b): out += b ? "true" : "false"
            case .double(let d): out += d.isFinite ? String(d) : "0"
            }
        }
        if let t = node.text {
            key("value")
            StoredText.appendJSON(t, to: &out)
        }
        for (k, child) in node.children {
            key(k)
            switch child {
            case .one(let n): json(n, into: &out)
            case .many(let ns):
                out += "["
                for (i, n) in ns.enumerated() {
                    if i > 0 { out += "," }
                    json(n, into: &out)
                }
                out += "]"
            case .values(let vs):
                out += "[" + vs.map { v -> String in
                    var s = ""
                    switch v {
                    case .string(let t): StoredText.appendJSON(t, to: &s)
                    default: s = text(v)
                    }
                    return s
                }.joined(separator: ",") + "]"
            }
        }
        out += "}"
    }

    /// A JSONP callback must be a plain JavaScript name (or dotted path): nothing else is echoed back.
    static func validCallback(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.unicodeScalars.first, first == "_" || first == "$" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "$" || $0 == ".") }
    }
}
