import Foundation
import TestSupport
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RepriseCore
import RepriseSQLite
import RepriseStorage
import Testing
@testable import RepriseHTTP

/// A live set of services on a temporary database, with a manual clock.
struct TestServer {
    let services: AppServices
    let clock: ManualWallClock
    let db: DatabasePool

    init(policy: SessionPolicy = SessionPolicy(webTTL: 60_000, apiTTL: 600_000, minAge: 10_000, extendInterval: 5_000), maxBody: Int = 4096) throws {
        let path = try TempDir("reprise-http").file("reprise.sqlite").path
        let db = try RepriseDatabase.open(path: path, readers: 2)
        let clock = ManualWallClock()
        let sessions = SessionStore(db: db, clock: clock, policy: policy)
        let tokens = StreamTokenStore(db: db, clock: clock)
        services = AppServices(
            clock: clock, users: UserStore(db: db, clock: clock, bcryptCost: 4), sessions: sessions, tokens: tokens,
            apiKeys: ApiKeyStore(db: db, clock: clock), leases: LeaseStore(db: db, clock: clock),
            gc: GarbageCollector(db: db, clock: clock, policy: policy, settings: GCSettings(), sessions: sessions, tokens: tokens),
            catalog: CatalogStore(db: db, clock: clock), library: LibraryStore(db: db, clock: clock), ledger: StreamLedger(db: db, clock: clock), health: SQLiteHealth(db: db),
            maxBodyBytes: maxBody)
        self.clock = clock
        self.db = db
    }

    func test(modules: [RouteModule] = [], _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: buildRouter(services, modules: modules))
        try await app.test(.router, body)
    }
}

extension TestClientProtocol {
    /// Sends a JSON request and returns the status and the decoded object.
    func call(_ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, json: String? = nil) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        var headers: HTTPFields = [:]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { r in
            let obj = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [String: Any] ?? [:]
            return (r.status, obj, r.headers)
        }
    }

    func login(_ user: String, _ password: String) async throws -> String {
        let (status, body, _) = try await call(.post, "/api/v1/sessions", json: #"{"username":"\#(user)","password":"\#(password)"}"#)
        #expect(status == .created)
        return try #require(body["session"] as? String)
    }
}

func errorCode(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }

