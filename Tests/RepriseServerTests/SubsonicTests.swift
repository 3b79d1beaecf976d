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
import RepriseSubsonic
import TestSupport
import Testing
@testable import RepriseServer

/// The Subsonic API through the router: the envelope in XML, JSON and JSONP, every way to
/// authenticate and its error codes, browsing, search, stars, ratings, plays, playlists, art and streams.
@Suite struct SubsonicTests {
    /// A library of three tagged songs (one with a cover beside it), the admin "ann" (password1) and a client password.
    func setUp() async throws -> (Library, String) {
        let lib = try Library()
        for (path, title, artist, album, genre, year) in [
            ("a/one.flac", "Café One", "Alpha", "First", "Jazz", "1999"), ("a/two.flac", "Two", "Alpha", "First", "Jazz", "1999"),
            ("b/three.flac", "Three", "Beta", "Second", "Rock", "2005"),
        ] {
            try lib.tone(path, seconds: 1, tags: ["TITLE": title, "ARTIST": artist, "ALBUM": album, "GENRE": genre, "DATE": year, "TRACKNUMBER": "1"])
        }
        let wav = lib.dir.appendingPathComponent("t.wav").path
        try Tone.writeBlocking(wav, seconds: 1)
        try sh("sox", [wav, "-n", "spectrogram", "-o", lib.music.appendingPathComponent("a/cover.png").path, "-x", "300", "-y", "200"])
        _ = try await lib.core.scanner.scan()
        let ann = try await lib.core.users.add(name: "ann", password: "password1", role: .admin)
        let (clientPassword, _) = try await lib.core.clientPasswords.create(user: ann, label: "phone", ttlSeconds: nil)
        return (lib, clientPassword)
    }

