import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import RepriseCore
import RepriseHTTP

/// The templates and static assets shipped with the module, loaded once.
public struct WebAssets: Sendable {
    let library: MustacheLibrary
    /// Path -> (bytes, content type, etag).
    let files: [String: (bytes: [UInt8], type: String, etag: String)]

    /// Loads the bundled templates and assets; a broken template fails here, at start.
    public static func bundled() throws -> WebAssets {
        guard let root = Bundle.module.resourceURL else { throw RepriseError(.config, "the web UI's resources are missing beside the binary") }
        return try load(from: root)
    }

    static func load(from root: URL) throws -> WebAssets {
        let fm = FileManager.default
        var library = MustacheLibrary()
        let templates = root.appendingPathComponent("templates")
        for name in try fm.contentsOfDirectory(atPath: templates.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(name), encoding: .utf8)
            do {
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            } catch {
                throw RepriseError(.config, "web template \(name): \(error)")
            }
        }
        var files: [String: (bytes: [UInt8], type: String, etag: String)] = [:]
        let statics = root.appendingPathComponent("static")
        for name in try fm.contentsOfDirectory(atPath: statics.path) {
            let bytes = [UInt8](try Data(contentsOf: statics.appendingPathComponent(name)))
            let type = name.hasSuffix(".css") ? "text/css; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : name.hasSuffix(".svg") ? "image/svg+xml" : "application/octet-stream"
            files[name] = (bytes, type, String(SHA256Hex.hex(bytes).prefix(16)))
        }
        return WebAssets(library: library, files: files)
    }

    /// The error page a person sees (no session: no menu), with the API's code.
    public func errorResponse(_ status: HTTPResponse.Status, code: String, message: String) -> Response {
        let heading = status.code == 404 ? "Not found" : status.code == 403 ? "Not allowed" : "Something went wrong"
        return WebHeaders.page(status, render("error", ["status": status.code, "heading": heading, "code": code, "message": message]))
    }

    func render(_ template: String, _ data: [String: Any]) -> String {
        library.render(data, withTemplate: template) ?? "<!doctype html><title>Reprise</title><p>template \(template) is missing</p>"
    }
}

/// A form body (`application/x-www-form-urlencoded`) or query string, read once.
struct WebForm: Sendable {
    private(set) var values: [String: [String]] = [:]
    subscript(_ name: String) -> String? { values[name]?.first }

    init(_ text: String) {
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decode(parts[0]) else { continue }
            values[key, default: []].append(parts.count > 1 ? decode(parts[1]) ?? "" : "")
        }
    }

    /// A trimmed, non-empty field, else nil.
    func text(_ name: String) -> String? {
        guard let v = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }

    /// An integer field within `range`, nil when absent or empty; a clear 400 otherwise.
    func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let raw = text(name) else { return nil }
        guard let n = Int(raw), range.contains(n) else { throw WebError(.badRequest, "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)") }
        return n
    }
}

/// A failure a person sees as a page: its status, the API's error code and a sentence.
struct WebError: Error {
    var status: HTTPResponse.Status
    var code: APIError.Code
    var message: String
    init(_ status: HTTPResponse.Status, code: APIError.Code? = nil, _ message: String) {
        self.status = status
        self.message = message
        let fallback: APIError.Code = switch status.code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 429: .tooManyAttempts
        default: .internalError
        }
        self.code = code ?? fallback
    }
}

enum WebFormat {
    /// `2026-12-06 11:05` (UTC) from epoch milliseconds.
    static func time(_ ms: Int64?) -> String {
        guard let ms else { return "—" }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) + " UTC"
    }

    /// `3:07` from milliseconds.
    static func duration(_ ms: Int64) -> String {
        let s = max(0, ms / 1000)
        return "\(s / 60):" + (s % 60 < 10 ? "0" : "") + "\(s % 60)"
    }
}

/// Headers every page carries: no framing, no sniffing, only Reprise's own scripts and styles.
enum WebHeaders {
    static let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

    static func page(_ status: HTTPResponse.Status, _ html: String, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: csp, .xContentTypeOptions: "nosniff",
            .cacheControl: "no-store", .referrerPolicy: "same-origin", .xFrameOptions: "DENY",
        ]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: .seeOther, headers: headers)
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xCSRFToken = Self("X-CSRF-Token")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
