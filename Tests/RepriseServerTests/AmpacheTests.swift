import Crypto
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseSQLite
import Testing
@testable import RepriseServer

/// Hex SHA-256, as Ampache clients compute it.
func sha256Hex(_ s: String) -> String { SHA256.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }

/// Collects element names and counts whether the document parsed.
final class XMLShape: NSObject, XMLParserDelegate {
    var elements: [String] = []
    var errorCode: String?
    var text: [String: String] = [:]
    private var current = ""

    static func parse(_ data: Data) -> (ok: Bool, shape: XMLShape) {
        let shape = XMLShape()
        let parser = XMLParser(data: data)
        parser.delegate = shape
        return (parser.parse(), shape)
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append(name)
        if name == "error" { errorCode = attributes["errorCode"] }
        current = ""
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if text[name] == nil { text[name] = current }
    }
}

@Suite struct AmpacheTests {
    /// A scanned library of three songs by two artists, and the user "ann" (password1).
    func setUp() async throws -> (Library, User, [String: Data]) {
        let lib = try Library()
        var files: [String: Data] = [:]
        for (path, title, artist, album) in [("a/one.flac", "One", "Alpha", "First"), ("a/two.flac", "Two", "Alpha", "First"), ("b/three.flac", "Three & <More>", "Beta", "Second")] {
            let p = try lib.tone(path, seconds: 1, tags: ["TITLE": title, "ARTIST": artist, "ALBUM": album, "TRACKNUMBER": "1"])
            files[title] = try Data(contentsOf: URL(fileURLWithPath: p))
        }
        _ = try await lib.core.scanner.scan()
        let user = try await lib.core.users.add(name: "ann", password: "password1", role: .user)
        return (lib, user, files)
    }

