import Foundation
import GRDB
import Logging
import HTTPTypes
import Hummingbird
import RepriseCore
import Synchronization

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

    /// 429 for a user or address past its failed-login allowance, with `Retry-After`.
    public static func tooManyAttempts(waitMs: Int64) -> APIError {
        let seconds = max(1, (waitMs + 999) / 1000)
        return APIError(.tooManyRequests, code: "too_many_attempts", "too many failed logins; try again in \(seconds) s", headers: [.retryAfter: "\(seconds)"])
    }

    static let unauthenticated = APIError(.unauthorized, code: "unauthorized", "a valid session is required (Authorization: Bearer <session>)")
    static let adminOnly = APIError(.forbidden, code: "forbidden", "this needs an admin account")
}

extension APIError {
    /// A storage failure or unexpected error as an answer: logged once with a request id, never an empty body.
    ///
    /// SQLITE_FULL is 507 `storage_full`; a busy or locked database past its timeout is 503
    /// `storage_busy`; other storage failures (I/O, read-only, corrupt) are 503 `storage_unavailable`;
    /// anything else is 500 `internal_error`.
    public static func unexpected(_ error: any Error, request: Request, logger: Logger) -> APIError {
        let id = RequestID.next()
        let answer: APIError
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_FULL:
                answer = APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), code: "storage_full", "the database disk is full (request \(id))")
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                answer = APIError(.serviceUnavailable, code: "storage_busy", "the database is busy; try again (request \(id))", headers: [.retryAfter: "1"])
            default:
                answer = APIError(.serviceUnavailable, code: "storage_unavailable", "the database cannot be used now (request \(id))")
            }
        } else {
            answer = APIError(.internalServerError, code: "internal_error", "internal error (request \(id))")
        }
        logger.error("request failed", metadata: [
            "request.id": "\(id)", "error.code": "\(answer.code)", "error": "\(Redactor.line(String(describing: error)))",
            "http.method": "\(request.method)", "http.path": "\(Redactor.line(request.uri.path))",
        ])
        return answer
    }
}

/// Short ids that tie an error answer to its log line.
public enum RequestID {
    private static let counter = Atomic<UInt64>(0)
    private static let prefix = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)

    /// The next id: a per-process random prefix and a counter.
    public static func next() -> String {
        "\(prefix)-\(counter.add(1, ordering: .relaxed).newValue)"
    }
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
            return try APIError.unexpected(error, request: request, logger: context.logger).response(from: request, context: context)
        }
    }
}

/// The registered routes, so a path with the wrong method answers 405 instead of 404.
public final class RouteTable: Sendable {
    private let entries = Mutex<[(segments: [String], method: HTTPRequest.Method)]>([])

    public init() {}

    /// Every registered route as `(path, method)`, parameters written `:name`.
    public var routes: [(path: String, method: HTTPRequest.Method)] {
        entries.withLock { $0.map { ("/" + $0.segments.joined(separator: "/"), $0.method) } }
    }

    /// Records a route as it is registered.
    func add(_ path: String, _ method: HTTPRequest.Method) {
        entries.withLock { $0.append((Self.split(path), method)) }
    }

    static func split(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let parts = Self.split(path)
        var out = Set<HTTPRequest.Method>()
        for e in entries.withLock({ $0 }) where e.segments.count == parts.count {
            if zip(e.segments, parts).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }) { out.insert(e.method) }
        }
        if out.contains(.get) { out.insert(.head) }
        return out
    }
}