@Suite struct SessionAPITests {
    @Test func loginPingLogout() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            let (status, body, _) = try await client.call(.post, "/api/v1/sessions", json: #"{"username":"ann","password":"password1"}"#)
            #expect(status == .created)
            #expect(body["kind"] as? String == "web")
            let session = try #require(body["session"] as? String)
            let created = try #require(body["expires_at"] as? Int64)
            server.clock.advance(ms: 1_000)
            let (pingStatus, ping, _) = try await client.call(.post, "/api/v1/sessions/ping", bearer: session)
            #expect(pingStatus == .ok)
            #expect(ping["expires_at"] as? Int64 == created + 1_000)
            // The scheme is case-insensitive and blanks around the token are ignored; anything else is refused.
            for (header, want) in [("BEARER  \(session) ", HTTPResponse.Status.ok), ("bearer\t\(session)", .unauthorized), ("Bearer ", .unauthorized), ("Basic \(session)", .unauthorized)] {
                let got = try await client.execute(uri: "/api/v1/sessions/ping", method: .post, headers: [.authorization: header]) { $0.status }
                #expect(got == want, "\(header.replacingOccurrences(of: session, with: "<s>"))")
            }
            let (logout, _, _) = try await client.call(.delete, "/api/v1/sessions/current", bearer: session)
            #expect(logout == .noContent)
            let (after, err, headers) = try await client.call(.post, "/api/v1/sessions/ping", bearer: session)
            #expect(after == .unauthorized)
            #expect(errorCode(err) == "unauthorized")
            #expect(headers[.wwwAuthenticate] != nil)
        }
    }

    @Test func unknownUserAndWrongPasswordLookTheSame() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            let (s1, b1, _) = try await client.call(.post, "/api/v1/sessions", json: #"{"username":"ann","password":"nope-nope"}"#)
            let (s2, b2, _) = try await client.call(.post, "/api/v1/sessions", json: #"{"username":"zed","password":"nope-nope"}"#)
            #expect(s1 == .unauthorized && s2 == .unauthorized)
            #expect((b1["error"] as? [String: String]) == (b2["error"] as? [String: String]))
        }
    }

    @Test func malformedAndIncompleteBodies() async throws {
        let server = try TestServer(maxBody: 256)
        try await server.test { client in
            let (s1, b1, _) = try await client.call(.post, "/api/v1/sessions", json: #"{"username": "#)
            #expect(s1 == .badRequest)
            #expect(errorCode(b1) == "malformed_json")
            let (s2, b2, _) = try await client.call(.post, "/api/v1/sessions", json: #"{"username":"ann"}"#)
            #expect(s2 == .badRequest)
            #expect(((b2["error"] as? [String: Any])?["message"] as? String)?.contains("password") == true)
            let (s3, _, _) = try await client.call(.post, "/api/v1/sessions", json: "[1,2]")
            #expect(s3 == .badRequest)
            let (s4, _, _) = try await client.call(.post, "/api/v1/sessions", json: #"{"username":1,"password":"x"}"#)
            #expect(s4 == .badRequest)
            let big = "{\"username\":\"" + String(repeating: "a", count: 1_000) + "\",\"password\":\"p\"}"
            let (s5, b5, _) = try await client.call(.post, "/api/v1/sessions", json: big)
            #expect(s5 == .contentTooLarge)
            #expect(errorCode(b5) == "body_too_large")
        }
    }

    @Test func unknownRouteAndWrongMethod() async throws {
        let server = try TestServer()
        try await server.test { client in
            let (s1, b1, _) = try await client.call(.get, "/api/v1/nothing")
            #expect(s1 == .notFound)
            #expect(errorCode(b1) == "not_found")
            let (s2, b2, h2) = try await client.call(.put, "/api/v1/sessions/ping")
            #expect(s2 == .methodNotAllowed)
            #expect(errorCode(b2) == "method_not_allowed")
            #expect(h2[.allow] == "POST")
            let (s3, _, _) = try await client.call(.put, "/api/v1/tokens/7")
            #expect(s3 == .methodNotAllowed)
        }
    }

    /// A module's own middleware runs for its routes only, after the router's identity and error mapping.
    @Test func moduleMiddlewareStaysInItsModule() async throws {
        struct Stamp: RouterMiddleware {
            func handle(_ request: Request, context: RepriseContext, next: (Request, RepriseContext) async throws -> Response) async throws -> Response {
                var response = try await next(request, context)
                response.headers[HTTPField.Name("X-Module")!] = context.identity == nil ? "anonymous" : "known"
                return response
            }
        }
        let module = RouteModule(context: RepriseContext.self).add(middleware: Stamp())
        module.on("/module/open", .get) { _, _ in Response(status: .noContent) }
        module.on("/module/thing", .get) { _, context in
            guard context.identity != nil else { throw APIError(.unauthorized, code: .unauthorized, "log in") }
            return Response(status: .noContent)
        }
        let server = try TestServer()
        try await server.test(modules: [module]) { client in
            let (s1, b1, h1) = try await client.call(.get, "/module/thing")
            #expect(s1 == .unauthorized && errorCode(b1) == "unauthorized")  // mapped by the router's error middleware
            #expect(h1[HTTPField.Name("X-Module")!] == nil)  // the error passed through Stamp
            let (s0, _, h0) = try await client.call(.get, "/module/open")
            #expect(s0 == .noContent && h0[HTTPField.Name("X-Module")!] == "anonymous")
            let (s2, _, _) = try await client.call(.post, "/module/thing")
            #expect(s2 == .methodNotAllowed)
            let (_, _, h3) = try await client.call(.get, "/healthz")
            #expect(h3[HTTPField.Name("X-Module")!] == nil)
        }
    }

    @Test func healthz() async throws {
        let server = try TestServer()
        try await server.test { client in
            let (status, body, _) = try await client.call(.get, "/healthz")
            #expect(status == .ok)
            #expect(body["version"] as? String == Reprise.version)
            #expect(body["database"] as? String == "ok")
        }
    }
}

@Suite struct TokenAPITests {
    @Test func createListRevoke() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            let session = try await client.login("ann", "password1")
            let (s1, created, _) = try await client.call(.post, "/api/v1/tokens", bearer: session, json: #"{"label":"mpd","ttl_seconds":3600}"#)
            #expect(s1 == .created)
            let token = try #require(created["token"] as? String)
            #expect(token.hasPrefix("rt_"))
            #expect(created["expires_at"] as? Int64 == server.clock.nowMs() + 3_600_000)
            let (_, forever, _) = try await client.call(.post, "/api/v1/tokens", bearer: session, json: #"{"label":"forever"}"#)
            #expect(forever.keys.contains("expires_at"))
            #expect(forever["expires_at"] is NSNull)
            let id = try #require(created["id"] as? Int64)
            let (s2, list, _) = try await client.call(.get, "/api/v1/tokens", bearer: session)
            #expect(s2 == .ok)
            let tokens = try #require(list["tokens"] as? [[String: Any]])
            #expect(tokens.count == 2)
            #expect(!String(describing: list).contains(token))
            let (s3, _, _) = try await client.call(.delete, "/api/v1/tokens/\(id)", bearer: session)
            #expect(s3 == .noContent)
            let (s4, _, _) = try await client.call(.delete, "/api/v1/tokens/\(id)", bearer: session)
            #expect(s4 == .notFound)
            let (s5, _, _) = try await client.call(.delete, "/api/v1/tokens/abc", bearer: session)
            #expect(s5 == .badRequest)
        }
    }

    @Test func streamTokenIsRefusedAsBearer() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            let session = try await client.login("ann", "password1")
            let (_, created, _) = try await client.call(.post, "/api/v1/tokens", bearer: session, json: #"{"label":"mpd"}"#)
            let token = try #require(created["token"] as? String)
            for (method, uri) in [(HTTPRequest.Method.get, "/api/v1/tokens"), (.post, "/api/v1/sessions/ping"), (.delete, "/api/v1/sessions/current")] {
                let (status, _, _) = try await client.call(method, uri, bearer: token)
                #expect(status == .unauthorized, "\(method) \(uri)")
            }
        }
    }

    @Test func adminSeesOtherUsersTokensUsersDoNot() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "root", password: "password1", role: .admin)
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            let ann = try await client.login("ann", "password1")
            let root = try await client.login("root", "password1")
            _ = try await client.call(.post, "/api/v1/tokens", bearer: ann, json: #"{"label":"phone"}"#)
            let (s1, list, _) = try await client.call(.get, "/api/v1/tokens?user=ann", bearer: root)
            #expect(s1 == .ok)
            #expect((list["tokens"] as? [Any])?.count == 1)
            let (s2, _, _) = try await client.call(.get, "/api/v1/tokens?user=root", bearer: ann)
            #expect(s2 == .forbidden)
            let (s3, _, _) = try await client.call(.get, "/api/v1/tokens?user=nobody", bearer: root)
            #expect(s3 == .notFound)
        }
    }
}

