import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseStorage
import RepriseSync
import RepriseWeb
import TestSupport
import Testing
@testable import RepriseServer

/// The web UI through the router: pages for admin, user and anonymous; cookie sessions and their
/// attributes; CSRF on every form; one user never sees or acts on another's tokens or sessions.
@Suite struct WebUITests {
    /// A library of two songs, the admin "ann" and the user "bob" (both password1).
    func setUp(extraYAML: String = "") async throws -> Library {
        let lib = try Library(extraYAML: extraYAML)
        try lib.tone("a/one.flac", seconds: 1, tags: ["TITLE": "One", "ARTIST": "Alpha", "ALBUM": "First", "GENRE": "Jazz"])
        try lib.tone("a/two.flac", seconds: 1, tags: ["TITLE": "Two", "ARTIST": "Alpha", "ALBUM": "First", "GENRE": "Jazz"])
        _ = try await lib.core.scanner.scan()
        try await lib.core.users.add(name: "ann", password: "password1", role: .admin)
        try await lib.core.users.add(name: "bob", password: "password1", role: .user)
        return lib
    }

    func run(_ lib: Library, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router, body)
    }

    /// A signed-in browser: its cookie and CSRF token.
    struct Browser: Sendable {
        var cookie: String
        var csrf: String
    }

    static func login(_ client: any TestClientProtocol, _ name: String, agent: String = "test") async throws -> Browser {
        let r = try await postOpen(client, "/login", "username=\(name)&password=password1", headers: ["User-Agent": agent])
        #expect(r.status == .seeOther)
        let set = try #require(sessionCookie(r))
        let cookie = String(set.split(separator: ";")[0])
        let page = String(decoding: try await client.get("/", headers: ["Cookie": cookie]).body, as: UTF8.self)
        return Browser(cookie: cookie, csrf: try #require(csrf(in: page)))
    }

    /// A form posted before a session (login, setup) the way a browser does: its page first, for the
    /// nonce in its cookie and field; `cookie` is sent along (an old session's, say).
    static func postOpen(_ client: any TestClientProtocol, _ path: String, _ form: String, cookie: String? = nil, from formPage: String? = nil, headers extra: [String: String] = [:]) async throws -> Reply {
        let page = try await client.get(formPage ?? path)
        let set = try #require(page.headers[values: .setCookie].first { $0.hasPrefix("\(WebCookie.loginName)=") })
        #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict"))
        let nonceCookie = String(set.split(separator: ";")[0])
        let html = text(page)
        let field = try #require(html.range(of: "name=\"csrf\" value=\"").map { String(html[$0.upperBound...].prefix { $0 != "\"" }) })
        return try await post(client, path, form + "&csrf=\(field)", cookie: [nonceCookie, cookie].compactMap { $0 }.joined(separator: "; "), headers: extra)
    }

    /// The `Set-Cookie` of the session cookie in a reply, if any.
    static func sessionCookie(_ r: Reply) -> String? { r.headers[values: .setCookie].first { $0.hasPrefix(WebCookie.name + "=") } }

    static func csrf(in page: String) -> String? {
        guard let r = page.range(of: "data-csrf=\"") else { return nil }
        return String(page[r.upperBound...].prefix(64))
    }

    static func post(_ client: any TestClientProtocol, _ uri: String, _ form: String, cookie: String? = nil, headers extra: [String: String] = [:]) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = cookie }
        for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: form)) { r in
            Reply(status: r.status, headers: r.headers, body: Data(r.body.readableBytesView))
        }
    }

    static func text(_ r: Reply) -> String { String(decoding: r.body, as: UTF8.self) }

    static let pages = ["/", "/library", "/library?view=artists", "/library?view=songs", "/library?view=genres", "/library?q=one", "/albums/1", "/artists/1",
                        "/playlists", "/tokens", "/sessions", "/account", "/players"]
    static let adminPages = ["/admin/users", "/admin/gc", "/admin/plugins", "/admin/scan", "/admin/streams"]

    @Test func anonymousVisitorsAreSentToLogin() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            for page in Self.pages + Self.adminPages {
                let r = try await client.get(page)
                #expect(r.status == .seeOther, "\(page)")
                #expect(r.headers[.location]?.hasPrefix("/login?next=") == true, "\(page)")
            }
            let login = try await client.get("/login")
            #expect(login.status == .ok && Self.text(login).contains("name=\"password\""))
            #expect(login.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            // A browser asking for a page that does not exist gets a page; an API client, JSON.
            let page = try await client.get("/no/such/page", headers: ["Accept": "text/html,application/xhtml+xml"])
            #expect(page.status == .notFound && page.headers[.contentType] == "text/html; charset=utf-8" && Self.text(page).contains("data-code=\"not_found\""))
            let api = try await client.get("/api/v1/nope", headers: ["Accept": "text/html"])
            #expect(api.status == .notFound && api.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(try await client.get("/no/such/page").headers[.contentType]?.hasPrefix("application/json") == true)
            // A forged form without a session is refused, not run.
            #expect(try await Self.post(client, "/tokens", "label=x").status == .forbidden)
        }
    }

    @Test func everyPageRendersForAdminAndUser() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let ann = try await Self.login(client, "ann")
            let bob = try await Self.login(client, "bob")
            for page in Self.pages + Self.adminPages {
                let r = try await client.get(page, headers: ["Cookie": ann.cookie])
                #expect(r.status == .ok, "\(page): \(r.status)")
                #expect(r.headers[.contentType] == "text/html; charset=utf-8" && r.headers[.contentSecurityPolicy] != nil, "\(page)")
                #expect(Self.text(r).contains("Log out ann"), "\(page)")
            }
            for page in Self.pages {
                #expect(try await client.get(page, headers: ["Cookie": bob.cookie]).status == .ok, "\(page)")
            }
            for page in Self.adminPages {
                let r = try await client.get(page, headers: ["Cookie": bob.cookie])
                #expect(r.status == .forbidden && Self.text(r).contains("for administrators"), "\(page)")
            }
            let album = Self.text(try await client.get("/albums/1", headers: ["Cookie": bob.cookie]))
            #expect(album.contains("<h1>First</h1>") && album.contains("data-song=") && album.contains(">One<") && album.contains(">Two<"))
            let search = Self.text(try await client.get("/library?q=tw", headers: ["Cookie": bob.cookie]))
            #expect(search.contains(">Two<") && !search.contains(">One<"))
            let missing = try await client.get("/albums/999", headers: ["Cookie": bob.cookie])
            #expect(missing.status == .notFound && Self.text(missing).contains("data-code=\"not_found\""))
        }
    }

    @Test func theCookieIsAWebSessionWithSafeAttributes() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let r = try await Self.postOpen(client, "/login", "username=ann&password=password1&next=/library")
            #expect(r.status == .seeOther && r.headers[.location] == "/library")
            let set = try #require(Self.sessionCookie(r))
            #expect(set.hasPrefix("\(WebCookie.name)=rs_") && set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"))
            #expect(!set.contains("Secure"), "http public URL: no Secure")
            let sessions = try await lib.core.sessions.list()
            #expect(sessions.count == 1 && sessions[0].kind == .web && sessions[0].userName == "ann")
            let cookie = String(set.split(separator: ";")[0])
            // Logging in again with that cookie ends it: a new id every login.
            let again = try await Self.postOpen(client, "/login", "username=ann&password=password1", cookie: cookie)
            let second = String(try #require(Self.sessionCookie(again)).split(separator: ";")[0])
            #expect(second != cookie)
            #expect(try await client.get("/", headers: ["Cookie": cookie]).status == .seeOther)
            #expect(try await lib.core.sessions.list().count == 1)
            // A login form posted without its nonce (another site's form) is refused: no session.
            let forged = try await Self.post(client, "/login", "username=ann&password=password1")
            #expect(forged.status == .forbidden && Self.sessionCookie(forged) == nil && Self.text(forged).contains("data-code=\"csrf_failed\""))
            let mismatched = try await Self.post(client, "/login", "username=ann&password=password1&csrf=\(String(repeating: "a", count: 43))", cookie: "\(WebCookie.loginName)=\(String(repeating: "b", count: 43))")
            #expect(mismatched.status == .forbidden)
            // An offsite `next` is ignored; a wrong password is a page, not a cookie.
            let offsite = try await Self.postOpen(client, "/login", "username=ann&password=password1&next=//evil.test/")
            #expect(offsite.headers[.location] == "/")
            let wrong = try await Self.postOpen(client, "/login", "username=ann&password=nope")
            #expect(wrong.status == .unauthorized && Self.text(wrong).contains("wrong password"))
            #expect(!wrong.headers[values: .setCookie].contains { $0.hasPrefix(WebCookie.name + "=") })
            // Failed logins are throttled as on the other login paths: then even the right password waits.
            for _ in 0..<12 { _ = try await Self.postOpen(client, "/login", "username=bob&password=nope") }
            let throttled = try await Self.postOpen(client, "/login", "username=bob&password=password1")
            #expect(throttled.status == .tooManyRequests && Self.text(throttled).contains("Too many failed attempts"))
            #expect(!throttled.headers[values: .setCookie].contains { $0.hasPrefix(WebCookie.name + "=") })
            // An API session's secret in the cookie is not a web login.
            let (api, _) = try await lib.core.sessions.create(user: try #require(try await lib.core.users.find(name: "ann")), kind: .api)
            #expect(try await client.get("/", headers: ["Cookie": "\(WebCookie.name)=\(api.plaintext)"]).status == .seeOther)
            // Logout ends the session and clears the cookie.
            let page = Self.text(try await client.get("/", headers: ["Cookie": second]))
            let out = try await Self.post(client, "/logout", "csrf=\(try #require(Self.csrf(in: page)))", cookie: second)
            #expect(out.status == .seeOther && Self.sessionCookie(out)?.contains("Max-Age=0") == true)
            #expect(try await client.get("/", headers: ["Cookie": second]).status == .seeOther)
        }
    }

    @Test func secureCookiesBehindHTTPS() async throws {
        let lib = try await setUp(extraYAML: "")
        var services = lib.core.services
        services.publicURL = "https://music.example"
        try await Application(router: buildRouter(services, modules: [webRoutes(services, assets: try WebAssets.bundled())])).test(.router) { client in
            let r = try await Self.postOpen(client, "/login", "username=ann&password=password1")
            #expect(Self.sessionCookie(r)?.hasSuffix("; Secure") == true)
        }
    }

    @Test func everyFormNeedsItsCSRFToken() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let ann = try await Self.login(client, "ann")
            let bob = try await Self.login(client, "bob")
            let forms: [(String, String)] = [
                ("/tokens", "label=phone"), ("/client-passwords", "label=phone"), ("/api-key", ""), ("/playlists", "name=Mix"),
                ("/sessions/revoke-others", ""), ("/account/password", "current=password1&new=password2"), ("/admin/users", "username=cid&password=password1&role=user"),
                ("/admin/gc", ""), ("/admin/plugins/reload", ""), ("/admin/scan", ""), ("/admin/users/bob/disable", ""), ("/admin/users/bob/enable", ""),
                ("/admin/users/bob/password", "password=password7"), ("/admin/users/bob/role", "role=admin"), ("/api-key/revoke", ""), ("/playlists/add", "playlist_id=1&album_id=1"), ("/playlists/1/remove", "position=0"), ("/playlists/1/delete", ""), ("/tokens/1/revoke", ""), ("/client-passwords/1/revoke", ""),
                ("/sessions/1/revoke", ""), ("/web/played", "song_id=1"), ("/players/queue", "player=living&album_id=1"), ("/players/living/play", ""), ("/logout", ""),
            ]
            for (path, form) in forms {
                let none = try await Self.post(client, path, form, cookie: ann.cookie)
                #expect(none.status == .forbidden && Self.text(none).contains("security token"), "\(path)")
                let wrong = try await Self.post(client, path, form + "&csrf=\(bob.csrf)", cookie: ann.cookie)
                #expect(wrong.status == .forbidden, "\(path): another session's token")
            }
            #expect(try await lib.core.tokens.list(userId: nil).isEmpty)
            #expect(try await lib.core.users.find(name: "cid") == nil)
            // With the token (field or header) the form runs.
            let minted = try await Self.post(client, "/tokens", "label=phone&days=30&csrf=\(ann.csrf)", cookie: ann.cookie)
            #expect(minted.status == .created)
            let page = Self.text(minted)
            let secret = try #require(page.range(of: "<code id=\"secret\">").map { String(page[$0.upperBound...].prefix(while: { $0 != "<" })) })
            #expect(secret.hasPrefix("rt_"))
            // Shown once: the list shows the label only.
            let list = Self.text(try await client.get("/tokens", headers: ["Cookie": ann.cookie]))
            #expect(list.contains(">phone<") && !list.contains(secret))
            #expect(try await client.get("/stream/1?token=\(secret)").status == .ok)
            // The players' own label prefix is not for people (it would pass a token off as a player's).
            #expect(try await Self.post(client, "/tokens", "label=player:living&csrf=\(ann.csrf)", cookie: ann.cookie).status == .badRequest)
            let (session, _) = try await lib.core.sessions.create(user: try #require(try await lib.core.users.find(name: "ann")), kind: .api)
            let api = try await client.execute(uri: "/api/v1/tokens", method: .post, headers: [.authorization: "Bearer \(session.plaintext)"], body: ByteBuffer(string: #"{"label":"player:living"}"#)) { $0.status }
            #expect(api == .badRequest)
            let created = try await Self.post(client, "/playlists", "name=Mix", cookie: ann.cookie, headers: ["X-CSRF-Token": ann.csrf])
            #expect(created.status == .seeOther && created.headers[.location]?.hasPrefix("/playlists/") == true)
            // The album page adds the album to one of your playlists; another user's playlist is not yours to fill.
            let listId = try #require(created.headers[.location]?.split(separator: "/").last.flatMap { Int64($0) })
            #expect(Self.text(try await client.get("/albums/1", headers: ["Cookie": ann.cookie])).contains("action=\"/playlists/add\""))
            #expect(try await Self.post(client, "/playlists/add", "playlist_id=\(listId)&album_id=1&csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            let listPage = Self.text(try await client.get("/playlists/\(listId)", headers: ["Cookie": ann.cookie]))
            #expect(listPage.contains("2 songs") && listPage.contains("action=\"/playlists/\(listId)/remove\""))
            #expect(!Self.text(try await client.get("/playlists/\(listId)", headers: ["Cookie": bob.cookie])).contains("/remove\""))
            let foreign = try await Self.post(client, "/playlists/add", "playlist_id=\(listId)&album_id=1&csrf=\(bob.csrf)", cookie: bob.cookie)
            #expect(foreign.status == .notFound || foreign.status == .forbidden, "\(foreign.status)")
            #expect(Self.text(try await client.get("/playlists/\(listId)", headers: ["Cookie": ann.cookie])).contains("2 songs"))
            // Entries are removed by position, by their owner only.
            #expect(try await Self.post(client, "/playlists/\(listId)/remove", "position=0&csrf=\(bob.csrf)", cookie: bob.cookie).status != .seeOther)
            #expect(try await Self.post(client, "/playlists/\(listId)/remove", "position=0&csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(Self.text(try await client.get("/playlists/\(listId)", headers: ["Cookie": ann.cookie])).contains("1 songs"))
            #expect(try await Self.post(client, "/playlists/\(listId)/remove", "position=-1&csrf=\(ann.csrf)", cookie: ann.cookie).status == .badRequest)
            // Revoked: the stream is refused.
            let id = try #require(try await lib.core.tokens.list(userId: nil).first?.id)
            #expect(try await Self.post(client, "/tokens/\(id)/revoke", "csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(try await client.get("/stream/1?token=\(secret)").status == .unauthorized)
        }
    }

    @Test func oneUserCannotSeeOrTouchAnothersTokensAndSessions() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let ann = try await Self.login(client, "ann")
            let bob = try await Self.login(client, "bob")
            _ = try await Self.post(client, "/tokens", "label=ann-secret-label&csrf=\(ann.csrf)", cookie: ann.cookie)
            _ = try await Self.post(client, "/client-passwords", "label=ann-phone&csrf=\(ann.csrf)", cookie: ann.cookie)
            let tokenId = try #require(try await lib.core.tokens.list(userId: nil).first?.id)
            let passwordId = try #require(try await lib.core.clientPasswords.list(userId: nil).first?.id)
            let bobsTokens = Self.text(try await client.get("/tokens", headers: ["Cookie": bob.cookie]))
            #expect(!bobsTokens.contains("ann-secret-label") && !bobsTokens.contains("ann-phone"))
            #expect(try await Self.post(client, "/tokens/\(tokenId)/revoke", "csrf=\(bob.csrf)", cookie: bob.cookie).status == .notFound)
            #expect(try await Self.post(client, "/client-passwords/\(passwordId)/revoke", "csrf=\(bob.csrf)", cookie: bob.cookie).status == .notFound)
            #expect(try await lib.core.tokens.list(userId: nil).first?.revokedAt == nil)
            let annSession = try #require(try await lib.core.sessions.list().first { $0.userName == "ann" }?.id)
            let bobsSessions = Self.text(try await client.get("/sessions", headers: ["Cookie": bob.cookie]))
            #expect(bobsSessions.contains("(this one)") && !bobsSessions.contains("/sessions/\(annSession)/revoke"))
            #expect(try await Self.post(client, "/sessions/\(annSession)/revoke", "csrf=\(bob.csrf)", cookie: bob.cookie).status == .notFound)
            #expect(try await client.get("/", headers: ["Cookie": ann.cookie]).status == .ok)
            // The Ampache API key: shown once, then only when it was made; revoked, it opens nothing.
            let minted = Self.text(try await Self.post(client, "/api-key", "csrf=\(ann.csrf)", cookie: ann.cookie))
            let key = try #require(minted.range(of: "<code id=\"secret\">").map { String(minted[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(key.hasPrefix("ak_"))
            let listed = Self.text(try await client.get("/tokens", headers: ["Cookie": ann.cookie]))
            #expect(listed.contains("Your API key was made") && !listed.contains(key))
            #expect(!Self.text(try await client.get("/tokens", headers: ["Cookie": bob.cookie])).contains("Your API key was made"))
            let ping = "/rest/ping?apiKey=\(key)&v=1.16.1&c=test&f=json"
            #expect((try await client.get(ping).json["subsonic-response"] as? [String: Any])?["status"] as? String == "ok")
            #expect(try await Self.post(client, "/api-key/revoke", "csrf=\(bob.csrf)", cookie: bob.cookie).status == .notFound)
            #expect(try await Self.post(client, "/api-key/revoke", "csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect((try await client.get(ping).json["subsonic-response"] as? [String: Any])?["status"] as? String == "failed")
        }
    }

    @Test func revokingSessionsAndChangingThePassword() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let first = try await Self.login(client, "ann", agent: "first")
            let second = try await Self.login(client, "ann", agent: "second")
            let third = try await Self.login(client, "ann", agent: "third")
            let sessions = try await lib.core.sessions.list()
            #expect(sessions.count == 3)
            let firstId = try #require(sessions.first { $0.agent == "first" }?.id)
            // Revoke one other session by id.
            #expect(try await Self.post(client, "/sessions/\(firstId)/revoke", "csrf=\(third.csrf)", cookie: third.cookie).status == .seeOther)
            #expect(try await client.get("/", headers: ["Cookie": first.cookie]).status == .seeOther)
            // A wrong current password changes nothing; a right one ends the other sessions.
            let wrong = try await Self.post(client, "/account/password", "current=nope&new=password2&csrf=\(third.csrf)", cookie: third.cookie)
            #expect(wrong.status == .forbidden)
            let changed = try await Self.post(client, "/account/password", "current=password1&new=password2&csrf=\(third.csrf)", cookie: third.cookie)
            #expect(changed.status == .seeOther)
            #expect(try await client.get("/", headers: ["Cookie": second.cookie]).status == .seeOther)
            #expect(try await client.get("/", headers: ["Cookie": third.cookie]).status == .ok)
            #expect(try await lib.core.users.verify(name: "ann", password: "password2") != nil)
        }
    }

    @Test func theBrowserStreamsWithItsCookieAndRecordsPlays() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let bob = try await Self.login(client, "bob")
            let r = try await client.get("/stream/1", headers: ["Cookie": bob.cookie, "Range": "bytes=0-3"])
            #expect(r.status == .partialContent && r.body == Data("fLaC".utf8))
            #expect(try await client.get("/stream/1").status == .unauthorized)
            #expect(try await Self.post(client, "/web/played", "song_id=1", cookie: bob.cookie, headers: ["X-CSRF-Token": bob.csrf]).status == .noContent)
            let bobId = try #require(try await lib.core.users.find(name: "bob")?.id)
            #expect(try await lib.core.library.list(.recent, kind: .song, user: bobId, limit: 10, offset: 0).ids == [1])
            #expect(try await Self.post(client, "/web/played", "song_id=999", cookie: bob.cookie, headers: ["X-CSRF-Token": bob.csrf]).status == .notFound)
        }
    }

    /// A player as the web UI drives it, for the access rules only (real players: BrowserTests).
    final class RecordingPlayer: PlayerControl, @unchecked Sendable {
        let name: String, owner: String
        let calls = Locked<[String]>([])
        init(name: String, owner: String) { (self.name, self.owner) = (name, owner) }
        func report() async -> PlayerReport {
            PlayerReport(name: name, backend: "mpd", owner: owner, connected: true, state: "stop", position: 0, elapsedMs: 0, volume: 50, queue: [1], autoplay: nil, recoveries: 0, skips: 0, lastError: nil)
        }
        func recentEvents(limit: Int) async throws -> [PlayerEvent] { [] }
        func enqueue(_ ids: [Int64], clear: Bool) async throws { calls.withLock { $0.append("enqueue \(ids.count)") } }
        func clearQueue() async throws { calls.withLock { $0.append("clear") } }
        func command(_ name: String) async throws { calls.withLock { $0.append(name) } }
        func jump(to index: Int) async throws {}
        func jump(to index: Int, startMs: Int64) async throws {}
        func setVolume(_ volume: Int) async throws { calls.withLock { $0.append("volume \(volume)") } }
        func setAutoplay(_ settings: AutoplaySettings?) async throws { calls.withLock { $0.append("autoplay \(settings?.mode.rawValue ?? "off")") } }
        func remove(at index: Int) async throws {}
        func shuffleUpcoming() async throws {}
        func replaceQueue(_ ids: [Int64]) async throws {}
    }
    struct Players: PlayerDirectory { let players: [String: any PlayerControl] }

    @Test func playersAreTheirOwnersOnly() async throws {
        let lib = try await setUp()
        let living = RecordingPlayer(name: "living", owner: "bob")
        let services = lib.core.services
        let module = webRoutes(services, assets: try WebAssets.bundled(), playback: Players(players: ["living": living]))
        try await Application(router: buildRouter(services, modules: [module])).test(.router) { client in
            let bob = try await Self.login(client, "bob")
            let cid = try await lib.core.users.add(name: "cid", password: "password1", role: .user)
            _ = cid
            let other = try await Self.login(client, "cid")
            // The owner sees and drives it.
            #expect(Self.text(try await client.get("/players", headers: ["Cookie": bob.cookie])).contains("/players/living"))
            let page = try await client.get("/players/living", headers: ["Cookie": bob.cookie])
            #expect(page.status == .ok && Self.text(page).contains("id=\"player-live\""))
            for (path, form) in [("/players/living/stop", ""), ("/players/living/volume", "volume=30"), ("/players/living/autoplay", "mode=random"), ("/players/queue", "player=living&album_id=1")] {
                #expect(try await Self.post(client, path, form + "&csrf=\(bob.csrf)", cookie: bob.cookie).status == .seeOther, "\(path)")
                #expect(try await Self.post(client, path, form, cookie: bob.cookie).status == .forbidden, "\(path) without its token")
            }
            #expect(living.calls.withLock { $0 } == ["stop", "volume 30", "autoplay random", "enqueue 2"])
            let live = try await client.get("/players/living/events?limit=1", headers: ["Cookie": bob.cookie])
            #expect(live.headers[.contentType] == "text/event-stream" && Self.text(live).hasPrefix("retry: 1000\n\nevent: state\ndata: {"))
            // Another user: as if it did not exist.
            #expect(!Self.text(try await client.get("/players", headers: ["Cookie": other.cookie])).contains("/players/living"))
            #expect(try await client.get("/players/living", headers: ["Cookie": other.cookie]).status == .notFound)
            #expect(try await client.get("/players/living/events?limit=1", headers: ["Cookie": other.cookie]).status == .notFound)
            for (path, form) in [("/players/living/stop", ""), ("/players/living/volume", "volume=0"), ("/players/queue", "player=living&album_id=1")] {
                #expect(try await Self.post(client, path, form + "&csrf=\(other.csrf)", cookie: other.cookie).status == .notFound, "\(path)")
            }
            #expect(living.calls.withLock { $0 }.count == 4)
        }
    }

    @Test func firstRunSetupNeedsTheCodeFromTheLog() async throws {
        let lib = try Library()
        try await run(lib) { client in
            let login = try await client.get("/login")
            #expect(login.status == .seeOther && login.headers[.location] == "/setup")
            #expect(try await client.get("/setup").status == .ok)
            let stranger = try await Self.postOpen(client, "/setup", "code=guess&username=eve&password=password1")
            #expect(stranger.status == .forbidden)
            #expect(try await lib.core.users.count() == 0)
            let made = try await Self.postOpen(client, "/setup", "code=\(lib.core.setupCode.value)&username=admin&password=password1")
            #expect(made.status == .seeOther && made.headers[.location] == "/login")
            #expect(try await lib.core.users.find(name: "admin")?.role == .admin)
            // Once a user exists, setup is closed.
            #expect(try await client.get("/setup").headers[.location] == "/login")
            #expect(try await Self.postOpen(client, "/setup", "code=\(lib.core.setupCode.value)&username=eve&password=password1", from: "/login").status == .forbidden)
        }
    }

    @Test func adminManagesUsers() async throws {
        let lib = try await setUp()
        try await run(lib) { client in
            let ann = try await Self.login(client, "ann")
            let bob = try await Self.login(client, "bob")
            #expect(try await Self.post(client, "/admin/users", "username=cid&password=password1&role=user&csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(try await lib.core.users.find(name: "cid")?.role == .user)
            #expect(try await Self.post(client, "/admin/users", "username=cid&password=password1&role=user&csrf=\(ann.csrf)", cookie: ann.cookie).status == .conflict)
            #expect(try await Self.post(client, "/admin/users", "username=dan&password=short&csrf=\(ann.csrf)", cookie: ann.cookie).status == .badRequest)
            #expect(try await Self.post(client, "/admin/users/bob/disable", "csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(try await lib.core.users.find(name: "bob")?.disabled == true)
            #expect(try await client.get("/", headers: ["Cookie": bob.cookie]).status == .seeOther)
            #expect(try await Self.post(client, "/admin/users/ann/disable", "csrf=\(ann.csrf)", cookie: ann.cookie).status == .badRequest)
            #expect(try await Self.post(client, "/admin/users/nobody/disable", "csrf=\(ann.csrf)", cookie: ann.cookie).status == .notFound)
            // A user is not an admin.
            let cid = try await Self.login(client, "cid")
            #expect(try await Self.post(client, "/admin/users/ann/disable", "csrf=\(cid.csrf)", cookie: cid.cookie).status == .forbidden)
            #expect(try await Self.post(client, "/admin/gc", "csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(Self.text(try await client.get("/admin/gc", headers: ["Cookie": ann.cookie])).contains("<td>"))
            // Roles: cid becomes an admin, then a user again (whose sessions then end); ann cannot demote herself.
            #expect(try await Self.post(client, "/admin/users/cid/role", "role=admin&csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(try await lib.core.users.find(name: "cid")?.role == .admin)
            let promoted = try await Self.login(client, "cid")
            #expect(try await client.get("/admin/users", headers: ["Cookie": promoted.cookie]).status == .ok)
            #expect(try await Self.post(client, "/admin/users/cid/role", "role=user&csrf=\(ann.csrf)", cookie: ann.cookie).status == .seeOther)
            #expect(try await client.get("/admin/users", headers: ["Cookie": promoted.cookie]).status == .seeOther)
            #expect(try await Self.post(client, "/admin/users/ann/role", "role=user&csrf=\(ann.csrf)", cookie: ann.cookie).status == .badRequest)
            #expect(try await Self.post(client, "/admin/users/cid/role", "role=root&csrf=\(ann.csrf)", cookie: ann.cookie).status == .badRequest)
        }
    }
}
