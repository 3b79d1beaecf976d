import Foundation
import HTTPTypes
import Hummingbird
import RepriseCore
import RepriseStorage

/// A feature module's routes: the native API, Ampache, players, later Subsonic and the web UI each
/// contribute one, with middleware of their own (`add(middleware:)`) ahead of their handlers.
public typealias RouteModule = RouteCollection<RepriseContext>

/// Registers a handler for a path (`:name` captures) and method.
public typealias RouteAdder = (String, HTTPRequest.Method, @escaping @Sendable (Request, RepriseContext) async throws -> Response) -> Void

extension RouteCollection where Context == RepriseContext {
    /// Adds `handler` for `path` (`:name` captures) and `method`.
    public func on(_ path: String, _ method: HTTPRequest.Method, _ handler: @escaping @Sendable (Request, RepriseContext) async throws -> Response) {
        on(RouterPath(path), method: method, use: handler)
    }

    /// A module whose routes `register` adds.
    ///
    /// ```swift
    /// RouteModule.build { on in on("/api/v1/ping", .get) { _, _ in Response(status: .noContent) } }
    /// ```
    public static func build(_ register: (RouteAdder) -> Void) -> RouteCollection<RepriseContext> {
        let module = RouteCollection(context: RepriseContext.self)
        register { path, method, handler in module.on(path, method, handler) }
        return module
    }
}

/// Builds Reprise's router: error mapping and identity for every route, the core's modules
/// (sessions, tokens, admin, health, metrics, stream, catalog), then `modules` (Ampache, players...).
public func buildRouter(_ app: AppServices, modules: [RouteModule] = []) -> Router<RepriseContext> {
    let router = Router(context: RepriseContext.self)
    let allowed = AllowedMethods()
    // First: Hummingbird builds each route's responder with the middleware present when it is added.
    router.middlewares.add(ErrorMiddleware(allowed: allowed, htmlPage: app.htmlErrorPage))
    // Second: who the request is made as, for every route (`context.identity`).
    router.middlewares.add(IdentityMiddleware(sessions: app.sessions, apiKeys: app.apiKeys))
    for module in [coreRoutes(app), streamRoutes(app), catalogRoutes(app), libraryRoutes(app), clientPasswordRoutes(app)] + modules { router.addRoutes(module) }
    // 405s come from what the router now serves.
    allowed.load(router.routes.map { ($0.path.description, $0.method) })
    return router
}

/// Sessions, tokens, admin, health and metrics.
func coreRoutes(_ app: AppServices) -> RouteModule {
    RouteModule.build { on in
        on("/healthz", .get) { _, _ in
            let database = switch await app.health.check() {
            case .ok: "ok"
            case .unavailable: "unavailable"
            case .full: "full"
            case .failing(let why): "read-only or failing (\(why))"
            }
            let ok = database == "ok"
            return try json(ok ? .ok : .serviceUnavailable, HealthBody(status: ok ? "ok" : "degraded", version: Reprise.version, database: database))
        }

        on("/api/v1/sessions", .post) { request, context in
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("username", "password")
            let kind = try body.string("kind").map { k in
                guard let kind = SessionKind(rawValue: k) else { throw APIError(.badRequest, code: .badField, "'kind' must be web or api") }
                return kind
            } ?? .web
            let name = try StoredText.credential(try body.string("username")!, field: "username", max: StoredText.maxName)
            let password = try StoredText.credential(try body.string("password")!, field: "password")
            let keys = LoginThrottle.keys(user: name, address: context.remoteAddress)
            let now = app.clock.nowMs()
            if let wait = app.loginThrottle.refusal(keys: keys, now: now) { throw APIError.tooManyAttempts(waitMs: wait) }
            guard let user = try await app.users.verify(name: name, password: password) else {
                app.loginThrottle.failed(keys: keys, now: now)
                throw APIError(.unauthorized, code: .invalidCredentials, "unknown user or wrong password")
            }
            app.loginThrottle.succeeded(keys: [keys[0]])
            let (secret, info) = try await app.sessions.create(
                user: user, kind: kind, client: StoredText.bounded(try body.string("client"), max: StoredText.maxClient),
                agent: StoredText.bounded(request.headers[.userAgent], max: StoredText.maxAgent), ip: context.remoteAddress)
            return try json(.created, SessionCreated(session: secret.plaintext, kind: info.kind.rawValue, expiresAt: info.expiresAt, user: user.name, role: user.role.rawValue))
        }

        on("/api/v1/sessions/ping", .post) { request, context in
            let s = try context.requireSession()
            // Written by hand: clients ping often, and this is the whole body.
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "{\"expires_at\":\(s.expiresAt)}")))
        }

        on("/api/v1/sessions/current", .delete) { request, context in
            guard case .session(_, let secret)? = context.identity else { throw APIError.unauthenticated }
            try await app.sessions.logout(secret)
            return Response(status: .noContent)
        }

        on("/api/v1/tokens", .post) { request, context in
            let s = try context.requireSession()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("label")
            guard !(try body.string("label")!).hasPrefix(StreamCredential.playerLabelPrefix) else {
                throw APIError(.badRequest, code: .badField, "'label': labels starting with \(StreamCredential.playerLabelPrefix) are the players' own")
            }
            let (secret, info) = try await app.tokens.issue(user: s.user, label: try body.string("label")!, requestedTTLSeconds: try body.int("ttl_seconds"), policy: app.tokenPolicy)
            return try json(.created, TokenCreated(id: info.id, token: secret.plaintext, label: info.label, expiresAt: info.expiresAt))
        }

        on("/api/v1/tokens", .get) { request, context in
            let s = try context.requireSession()
            var userId = s.user.id
            if let name = request.uri.queryParameters.get("user") {
                guard s.user.role == .admin else { throw APIError.adminOnly }
                guard let u = try await app.users.find(name: name) else { throw APIError(.notFound, code: .notFound, "no user named '\(name)'") }
                userId = u.id
            }
            return try json(.ok, TokenList(tokens: try await app.tokens.list(userId: userId).map(TokenView.init)))
        }

        on("/api/v1/tokens/:id", .delete) { request, context in
            let s = try context.requireSession()
            guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError(.badRequest, code: .badRequest, "token ids are integers") }
            let revoked = try await app.tokens.revoke(id: id, userId: s.user.role == .admin ? nil : s.user.id)
            guard revoked else { throw APIError(.notFound, code: .notFound, "no active token \(id)") }
            return Response(status: .noContent)
        }

        on("/api/v1/admin/sessions", .get) { request, context in
            _ = try context.requireAdmin()
            return try json(.ok, SessionList(sessions: try await app.sessions.list().map(SessionView.init)))
        }

        on("/api/v1/admin/gc", .get) { request, context in
            _ = try context.requireAdmin()
            return try json(.ok, GCRuns(runs: try await app.gc.recentRuns().map(GCView.init)))
        }

        on("/api/v1/admin/gc", .post) { request, context in
            _ = try context.requireAdmin()
            return try json(.ok, GCView(try await app.gc.runOnce()))
        }

        on("/metrics", .get) { request, context in
            guard let metrics = app.metrics else { throw APIError(.notFound, code: .notFound, "metrics are disabled (metrics.enabled)") }
            if let expected = app.metricsToken {
                let given = context.bearer ?? ""
                guard SecretHash(Array(given.utf8)).constantTimeEquals(SecretHash(Array(expected.utf8))) else {
                    throw APIError(.unauthorized, code: .unauthorized, "metrics need Authorization: Bearer <metrics.token>")
                }
            }
            let text = try await metrics()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }

    }
}