@Suite struct AdminAPITests {
    @Test func adminOnly() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            let ann = try await client.login("ann", "password1")
            for (method, uri) in [(HTTPRequest.Method.get, "/api/v1/admin/sessions"), (.get, "/api/v1/admin/gc"), (.post, "/api/v1/admin/gc")] {
                let (status, body, _) = try await client.call(method, uri, bearer: ann)
                #expect(status == .forbidden)
                #expect(errorCode(body) == "forbidden")
                let (anon, _, _) = try await client.call(method, uri)
                #expect(anon == .unauthorized)
            }
        }
    }

    @Test func gcRunCollectsIdleAndSparesYoung() async throws {
        let server = try TestServer()
        try await server.services.users.add(name: "root", password: "password1", role: .admin)
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.test { client in
            _ = try await client.login("ann", "password1")  // goes idle
            server.clock.advance(ms: 120_000)
            let root = try await client.login("root", "password1")  // young
            let (_, sessions, _) = try await client.call(.get, "/api/v1/admin/sessions", bearer: root)
            #expect((sessions["sessions"] as? [Any])?.count == 2)
            let (status, run, _) = try await client.call(.post, "/api/v1/admin/gc", bearer: root)
            #expect(status == .ok)
            #expect(run["deleted"] as? Int == 1)
            #expect(run["examined"] as? Int == 1)
            let (_, runs, _) = try await client.call(.get, "/api/v1/admin/gc", bearer: root)
            #expect((runs["runs"] as? [Any])?.count == 1)
            let (_, after, _) = try await client.call(.get, "/api/v1/admin/sessions", bearer: root)
            let left = try #require(after["sessions"] as? [[String: Any]])
            #expect(left.map { $0["user"] as? String } == ["root"])
        }
    }
}