    func run(_ lib: Library, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router, body)
    }

    static func md5(_ s: String) -> String { Insecure.MD5.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }

    /// Password auth in JSON.
    static let auth = "u=ann&p=password1&v=1.16.1&c=test&f=json"

    /// The `subsonic-response` object of a JSON answer.
    static func envelope(_ r: Reply) -> [String: Any] { r.json["subsonic-response"] as? [String: Any] ?? [:] }
    static func errorCode(_ r: Reply) -> Int? { (envelope(r)["error"] as? [String: Any])?["code"] as? Int }

    @Test func envelopeInXMLJSONAndJSONP() async throws {
        let (lib, _) = try await setUp()
        try await run(lib) { client in
            // Extensions answer without credentials; DSub sends no `f`: XML with the namespace.
            let xml = try await client.get("/rest/getOpenSubsonicExtensions.view")
            let text = String(decoding: xml.body, as: UTF8.self)
            #expect(xml.status == .ok && xml.headers[.contentType]?.hasPrefix("text/xml") == true)
            #expect(text.contains("<subsonic-response xmlns=\"http://subsonic.org/restapi\" status=\"ok\" version=\"1.16.1\" type=\"reprise\""))
            #expect(text.contains("openSubsonic=\"true\"") && text.contains("<openSubsonicExtensions name=\"formPost\"><versions>1</versions>"))
            #expect(XMLParser(data: xml.body).parse())
            let json = Self.envelope(try await client.get("/rest/getOpenSubsonicExtensions?f=json"))
            #expect(json["status"] as? String == "ok" && json["type"] as? String == "reprise" && json["openSubsonic"] as? Bool == true)
            let extensions = json["openSubsonicExtensions"] as? [[String: Any]] ?? []
            #expect(extensions.contains { $0["name"] as? String == "apiKeyAuthentication" && $0["versions"] as? [Int] == [1] })
            // JSONP wraps the same object in a validated callback.
            let jsonp = String(decoding: try await client.get("/rest/ping.view?\(Self.auth.replacingOccurrences(of: "f=json", with: "f=jsonp"))&callback=cb_1.x").body, as: UTF8.self)
            #expect(jsonp.hasPrefix("cb_1.x({\"subsonic-response\":") && jsonp.hasSuffix("});"))
            let hostile = try await client.get("/rest/ping.view?\(Self.auth.replacingOccurrences(of: "f=json", with: "f=jsonp"))&callback=alert(1)//")
            #expect(Self.errorCode(hostile) == 0 && !String(decoding: hostile.body, as: UTF8.self).contains("alert"))
            // Errors are HTTP 200 envelopes; lists are arrays even with one element.
            let unknown = try await client.get("/rest/frobnicate?\(Self.auth)")
            #expect(unknown.status == .ok && Self.errorCode(unknown) == 70)
            let notOffered = try await client.get("/rest/getPodcasts?\(Self.auth)")
            #expect(Self.errorCode(notOffered) == 0)
            let folders = Self.envelope(try await client.get("/rest/getMusicFolders?\(Self.auth)"))
            #expect(((folders["musicFolders"] as? [String: Any])?["musicFolder"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test func everyWayToAuthenticateAndItsErrors() async throws {
        let (lib, clientPassword) = try await setUp()
        let key = try await ApiKeyStoreFor(lib).rotate()
        try await run(lib) { client in
            func code(_ query: String, method: HTTPRequest.Method = .get) async throws -> Int? {
                Self.errorCode(try await client.get("/rest/ping?\(query)&v=1.16.1&c=test&f=json", method: method))
            }
            #expect(try await code("u=ann&p=password1") == nil)
            let hex = Array("password1".utf8).map { String(format: "%02x", $0) }.joined()
            #expect(try await code("u=ann&p=enc:\(hex)") == nil)
            #expect(try await code("u=ann&p=wrong") == 40)
            #expect(try await code("u=nobody&p=password1") == 40)
            #expect(try await code("p=password1") == 10)
            #expect(try await code("u=ann") == 10)
            // Token auth: md5(client password + salt); a salt may be reused; the account password cannot serve.
            let salt = "c19b2d"
            #expect(try await code("u=ann&t=\(Self.md5(clientPassword + salt))&s=\(salt)") == nil)
            #expect(try await code("u=ann&t=\(Self.md5(clientPassword + salt))&s=\(salt)") == nil)
            #expect(try await code("u=ann&t=\(Self.md5("password1" + salt))&s=\(salt)") == 40)
            // The client password also works as p (apps that send it plainly).
            #expect(try await code("u=ann&p=\(clientPassword)") == nil)
            // API keys, alone.
            #expect(try await code("apiKey=\(key)") == nil)
            #expect(try await code("apiKey=\(key)&u=ann") == 43)
            #expect(try await code("apiKey=ak_nope") == 44)
            // A verified password is remembered, but not past a change of password.
            #expect(try await code("u=ann&p=password1") == nil)
            try await lib.core.users.setPassword(name: "ann", password: "password9")
            #expect(try await code("u=ann&p=password1") == 40)
            #expect(try await code("u=ann&p=password9") == nil)
            // A user without a client password is told how to mint one.
            _ = try await lib.core.users.add(name: "bob", password: "password2", role: .user)
            let bob = Self.envelope(try await client.get("/rest/ping?u=bob&t=\(Self.md5("password2" + salt))&s=\(salt)&f=json"))
            let error = bob["error"] as? [String: Any]
            #expect(error?["code"] as? Int == 41 && (error?["message"] as? String)?.contains("client-password") == true)
            // A revoked client password stops working.
            for p in try await lib.core.clientPasswords.list(userId: nil) { try await lib.core.clientPasswords.revoke(id: p.id, userId: nil) }
            #expect(try await code("u=ann&t=\(Self.md5(clientPassword + salt))&s=\(salt)") == 41)
            // Form POST carries the parameters in the body.
            let post = try await client.execute(
                uri: "/rest/ping.view", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "u=ann&p=password9&v=1.16.1&c=test&f=json")
            ) { r in Reply(status: r.status, headers: r.headers, body: Data(r.body.readableBytesView)) }
            #expect(Self.envelope(post)["status"] as? String == "ok")
            // Failures are throttled like the other logins.
            for _ in 0..<12 { _ = try await code("u=ann&p=bad") }
            let throttled = Self.envelope(try await client.get("/rest/ping?u=ann&p=password1&f=json"))
            #expect(((throttled["error"] as? [String: Any])?["message"] as? String)?.contains("too many") == true)
        }
    }

    /// Accepted credentials are remembered briefly: a change made in this process misses at once; one
    /// made by another process (the CLI, with stores of its own) within `acceptedMs`.
    @Test func acceptedCredentialsAndChangesElsewhere() async throws {
        let clock = ManualWallClock(1_800_000_000_000)
        let lib = try Library(clock: clock)
        try lib.tone("a/one.flac", seconds: 1, tags: ["TITLE": "One"])
        _ = try await lib.core.scanner.scan()
        let ann = try await lib.core.users.add(name: "ann", password: "password1", role: .admin)
        let (clientPassword, _) = try await lib.core.clientPasswords.create(user: ann, label: "phone", ttlSeconds: nil)
        let salt = "a1b2c3"
        let query = "/rest/ping?u=ann&t=\(Self.md5(clientPassword + salt))&s=\(salt)&v=1.16.1&c=test&f=json"
        try await run(lib) { client in
            #expect(Self.errorCode(try await client.get(query)) == nil)
            // Another process revokes it through stores of its own: this process learns within acceptedMs.
            let elsewhere = ClientPasswordStore(db: lib.core.db, clock: clock, box: try SecretKeyFile.box(lib.core.settings))
            for p in try await elsewhere.list(userId: nil) { try await elsewhere.revoke(id: p.id, userId: nil) }
            #expect(Self.errorCode(try await client.get(query)) == nil)
            clock.advance(ms: SubsonicAuthenticatorLimits.acceptedMs + 1)
            #expect(Self.errorCode(try await client.get(query)) == 41)
            // A change in this process misses at once.
            #expect(Self.errorCode(try await client.get("/rest/ping?u=ann&p=password1&v=1.16.1&c=test&f=json")) == nil)
            try await lib.core.users.setDisabled(name: "ann", true)
            #expect(Self.errorCode(try await client.get("/rest/ping?u=ann&p=password1&v=1.16.1&c=test&f=json")) == 40)
        }
    }

    @Test func browseSearchStarRateScrobbleAndPlaylists() async throws {
        let (lib, _) = try await setUp()
        try await run(lib) { client in
            func get(_ method: String, _ query: String = "") async throws -> [String: Any] {
                Self.envelope(try await client.get("/rest/\(method)?\(Self.auth)\(query.isEmpty ? "" : "&" + query)"))
            }
            let artists = try await get("getArtists")
            let index = (artists["artists"] as? [String: Any])?["index"] as? [[String: Any]] ?? []
            #expect(index.map { $0["name"] as? String } == ["A", "B"])
            let alpha = try #require((index.first?["artist"] as? [[String: Any]])?.first)
            #expect((alpha["id"] as? String)?.hasPrefix("ar-") == true && alpha["albumCount"] as? Int == 1 && alpha["coverArt"] != nil)
            let artist = try await get("getArtist", "id=\(alpha["id"] as! String)")
            let album = try #require(((artist["artist"] as? [String: Any])?["album"] as? [[String: Any]])?.first)
            #expect(album["name"] as? String == "First" && album["songCount"] as? Int == 2)
            let full = try await get("getAlbum", "id=\(album["id"] as! String)")
            let songs = (full["album"] as? [String: Any])?["song"] as? [[String: Any]] ?? []
            #expect(songs.count == 2 && songs.allSatisfy { $0["id"] is String && $0["albumId"] as? String == album["id"] as? String })
            let songId = try #require(songs.first?["id"] as? String)
            #expect((try await get("getSong", "id=\(songId)")["song"] as? [String: Any])?["suffix"] as? String == "flac")
            // Folders synthesized from artist to album.
            let root = (try await get("getMusicDirectory", "id=1")["directory"] as? [String: Any])?["child"] as? [[String: Any]] ?? []
            #expect(root.count == 2 && root.allSatisfy { $0["isDir"] as? Bool == true })
            let dir = (try await get("getMusicDirectory", "id=\(album["id"] as! String)")["directory"] as? [String: Any])?["child"] as? [[String: Any]] ?? []
            #expect(dir.count == 2)
            #expect(((try await get("getIndexes")["indexes"] as? [String: Any])?["index"] as? [Any])?.count == 2)
            let genres = (try await get("getGenres")["genres"] as? [String: Any])?["genre"] as? [[String: Any]] ?? []
            #expect(genres.contains { $0["value"] as? String == "Jazz" && $0["songCount"] as? Int == 2 })
            // search3: folding, and the empty query pages through everything.
            let found = (try await get("search3", "query=cafe")["searchResult3"] as? [String: Any])?["song"] as? [[String: Any]] ?? []
            #expect(found.map { $0["title"] as? String } == ["Café One"])
            var seen: [String] = []
            for offset in [0, 2] {
                let page = (try await get("search3", "query=&songCount=2&songOffset=\(offset)&artistCount=0&albumCount=0")["searchResult3"] as? [String: Any])?["song"] as? [[String: Any]] ?? []
                seen += page.compactMap { $0["id"] as? String }
            }
            #expect(Set(seen).count == 3)
            #expect(((try await get("search3", "query=%22%22&songCount=10")["searchResult3"] as? [String: Any])?["song"] as? [Any])?.count == 3)
            // Album lists of every type answer.
            for type in ["random", "newest", "frequent", "recent", "starred", "alphabeticalByName", "alphabeticalByArtist", "highest", "byYear&fromYear=2000&toYear=2010", "byGenre&genre=Rock"] {
                let list = try await get("getAlbumList2", "type=\(type)")
                #expect(list["status"] as? String == "ok", "\(type): \(list)")
            }
            let byYear = (try await get("getAlbumList2", "type=byYear&fromYear=2000&toYear=2010")["albumList2"] as? [String: Any])?["album"] as? [[String: Any]] ?? []
            #expect(byYear.map { $0["name"] as? String } == ["Second"])
            #expect(try await get("getAlbumList2", "type=nonsense")["status"] as? String == "failed")
            // Stars, ratings, plays.
            _ = try await get("star", "id=\(songId)&albumId=\(album["id"] as! String)")
            let starred = try await get("getStarred2")["starred2"] as? [String: Any]
            #expect((starred?["song"] as? [Any])?.count == 1 && (starred?["album"] as? [Any])?.count == 1 && (starred?["artist"] as? [Any])?.isEmpty == true)
            _ = try await get("setRating", "id=\(songId)&rating=4")
            #expect(try await get("setRating", "id=\(songId)&rating=9")["status"] as? String == "failed")
            _ = try await get("scrobble", "id=\(songId)&submission=true")
            let recent = (try await get("getAlbumList2", "type=recent")["albumList2"] as? [String: Any])?["album"] as? [[String: Any]] ?? []
            #expect(recent.first?["id"] as? String == album["id"] as? String)
            let song = try await get("getSong", "id=\(songId)")["song"] as? [String: Any]
            #expect(song?["userRating"] as? Int == 4 && song?["playCount"] as? Int == 1 && song?["starred"] != nil)
            _ = try await get("scrobble", "id=\(songId)&submission=false")
            let now = (try await get("getNowPlaying")["nowPlaying"] as? [String: Any])?["entry"] as? [[String: Any]] ?? []
            #expect(now.first?["username"] as? String == "ann" && now.first?["playerName"] as? String == "test")
            _ = try await get("unstar", "id=\(songId)")
            #expect(((try await get("getStarred2")["starred2"] as? [String: Any])?["song"] as? [Any])?.isEmpty == true)
            // Playlists.
            let created = try await get("createPlaylist", "name=Mix&songId=\(songId)&songId=\(songId)")
            let pl = try #require(created["playlist"] as? [String: Any])
            let plId = try #require(pl["id"] as? String)
            #expect(pl["songCount"] as? Int == 2 && (pl["entry"] as? [Any])?.count == 2)
            _ = try await get("updatePlaylist", "playlistId=\(plId)&name=Evening&songIndexToRemove=0&public=true")
            let after = try await get("getPlaylist", "id=\(plId)")["playlist"] as? [String: Any]
            #expect(after?["name"] as? String == "Evening" && after?["songCount"] as? Int == 1 && after?["public"] as? Bool == true)
            #expect(((try await get("getPlaylists")["playlists"] as? [String: Any])?["playlist"] as? [Any])?.count == 1)
            _ = try await get("deletePlaylist", "id=\(plId)")
            #expect(try await get("getPlaylist", "id=\(plId)")["error"] != nil)
            // User, scan status.
            let user = try await get("getUser", "username=ann")["user"] as? [String: Any]
            #expect(user?["adminRole"] as? Bool == true && user?["streamRole"] as? Bool == true)
            #expect((try await get("getScanStatus")["scanStatus"] as? [String: Any])?["count"] as? Int == 3)
        }
    }

    @Test func playQueueSimilarTopAndInfo() async throws {
        let (lib, _) = try await setUp()
        try await run(lib) { client in
            func get(_ method: String, _ query: String = "") async throws -> [String: Any] {
                Self.envelope(try await client.get("/rest/\(method)?\(Self.auth)\(query.isEmpty ? "" : "&" + query)"))
            }
            let songs = try await lib.core.songs.songs(query: nil, artist: nil, album: nil, limit: 10, offset: 0).songs
            let one = try #require(songs.first { $0.title == "Café One" }), two = try #require(songs.first { $0.title == "Two" })
            let three = try #require(songs.first { $0.title == "Three" })
            // Save on one device, pick up on another.
            #expect(try await get("getPlayQueue")["playQueue"] == nil)
            _ = try await get("savePlayQueue", "id=\(one.id)&id=\(three.id)&current=\(three.id)&position=42000")
            let q = try #require(try await get("getPlayQueue")["playQueue"] as? [String: Any])
            #expect(q["current"] as? String == String(three.id) && q["position"] as? Int == 42_000 && q["changedBy"] as? String == "test")
            #expect((q["entry"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [String(one.id), String(three.id)])
            _ = try await get("savePlayQueueByIndex", "id=\(two.id)&id=\(one.id)&currentIndex=1&position=5")
            let byIndex = try #require(try await get("getPlayQueueByIndex")["playQueueByIndex"] as? [String: Any])
            #expect(byIndex["currentIndex"] as? Int == 1 && (byIndex["entry"] as? [Any])?.count == 2)
            #expect(try await get("savePlayQueue", "id=\(one.id)&current=\(three.id)")["status"] as? String == "failed")
            // Similar songs: the same artist first; top songs from the library's play counts.
            let similar = (try await get("getSimilarSongs2", "id=\(one.id)")["similarSongs2"] as? [String: Any])?["song"] as? [[String: Any]] ?? []
            #expect(similar.first?["id"] as? String == String(two.id))
            _ = try await get("scrobble", "id=\(two.id)")
            let top = (try await get("getTopSongs", "artist=Alpha")["topSongs"] as? [String: Any])?["song"] as? [[String: Any]] ?? []
            #expect(top.compactMap { $0["id"] as? String } == [String(two.id)])
            let info = try await get("getArtistInfo2", "id=ar-\(one.artistId)")["artistInfo2"] as? [String: Any]
            #expect(info?["biography"] as? String == "" && (info?["similarArtist"] as? [Any])?.isEmpty == true)
            #expect((try await get("getAlbumInfo2", "id=al-\(one.albumId)")["albumInfo"] as? [String: Any])?["notes"] as? String == "")
            #expect(try await get("getArtistInfo2", "id=ar-99999")["status"] as? String == "failed")
            // Lyrics: a .lrc beside one song (synced), a LYRICS tag in another (plain).
            try "[00:01.00]Hello\n[00:02.50]World\n".write(toFile: (three.path as NSString).deletingPathExtension + ".lrc", atomically: true, encoding: .utf8)
            try sh("metaflac", ["--set-tag=LYRICS=Line one\nLine two", two.path])
            let synced = ((try await get("getLyricsBySongId", "id=\(three.id)")["lyricsList"] as? [String: Any])?["structuredLyrics"] as? [[String: Any]])?.first
            #expect(synced?["synced"] as? Bool == true && (synced?["line"] as? [[String: Any]])?.compactMap { $0["start"] as? Int } == [1_000, 2_500])
            let plain = ((try await get("getLyricsBySongId", "id=\(two.id)")["lyricsList"] as? [String: Any])?["structuredLyrics"] as? [[String: Any]])?.first
            #expect(plain?["synced"] as? Bool == false && (plain?["line"] as? [[String: Any]])?.compactMap { $0["value"] as? String } == ["Line one", "Line two"])
            let legacy = try await get("getLyrics", "artist=Beta&title=Three")["lyrics"] as? [String: Any]
            #expect(legacy?["value"] as? String == "Hello\nWorld" && legacy?["title"] as? String == "Three")
            let none = (try await get("getLyricsBySongId", "id=\(one.id)")["lyricsList"] as? [String: Any])?["structuredLyrics"] as? [Any]
            #expect(none?.isEmpty == true)
        }
    }

    /// A cover grid: once credentials were accepted and the cover is in memory, getCoverArt is
    /// answered on the event loop with the same bytes and ETag (304 on a match); anything else
    /// (unknown credentials, a cover not in memory, a wrong password) takes the full way.
    @Test func coverArtFromMemoryOnTheEventLoop() async throws {
        let clock = ManualWallClock(Int64(Date().timeIntervalSince1970) * 1000)
        let lib = try Library(clock: clock)
        try lib.tone("a/one.flac", seconds: 1, tags: ["TITLE": "One", "ALBUM": "First"])
        let wav = lib.dir.appendingPathComponent("t.wav").path
        try Tone.writeBlocking(wav, seconds: 1)
        try sh("sox", [wav, "-n", "spectrogram", "-o", lib.music.appendingPathComponent("a/cover.png").path, "-x", "300", "-y", "200"])
        _ = try await lib.core.scanner.scan()
        try await lib.core.users.add(name: "ann", password: "password1", role: .admin)
        let services = lib.core.services
        let uri = "/rest/getCoverArt.view?\(Self.auth)&id=al-1&size=90"
        try await Application(router: buildRouter(services, modules: lib.core.routeModules), server: .reprise(fastPath: services, serverName: "reprise/test")).test(.live) { client in
            let first = try await client.get(uri)
            #expect(first.status == .ok && first.headers[.contentType] == "image/jpeg")
            let etag = try #require(first.headers[.eTag])
            let before = services.fastPathAnswers.count
            let again = try await client.get(uri)
            #expect(again.status == .ok && again.body == first.body && again.headers[.eTag] == etag)
            let cached = try await client.get(uri, headers: ["If-None-Match": etag])
            #expect(cached.status == .notModified && cached.body.isEmpty)
            #expect(services.fastPathAnswers.count - before == 2)
            // A wrong password is never in memory: the full way answers error 40.
            let wrong = try await client.get("/rest/getCoverArt.view?u=ann&p=nope&v=1.16.1&c=test&f=json&id=al-1&size=90")
            #expect(Self.errorCode(wrong) == 40)
            // After a password change the remembered credentials are gone at once.
            try await lib.core.users.setPassword(name: "ann", password: "password9")
            #expect(Self.errorCode(try await client.get(uri)) == 40)
            #expect(services.fastPathAnswers.count - before == 2)
        }
    }

    @Test func coverArtStreamAndDownloadBytes() async throws {
        let (lib, _) = try await setUp()
        try await run(lib) { client in
            let songs = try await lib.core.songs.songs(query: nil, title: "Two", artist: nil, album: nil, limit: 1, offset: 0).songs
            let song = try #require(songs.first)
            let file = try Data(contentsOf: URL(fileURLWithPath: song.path))
            let whole = try await client.get("/rest/stream?\(Self.auth)&id=\(song.id)&maxBitRate=128&format=mp3&estimateContentLength=true")
            #expect(whole.status == .ok && whole.body == file)
            let part = try await client.get("/rest/stream?\(Self.auth)&id=\(song.id)", headers: ["Range": "bytes=10-99"])
            #expect(part.status == .partialContent && part.body == file[10...99])
            let download = try await client.get("/rest/download.view?\(Self.auth)&id=\(song.id)")
            #expect(download.body == file)
            // Streaming never counts a play (clients scrobble).
            #expect(try await lib.core.library.annotations(user: 1, kind: .song, ids: [song.id])[song.id]?.playCount == 0)
            let cover = try await client.get("/rest/getCoverArt?\(Self.auth)&id=al-\(song.albumId)&size=64")
            #expect(cover.status == .ok && cover.headers[.contentType] == "image/jpeg" && cover.body.count > 100)
            let none = try await client.get("/rest/getCoverArt?\(Self.auth)&id=999999")
            #expect(Self.errorCode(none) == 70)
            let missing = try await client.get("/rest/stream?\(Self.auth)&id=999999")
            #expect(Self.errorCode(missing) == 70)
        }
    }
}

/// The admin's API key, minted through the store.
struct ApiKeyStoreFor {
    let lib: Library
    init(_ lib: Library) { self.lib = lib }
    func rotate() async throws -> String {
        let ann = try #require(try await lib.core.users.find(name: "ann"))
        return try await lib.core.services.apiKeys.rotate(userId: ann.id)
    }
}
