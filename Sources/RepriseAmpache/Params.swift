import Foundation
import Hummingbird
import NIOCore

/// An Ampache request's parameters: the query string merged with a form-encoded POST body.
struct Params: Sendable {
    var values: [String: String]

    /// The value of `key`, nil when absent or empty.
    subscript(_ key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }

    /// Whether a 0/1/true/false flag is set.
    func flag(_ key: String) -> Bool {
        guard let v = self[key]?.lowercased() else { return false }
        return v == "1" || v == "true"
    }

    /// Reads the query string and, for a form-encoded body, the body (the body wins on a clash).
    static func read(_ request: Request, limit: Int) async throws -> Params {
        var values: [String: String] = [:]
        // Decoded here, not by the router: form encoding writes a space as `+` (Python's urlencode does).
        for (k, v) in form(request.uri.query ?? "") { values[k] = v }
        if request.method == .post, let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded") {
            var request = request
            let buffer = try await request.collectBody(upTo: limit)
            for (k, v) in form(String(buffer: buffer)) { values[k] = v }
        }
        return Params(values: values)
    }

    /// Decodes `a=1&b=x+y` into pairs; `+` is a space.
    static func form(_ text: String) -> [(String, String)] {
        text.split(separator: "&").compactMap { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let k = decode(kv[0]), !k.isEmpty else { return nil }
            return (k, kv.count > 1 ? decode(kv[1]) ?? "" : "")
        }
    }
}
