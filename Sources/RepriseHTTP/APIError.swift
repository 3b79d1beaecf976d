import Foundation
import Logging
import RepriseStorage
import HTTPTypes
import Hummingbird
import RepriseCore
import Synchronization
import RepriseSync

/// An error rendered as `{"error": {"code": "...", "message": "..."}}` with its HTTP status.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: Code
    public var message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: Code, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// Maps a domain error onto its HTTP meaning.
    public init(_ error: RepriseError) {
        let (status, code): (HTTPResponse.Status, Code) = switch error.code {
        case .badRequest: (.badRequest, .badRequest)
        case .unauthorized: (.unauthorized, .unauthorized)
        case .forbidden: (.forbidden, .forbidden)
        case .notFound: (.notFound, .notFound)
        case .conflict: (.conflict, .conflict)
        case .unavailable: (.serviceUnavailable, .unavailable)
        case .config: (.internalServerError, .configError)
        default: (.internalServerError, .internalError)
        }
        self.init(status, code: code, error.message)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(ErrorBody(error: .init(code: code.rawValue, message: message)))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        if status == .unauthorized, fields[.wwwAuthenticate] == nil { fields[.wwwAuthenticate] = "Bearer realm=\"reprise\"" }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// 429 for a user or address past its failed-login allowance, with `Retry-After`.
    public static func tooManyAttempts(waitMs: Int64) -> APIError {
        let seconds = max(1, (waitMs + 999) / 1000)
        return APIError(.tooManyRequests, code: .tooManyAttempts, "too many failed logins; try again in \(seconds) s", headers: [.retryAfter: "\(seconds)"])
    }

    static let unauthenticated = APIError(.unauthorized, code: .unauthorized, "a valid session is required (Authorization: Bearer <session>)")
    static let adminOnly = APIError(.forbidden, code: .forbidden, "this needs an admin account")
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
        if let failing = error as? any StorageFailing {
            switch failing.storageFailure {
            case .full:
                answer = APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), code: .storageFull, "the database disk is full (request \(id))")
            case .busy:
                answer = APIError(.serviceUnavailable, code: .storageBusy, "the database is busy; try again (request \(id))", headers: [.retryAfter: "1"])
            case .unavailable:
                answer = APIError(.serviceUnavailable, code: .storageUnavailable, "the database cannot be used now (request \(id))")
            }
        } else {
            answer = APIError(.internalServerError, code: .internalError, "internal error (request \(id))")
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
    let allowed: AllowedMethods
    /// The web UI's page for a status, code and message; a browser asking for an unknown page gets it.
    var htmlPage: (@Sendable (HTTPResponse.Status, String, String) -> Response)? = nil

    /// Paths that belong to an API or a player, which answer in their own format whoever asks.
    static let machinePrefixes = ["/api/", "/rest/", "/server/", "/stream/", "/art/", "/play/", "/metrics", "/healthz"]

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
                let allowed = self.allowed.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    let allow = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                    return try APIError(.methodNotAllowed, code: .methodNotAllowed, "\(request.method) is not allowed here; use \(allow)", headers: [.allow: allow]).response(from: request, context: context)
                }
                let message = "no route for \(request.method) \(Redactor.redact(request.uri.path))"
                if let htmlPage, request.headers[.accept]?.contains("text/html") == true, !Self.machinePrefixes.contains(where: { request.uri.path.hasPrefix($0) }) {
                    return htmlPage(.notFound, APIError.Code.notFound.rawValue, "There is no page at \(Redactor.redact(request.uri.path)).")
                }
                return try APIError(.notFound, code: .notFound, message).response(from: request, context: context)
            case .contentTooLarge:
                return try APIError(.contentTooLarge, code: .bodyTooLarge, "the request body is over the configured limit").response(from: request, context: context)
            default:
                return try APIError(error.status, code: .http(error.status), error.body ?? error.status.reasonPhrase).response(from: request, context: context)
            }
        } catch {
            return try APIError.unexpected(error, request: request, logger: context.logger).response(from: request, context: context)
        }
    }
}

/// The methods the router serves per path, read from the router itself once its routes are in
/// (`Router.routes`), so a path with the wrong method answers 405 instead of 404.
public final class AllowedMethods: Sendable {
    private let entries = Locked<[(segments: [Substring], method: HTTPRequest.Method)]>([])

    public init() {}

    /// Takes the router's routes (paths as `RouterPath` prints them: `{name}` captures, `*` and `**` wildcards).
    func load(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        entries.withLock { $0 = routes.map { (Self.split($0.path), $0.method) } }
    }

    static func split(_ path: String) -> [Substring] { path.split(separator: "/") }

