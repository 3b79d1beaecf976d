import Foundation
import HTTPTypes
import Hummingbird
import RepriseCore

/// An error rendered as `{"error": {"code": "...", "message": "..."}}` with its HTTP status.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// Maps a domain error onto its HTTP meaning.
    public init(_ error: RepriseError) {
        let status: HTTPResponse.Status = switch error.code {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .unavailable: .serviceUnavailable
        default: .internalServerError
        }
        self.init(status, code: error.code.description, error.message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(ErrorBody(error: .init(code: code, message: message)))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        if status == .unauthorized, fields[.wwwAuthenticate] == nil { fields[.wwwAuthenticate] = "Bearer realm=\"reprise\"" }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    static let unauthenticated = APIError(.unauthorized, code: "unauthorized", "a valid session is required (Authorization: Bearer <session>)")
    static let adminOnly = APIError(.forbidden, code: "forbidden", "this needs an admin account")
}

struct ErrorBody: Encodable {
    struct Inner: Encodable { let code: String; let message: String }
    let error: Inner
}

/// Turns every error into the JSON error shape: unknown routes 404, wrong methods 405, the rest 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = RepriseContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as RepriseError {
            return try APIError(error).response(from: request, context: context)
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                let allowed = routes.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    let allow = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                    return try APIError(.methodNotAllowed, code: "method_not_allowed", "\(request.method) is not allowed here; use \(allow)", headers: [.allow: allow]).response(from: request, context: context)
                }
                return try APIError(.notFound, code: "not_found", "no route for \(request.method) \(Redactor.redact(request.uri.path))").response(from: request, context: context)
            case .contentTooLarge:
                return try APIError(.contentTooLarge, code: "body_too_large", "the request body is over the configured limit").response(from: request, context: context)
            default:
                return try APIError(error.status, code: "http_\(error.status.code)", error.body ?? error.status.reasonPhrase).response(from: request, context: context)
            }
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(Redactor.redact(String(describing: error)))", "http.path": "\(Redactor.redact(request.uri.path))"])
            return try APIError(.internalServerError, code: "internal_error", "internal error").response(from: request, context: context)
        }
    }
}

/// The registered routes, so a path with the wrong method answers 405 instead of 404.
final class RouteTable: Sendable {
    private let entries: [(segments: [String], method: HTTPRequest.Method)]

    init(_ entries: [(String, HTTPRequest.Method)]) {
        self.entries = entries.map { (Self.split($0.0), $0.1) }
    }

    static func split(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let parts = Self.split(path)
        var out = Set<HTTPRequest.Method>()
        for e in entries where e.segments.count == parts.count {
            if zip(e.segments, parts).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }) { out.insert(e.method) }
        }
        if out.contains(.get) { out.insert(.head) }
        return out
    }
}