/// `GET`/`HEAD /stream/{id}` on the router (what `StreamFastPath` does not answer itself).
func streamRoutes(_ app: AppServices) -> RouteModule {
    let stream = StreamEndpoint(app: app)
    return RouteModule.build { on in
        on("/stream/:id", .get) { request, context in try await stream.respond(request, context: context, songId: context.parameters.get("id")) }
        on("/stream/:id", .head) { request, context in try await stream.respond(request, context: context, songId: context.parameters.get("id")) }
    }
}

/// Reads `Authorization: Bearer` values; `IdentityMiddleware` turns them into `context.identity`.
public enum Authenticator {
    /// The value of `Authorization: Bearer <value>` (scheme in any case, blanks trimmed), if any.
    public static func bearerValue(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        // ASCII only, no Foundation: this runs on every authenticated request.
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let token = bytes[scheme.count...].drop { $0 == 0x20 || $0 == 0x09 }
        guard let end = token.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return nil }
        return String(decoding: token[token.startIndex...end], as: UTF8.self)
    }
}

/// Encodes `value` as a JSON response with snake_case keys.
public func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
    let data = try RepriseContext.encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(data: data)))
}

struct HealthBody: Encodable { let status: String; let version: String; let database: String }
struct SessionCreated: Encodable { let session: String; let kind: String; let expiresAt: Int64; let user: String; let role: String }
struct TokenCreated: Encodable {
    let id: Int64, token: String, label: String, expiresAt: Int64?
    enum CodingKeys: CodingKey { case id, token, label, expiresAt }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(token, forKey: .token)
        try c.encode(label, forKey: .label)
        try c.encode(expiresAt, forKey: .expiresAt)
    }
}
struct TokenList: Encodable { let tokens: [TokenView] }
struct TokenView: Encodable {
    let id: Int64, user: String, label: String, createdAt: Int64, expiresAt: Int64?, lastUsedAt: Int64?, revokedAt: Int64?
    init(_ t: StreamTokenInfo) {
        (id, user, label, createdAt, expiresAt, lastUsedAt, revokedAt) = (t.id, t.userName, t.label, t.createdAt, t.expiresAt, t.lastUsedAt, t.revokedAt)
    }
    enum CodingKeys: CodingKey { case id, user, label, createdAt, expiresAt, lastUsedAt, revokedAt }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(user, forKey: .user)
        try c.encode(label, forKey: .label)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(revokedAt, forKey: .revokedAt)
    }
}
struct SessionList: Encodable { let sessions: [SessionView] }
struct SessionView: Encodable {
    let id: Int64, user: String, kind: String, client: String?, agent: String?, ip: String?, createdAt: Int64, lastSeenAt: Int64, expiresAt: Int64
    init(_ s: SessionInfo) {
        (id, user, kind, client, agent, ip) = (s.id, s.userName, s.kind.rawValue, s.client, s.agent, s.ip)
        (createdAt, lastSeenAt, expiresAt) = (s.createdAt, s.lastSeenAt, s.expiresAt)
    }
}
struct GCRuns: Encodable { let runs: [GCView] }
struct GCView: Encodable {
    let startedAt: Int64, durationMs: Int64, examined: Int, deleted: Int, sparedGrace: Int, sparedLease: Int, sparedRule: Int
    let tokensPurged: Int, longestBatchMs: Int64, dryRun: Bool
    init(_ g: GCRunStats) {
        (startedAt, durationMs, examined, deleted) = (g.startedAt, g.durationMs, g.examined, g.deleted)
        (sparedGrace, sparedLease, sparedRule, tokensPurged, longestBatchMs, dryRun) = (g.sparedByGrace, g.sparedByLease, g.sparedByRule, g.tokensPurged, g.longestBatchMs, g.dryRun)
    }
}