    /// The methods some route serves at `path`; HEAD wherever GET is.
    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let parts = Self.split(path)
        var out = Set<HTTPRequest.Method>()
        for e in entries.withLock({ $0 }) where Self.matches(e.segments, parts) { out.insert(e.method) }
        if out.contains(.get) { out.insert(.head) }
        return out
    }

    static func matches(_ pattern: [Substring], _ parts: [Substring]) -> Bool {
        if pattern.last == "**" { return parts.count >= pattern.count - 1 && zip(pattern.dropLast(), parts).allSatisfy(segment) }
        return pattern.count == parts.count && zip(pattern, parts).allSatisfy(segment)
    }

    static func segment(_ pattern: Substring, _ part: Substring) -> Bool {
        pattern == part || pattern == "*" || (pattern.hasPrefix("{") && pattern.hasSuffix("}"))
    }
}

extension APIError {
    /// An error code: the `code` of every JSON error, from this one list (README, "Error codes").
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The request conflicts with the current state (a domain rule).
        public static let conflict = Code("conflict")
        /// The server's configuration does not allow this (a plugin or player setting).
        public static let configError = Code("config_error")
        /// A web form came without its session's CSRF token (or with another's).
        public static let csrfFailed = Code("csrf_failed")
        /// A JSON field has the wrong type or an out-of-range value; the message names it.
        public static let badField = Code("bad_field")
        /// The request is malformed (a parameter, an id, a body).
        public static let badRequest = Code("bad_request")
        /// The body is over `http.max_body_bytes`.
        public static let bodyTooLarge = Code("body_too_large")
        /// The song's file changed since the last scan.
        public static let fileChanged = Code("file_changed")
        /// The song's file is gone since the last scan.
        public static let fileMissing = Code("file_missing")
        /// The credential may not do this (an admin route).
        public static let forbidden = Code("forbidden")
        /// Anything unexpected; the message has a request id its log line repeats.
        public static let internalError = Code("internal_error")
        /// Unknown user or wrong password.
        public static let invalidCredentials = Code("invalid_credentials")
        /// The stream token is unknown, revoked or expired.
        public static let invalidToken = Code("invalid_token")
        /// The body is not JSON.
        public static let malformedJson = Code("malformed_json")
        /// The route exists with other methods (see `Allow`).
        public static let methodNotAllowed = Code("method_not_allowed")
        /// Required fields or parameters are absent; the message names them.
        public static let missingFields = Code("missing_fields")
        /// No such route, song, album, token, user or player.
        public static let notFound = Code("not_found")
        /// The player answered and refused the command.
        public static let playerRefused = Code("player_refused")
        /// The player cannot be reached.
        public static let playerUnavailable = Code("player_unavailable")
        /// A plugin reload failed; the running plugins stay.
        public static let pluginLoadFailed = Code("plugin_load_failed")
        /// The token policy refused the stream; the message is its reason.
        public static let policyDenied = Code("policy_denied")
        /// The range starts past the end of the file.
        public static let rangeNotSatisfiable = Code("range_not_satisfiable")
        /// The database stayed locked past `database.busy_timeout`; see `Retry-After`.
        public static let storageBusy = Code("storage_busy")
        /// The database disk is full.
        public static let storageFull = Code("storage_full")
        /// The database cannot be used (I/O error, read-only, corrupt).
        public static let storageUnavailable = Code("storage_unavailable")
        /// Too many failed logins for the user or address; see `Retry-After`.
        public static let tooManyAttempts = Code("too_many_attempts")
        /// No usable credential was presented.
        public static let unauthorized = Code("unauthorized")
        /// The feature is not configured or not available now.
        public static let unavailable = Code("unavailable")

        /// Every code above, for the README check.
        public static let all: [Code] = [
            .conflict,
            .configError,
            .csrfFailed,
            .badField,
            .badRequest,
            .bodyTooLarge,
            .fileChanged,
            .fileMissing,
            .forbidden,
            .internalError,
            .invalidCredentials,
            .invalidToken,
            .malformedJson,
            .methodNotAllowed,
            .missingFields,
            .notFound,
            .playerRefused,
            .playerUnavailable,
            .pluginLoadFailed,
            .policyDenied,
            .rangeNotSatisfiable,
            .storageBusy,
            .storageFull,
            .storageUnavailable,
            .tooManyAttempts,
            .unauthorized,
            .unavailable,
        ]

        /// A status Hummingbird raised that Reprise has no code of its own for: `http_<status>`.
        static func http(_ status: HTTPResponse.Status) -> Code { Code("http_\(status.code)") }
    }
}