    func run(_ lib: Library, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router, body)
    }

    func passwordAuth(_ ts: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        "action=handshake&user=ann&timestamp=\(ts)&auth=\(sha256Hex("\(ts)" + sha256Hex("password1")))"
    }

    @Test func passwordHandshakeAndStaleTimestamp() async throws {
        let (lib, _, _) = try await setUp()
        try await run(lib) { client in
            let r = try await client.get("/server/json.server.php?\(passwordAuth())")
            #expect(r.status == .ok)
            let j = r.json
            #expect((j["auth"] as? String)?.hasPrefix("rs_") == true)
            #expect(j["api"] as? String == "6.6.0")
            #expect(j["songs"] as? Int == 3 && j["albums"] as? Int == 2 && j["artists"] as? Int == 2)
            #expect(j["username"] as? String == "ann")
            #expect((j["streamtoken"] as? String)?.hasPrefix("rt_") == true)
            for key in ["session_expire", "update", "add", "clean"] { #expect((j[key] as? String)?.contains("T") == true, "\(key)") }
            let stale = try await client.get("/server/json.server.php?\(passwordAuth(Int64(Date().timeIntervalSince1970) - 1900))")
            #expect(errorCode(stale) == "4701")
            let wrong = try await client.get("/server/json.server.php?action=handshake&user=ann&timestamp=1&auth=\(sha256Hex("nope"))")
            #expect(errorCode(wrong) == "4701")
            let unknown = try await client.get("/server/json.server.php?action=handshake&auth=ak_nothing")
            #expect(errorCode(unknown) == "4701")
        }
        let sessions = try await lib.core.sessions.list()
        #expect(sessions.count == 1 && sessions[0].kind == .api)
    }

    @Test func apiKeyHandshakeInEveryForm() async throws {
        let (lib, user, _) = try await setUp()
        let key = try await ApiKeyStore(db: lib.core.db, clock: lib.core.clock).rotate(userId: user.id)
        #expect(key.hasPrefix("ak_") && key.count == 67)
        try await run(lib) { client in
            let plain = try await client.get("/server/json.server.php?action=handshake&auth=\(key)")
            #expect((plain.json["auth"] as? String)?.hasPrefix("rs_") == true)
            let legacy = try await client.get("/server/json.server.php?action=handshake&user=ann&timestamp=1&auth=\(sha256Hex("ann" + sha256Hex(key)))")
            #expect((legacy.json["auth"] as? String)?.hasPrefix("rs_") == true)
            let bearer = try await client.get("/server/json.server.php?action=handshake", headers: ["Authorization": "Bearer \(key)"])
            #expect((bearer.json["auth"] as? String)?.hasPrefix("rs_") == true)
            // The key also authorizes calls directly as a bearer.
            let songs = try await client.get("/server/json.server.php?action=songs", headers: ["Authorization": "Bearer \(key)"])
            #expect(songs.json["total_count"] as? Int == 3)
            // Someone else's name with this key's digest fails.
            let other = try await client.get("/server/json.server.php?action=handshake&user=bob&timestamp=1&auth=\(sha256Hex("ann" + sha256Hex(key)))")
            #expect(errorCode(other) == "4701")
        }
        // Rotating replaces the key.
        _ = try await ApiKeyStore(db: lib.core.db, clock: lib.core.clock).rotate(userId: user.id)
        try await run(lib) { client in
            let reply1 = try await client.get("/server/json.server.php?action=handshake&auth=\(key)")
            #expect(errorCode(reply1) == "4701")
        }
    }

    @Test func pingWithAndWithoutAuth() async throws {
        let (lib, _, _) = try await setUp()
        try await run(lib) { client in
            let bare = try await client.get("/server/json.server.php?action=ping")
            #expect(Set(bare.json.keys) == ["server", "version", "compatible"])
            let auth = try #require(try await client.get("/server/json.server.php?\(passwordAuth())").json["auth"] as? String)
            let ping = try await client.get("/server/json.server.php?action=ping&auth=\(auth)")
            #expect(ping.json["session_expire"] != nil && ping.json["username"] as? String == "ann" && ping.json["songs"] as? Int == 3)
            let bogus = try await client.get("/server/json.server.php?action=ping&auth=rs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            #expect(Set(bogus.json.keys) == ["server", "version", "compatible"])
        }
    }

    @Test func songsFiltersPagingAndObjects() async throws {
        let (lib, _, _) = try await setUp()
        try await run(lib) { client in
            let hs = try await client.get("/server/json.server.php?\(passwordAuth())").json
            let auth = try #require(hs["auth"] as? String)
            let token = try #require(hs["streamtoken"] as? String)
            let all = try await client.get("/server/json.server.php?action=songs&auth=\(auth)&limit=0").json
            #expect(all["total_count"] as? Int == 3)
            let songs = try #require(all["song"] as? [[String: Any]])
            #expect(songs.count == 3)
            let first = songs[0]
            #expect(first["id"] is String)
            #expect((first["artist"] as? [String: Any])?["name"] as? String == "Alpha")
            #expect((first["artist"] as? [String: Any])?["id"] is String)
            #expect((first["album"] as? [String: Any])?["name"] as? String == "First")
            #expect(first["time"] as? Int == 1 && first["track"] as? Int == 1)
            #expect(first["mime"] as? String == "audio/flac" && first["format"] as? String == "flac" && (first["size"] as? Int ?? 0) > 0)
            let url = try #require(first["url"] as? String)
            #expect(url.hasPrefix("http://music.test:8460/play/index.php?ssid=\(token)&"))
            #expect(!url.contains(auth))
            let page = try await client.get("/server/json.server.php?action=songs&auth=\(auth)&limit=2&offset=2").json
            #expect(page["total_count"] as? Int == 3 && (page["song"] as? [Any])?.count == 1)
            let fuzzy = try await client.get("/server/json.server.php?action=songs&auth=\(auth)&filter=tw").json
            #expect(fuzzy["total_count"] as? Int == 1)
            let exactMiss = try await client.get("/server/json.server.php?action=songs&auth=\(auth)&filter=tw&exact=1").json
            #expect(exactMiss["total_count"] as? Int == 0)
            let search = try await client.get("/server/json.server.php?action=search_songs&auth=\(auth)&filter=Beta").json
            #expect(search["total_count"] as? Int == 1)
            // `songs` filters on the title only: an artist's name finds nothing there.
            let byArtist = try await client.get("/server/json.server.php?action=songs&auth=\(auth)&filter=Beta").json
            #expect(byArtist["total_count"] as? Int == 0)
            // Single objects, artists, albums and their songs.
            let id = try #require(first["id"] as? String)
            #expect(try await client.get("/server/json.server.php?action=song&auth=\(auth)&filter=\(id)").json["title"] as? String == "One")
            let artists = try await client.get("/server/json.server.php?action=artists&auth=\(auth)").json
            #expect(artists["total_count"] as? Int == 2)
            let alpha = try #require((artists["artist"] as? [[String: Any]])?.first)
            #expect(alpha["name"] as? String == "Alpha" && alpha["songcount"] as? Int == 2)
            let alphaId = try #require(alpha["id"] as? String)
            #expect(try await client.get("/server/json.server.php?action=artist&auth=\(auth)&filter=\(alphaId)").json["name"] as? String == "Alpha")
            #expect(try await client.get("/server/json.server.php?action=artist_songs&auth=\(auth)&filter=\(alphaId)").json["total_count"] as? Int == 2)
            let albums = try await client.get("/server/json.server.php?action=albums&auth=\(auth)&filter=Second&exact=1").json
            let second = try #require((albums["album"] as? [[String: Any]])?.first)
            #expect(albums["total_count"] as? Int == 1 && second["songcount"] as? Int == 1)
            let albumId = try #require(second["id"] as? String)
            #expect(try await client.get("/server/json.server.php?action=album&auth=\(auth)&filter=\(albumId)").json["name"] as? String == "Second")
            #expect(try await client.get("/server/json.server.php?action=album_songs&auth=\(auth)&filter=\(albumId)").json["total_count"] as? Int == 1)
            for type in ["song", "album", "artist"] {
                let idx = try await client.get("/server/json.server.php?action=get_indexes&auth=\(auth)&type=\(type)").json
                #expect((idx[type] as? [Any])?.count == (type == "song" ? 3 : 2), "\(type)")
            }
            let back = try await client.get("/server/json.server.php?action=url_to_song&auth=\(auth)&url=\(url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)").json
            #expect(back["id"] as? String == id)
            // POST with a form-encoded body.
            let post = try await client.execute(
                uri: "/server/json.server.php", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "action=songs&auth=\(auth)&limit=1")
            ) { r in try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any] ?? [:] }
            #expect(post["total_count"] as? Int == 3 && (post["song"] as? [Any])?.count == 1)
        }
    }

    /// Tokens that live a fixed time, whatever was asked.
    struct FixedLifetime: TokenPolicy {
        let seconds: Int64
        func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { .issue(ttlSeconds: seconds) }
        func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
    }

    /// The handshake's stream token has at least a day left (or half of a shorter lifetime): a new one is minted before that.
    @Test(arguments: [(Int64(2 * 86_400), [43_200, 43_200, 3_600] as [Int64], [false, false, true]), (Int64(3_600), [1_200, 900] as [Int64], [false, true])])
    func handshakeTokensKeepADayLeft(_ lifetime: Int64, _ steps: [Int64], _ renewed: [Bool]) async throws {
        let clock = ManualWallClock(Int64(Date().timeIntervalSince1970) * 1000)
        let lib = try Library(clock: clock, tokenPolicy: FixedLifetime(seconds: lifetime))
        _ = try await lib.core.users.add(name: "ann", password: "password1", role: .user)
        try await run(lib) { client in
            func token() async throws -> String {
                let ts = clock.nowMs() / 1000
                return try #require(try await client.get("/server/json.server.php?\(passwordAuth(ts))").json["streamtoken"] as? String)
            }
            var current = try await token()
            for (step, expectNew) in zip(steps, renewed) {
                clock.advance(ms: step * 1000)
                let next = try await token()
                #expect((next != current) == expectNew, "after \(step) s more of a \(lifetime) s token")
                current = next
            }
        }
    }

    /// `now_playing` lists streams in progress with who and where; an unknown action is still 4710.
    @Test func nowPlayingListsStreamsInProgress() async throws {
        let (lib, user, _) = try await setUp()
        try await run(lib) { client in
            let auth = try #require(try await client.get("/server/json.server.php?\(passwordAuth())").json["auth"] as? String)
            var now = try await client.get("/server/json.server.php?action=now_playing&auth=\(auth)").json
            #expect(now["total_count"] as? Int == 0)
            let song = try #require(try await lib.core.songs.songs(query: nil, artist: nil, album: nil, limit: 1, offset: 0).songs.first)
            let stream = lib.core.ledger.start(songId: song.id, userId: user.id, sessionId: nil, tokenId: nil, player: "living", range: 0...99, bytesExpected: 100)
            now = try await client.get("/server/json.server.php?action=now_playing&auth=\(auth)").json
            let entry = try #require((now["now_playing"] as? [[String: Any]])?.first)
            #expect(entry["id"] as? String == String(song.id) && entry["client"] as? String == "living")
            #expect((entry["user"] as? [String: Any])?["name"] as? String == "ann")
            lib.core.ledger.finish(stream)
            now = try await client.get("/server/json.server.php?action=now_playing&auth=\(auth)").json
            #expect(now["total_count"] as? Int == 0)
            let unknown = try await client.get("/server/json.server.php?action=podcasts&auth=\(auth)")
            #expect(errorCode(unknown) == "4710")
        }
    }

    @Test func xmlIsWellFormedAndEscaped() async throws {
        let (lib, _, _) = try await setUp()
        try await run(lib) { client in
            let hs = try await client.get("/server/xml.server.php?\(passwordAuth())")
            #expect(hs.headers[.contentType]?.hasPrefix("text/xml") == true)
            let (ok, shape) = XMLShape.parse(hs.body)
            #expect(ok)
            #expect(shape.elements.first == "root")
            let auth = try #require(shape.text["auth"])
            #expect(auth.hasPrefix("rs_") && shape.text["songs"] == "3")
            let songs = try await client.get("/server/xml.server.php?action=songs&auth=\(auth)")
            let (ok2, s) = XMLShape.parse(songs.body)
            #expect(ok2)
            #expect(s.elements.filter { $0 == "song" }.count == 3 && s.text["total_count"] == "3")
            #expect(String(decoding: songs.body, as: UTF8.self).contains("Three &amp; &lt;More&gt;"))
            let err = try await client.get("/server/xml.server.php?action=song&auth=\(auth)&filter=9999")
            let (ok3, e) = XMLShape.parse(err.body)
            #expect(ok3 && e.errorCode == "4704" && e.text["errorAction"] == "song")
        }
    }

    @Test func everyErrorCode() async throws {
        let (lib, _, _) = try await setUp()
        try await run(lib) { client in
            let hs = try await client.get("/server/json.server.php?\(passwordAuth())").json
            let auth = try #require(hs["auth"] as? String)
            let token = try #require(hs["streamtoken"] as? String)
            let cases: [(String, String)] = [
                ("action=songs&auth=\(token)", "4700"),
                ("action=handshake&user=ann&timestamp=1&auth=00", "4701"),
                ("action=songs&auth=rs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "4703"),
                ("action=song&auth=\(auth)&filter=9999", "4704"),
                ("action=songs", "4705"),
                ("action=song&auth=\(auth)", "4705"),
                ("action=get_indexes&auth=\(auth)&type=video", "4710"),
                ("action=frobnicate&auth=\(auth)", "4710"),
                ("action=localplay&auth=\(auth)&command=status", "4710"),
                ("action=songs&auth=\(auth)&limit=-1", "4710"),
            ]
            for (query, code) in cases {
                let r = try await client.get("/server/json.server.php?\(query)")
                #expect(r.status == .ok, "\(query)")
                #expect(errorCode(r) == code, "\(query)")
                let e = r.json["error"] as? [String: Any]
                #expect(e?["errorAction"] is String && e?["errorType"] is String && e?["errorMessage"] is String, "\(query)")
            }
        }
    }

    @Test func playURLStreamsExactBytesAndRefusesSessions() async throws {
        let (lib, _, files) = try await setUp()
        try await run(lib) { client in
            let hs = try await client.get("/server/json.server.php?\(passwordAuth())").json
            let auth = try #require(hs["auth"] as? String)
            let token = try #require(hs["streamtoken"] as? String)
            let song = try #require((try await client.get("/server/json.server.php?action=songs&auth=\(auth)&filter=One&exact=1").json["song"] as? [[String: Any]])?.first)
            let url = try #require(song["url"] as? String)
            let path = String(url.dropFirst("http://music.test:8460".count))
            let bytes = try #require(files["One"])
            let whole = try await client.get(path)
            #expect(whole.status == .ok && whole.body == bytes)
            let ranged = try await client.get(path, headers: ["Range": "bytes=100-199"])
            #expect(ranged.status == .partialContent && ranged.body == bytes.subdata(in: 100..<200))
            let id = try #require(song["id"] as? String)
            let pathForm = try await client.get("/play/index.php/ssid/\(token)/type/song/oid/\(id)/name/one.flac", headers: ["Range": "bytes=-10"])
            #expect(pathForm.status == .partialContent && pathForm.body == bytes.suffix(10))
            let session = try await client.get("/play/index.php?ssid=\(auth)&type=song&oid=\(id)")
            #expect(session.status == .unauthorized)
            let sessionPath = try await client.get("/play/index.php/ssid/\(auth)/oid/\(id)")
            #expect(sessionPath.status == .unauthorized)
            #expect(try await client.get("/play/index.php?oid=\(id)").status == .unauthorized)
            // stream and download redirect to the play URL.
            let redirect = try await client.get("/server/json.server.php?action=stream&auth=\(auth)&type=song&filter=\(id)")
            #expect(redirect.status == .found && redirect.headers[.location] == url)
            let download = try await client.get("/server/json.server.php?action=download&auth=\(auth)&type=song&filter=\(id)")
            #expect(download.status == .found)
        }
    }

    @Test func goodbyeEndsTheSessionButNotTheURLs() async throws {
        let (lib, _, files) = try await setUp()
        try await run(lib) { client in
            let hs = try await client.get("/server/json.server.php?\(passwordAuth())").json
            let auth = try #require(hs["auth"] as? String)
            let url = try #require(((try await client.get("/server/json.server.php?action=songs&auth=\(auth)&filter=Two").json["song"] as? [[String: Any]])?.first)?["url"] as? String)
            #expect(try await client.get("/server/json.server.php?action=goodbye&auth=\(auth)").json["success"] != nil)
            #expect(try await client.get("/server/json.server.php?action=ping&auth=\(auth)").json["session_expire"] == nil)
            let reply2 = try await client.get("/server/json.server.php?action=songs&auth=\(auth)")
            #expect(errorCode(reply2) == "4703")
            let stream = try await client.get(String(url.dropFirst("http://music.test:8460".count)))
            #expect(stream.status == .ok && stream.body == files["Two"])
            // A second handshake reuses the same in-memory stream token.
            let again = try await client.get("/server/json.server.php?\(passwordAuth())").json
            #expect(again["streamtoken"] as? String == hs["streamtoken"] as? String)
        }
    }

    @Test func rotatingTheAmpacheTokenNatively() async throws {
        let (lib, user, _) = try await setUp()
        let (web, _) = try await lib.core.sessions.create(user: user, kind: .web)
        try await run(lib) { client in
            let old = try #require(try await client.get("/server/json.server.php?\(passwordAuth())").json["streamtoken"] as? String)
            let rotated = try await client.execute(
                uri: "/api/v1/tokens/rotate", method: .post, headers: [.authorization: "Bearer \(web.plaintext)"],
                body: ByteBuffer(string: #"{"label":"ampache"}"#)
            ) { r in (r.status, try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any] ?? [:]) }
            #expect(rotated.0 == .created && rotated.1["revoked"] as? Int == 1)
            let new = try #require(rotated.1["token"] as? String)
            #expect(new != old)
            let next = try await client.get("/server/json.server.php?\(passwordAuth())").json
            #expect(next["streamtoken"] as? String == new)
            #expect(try await client.get("/play/index.php?ssid=\(old)&oid=1").status == .unauthorized)
            let missing = try await client.execute(uri: "/api/v1/tokens/rotate", method: .post, headers: [.authorization: "Bearer \(web.plaintext)"], body: ByteBuffer(string: "{}")) { $0.status }
            #expect(missing == .badRequest)
        }
    }

    @Test func passwordChangeUpdatesTheLegacyDigest() async throws {
        let (lib, _, _) = try await setUp()
        try await lib.core.users.setPassword(name: "ann", password: "password2")
        let ts = Int64(Date().timeIntervalSince1970)
        try await run(lib) { client in
            let reply3 = try await client.get("/server/json.server.php?\(passwordAuth(ts))")
            #expect(errorCode(reply3) == "4701")
            let ok = try await client.get("/server/json.server.php?action=handshake&user=ann&timestamp=\(ts)&auth=\(sha256Hex("\(ts)" + sha256Hex("password2")))")
            #expect(ok.json["auth"] != nil)
        }
    }

    func errorCode(_ r: Reply) -> String? { (r.json["error"] as? [String: Any])?["errorCode"] as? String }
}
