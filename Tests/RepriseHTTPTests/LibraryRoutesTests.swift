import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import RepriseCore
import RepriseSQLite
import Testing
@testable import RepriseHTTP

/// The library on the native API: playlists, exports, stars, ratings, plays, search, genres, art.
@Suite struct LibraryRoutesTests {
    /// A server with ann, bob and three songs; returns their ids.
    static func stage() async throws -> (TestServer, [Int64]) {
        let server = try TestServer(maxBody: 1 << 16)
        try await server.services.users.add(name: "ann", password: "password1", role: .user)
        try await server.services.users.add(name: "bob", password: "password1", role: .user)
        let catalog = CatalogStore(db: server.db, clock: server.clock)
        let files = [("Café Noir", "Émile", "Jazz"), ("So What", "Miles", "Jazz"), ("Rain", "Beatles", "Rock")].enumerated().map { i, t in
            SongFile(
                id: nil, path: "/m/\(i).flac", size: 100, mtimeMs: 1, title: t.0, artist: t.1, album: "A\(i)", albumArtist: nil, track: 1, disc: 1,
                year: 2000, genre: t.2, durationMs: 1_000, bitrate: 1, sampleRate: 1, channels: 2, format: "flac")
        }
        try await catalog.apply(inserts: files, updates: [], removed: [])
        return (server, try await catalog.songs(query: nil, artist: nil, album: nil, limit: 10, offset: 0).songs.map(\.id).sorted())
    }

    @Test func playlistsThroughTheAPI() async throws {
        let (server, s) = try await Self.stage()
        try await server.test { client in
            let ann = try await client.login("ann", "password1")
            let bob = try await client.login("bob", "password1")
            var (status, body, _) = try await client.call(.post, "/api/v1/playlists", bearer: ann, json: #"{"name": "Mix", "public": true, "songs": [\#(s[0]), \#(s[0])]}"#)
            #expect(status == .created)
            let id = try #require(body["id"] as? Int)
            (status, _, _) = try await client.call(.post, "/api/v1/playlists/\(id)/songs", bearer: ann, json: #"{"songs": [\#(s[2])], "position": 1}"#)
            #expect(status == .ok)
            (status, _, _) = try await client.call(.post, "/api/v1/playlists/\(id)/move", bearer: ann, json: #"{"from": 2, "to": 0}"#)
            #expect(status == .ok)
            (status, body, _) = try await client.call(.get, "/api/v1/playlists/\(id)", bearer: bob)
            #expect(status == .ok)
            #expect((body["songs"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [Int(s[0]), Int(s[0]), Int(s[2])])
            (status, body, _) = try await client.call(.delete, "/api/v1/playlists/\(id)/songs/1", bearer: bob)
            #expect(status == .forbidden, "\(body)")
            (status, _, _) = try await client.call(.delete, "/api/v1/playlists/\(id)/songs/1", bearer: ann)
            #expect(status == .ok)
            // Bad positions, sizes and bodies are 400s and change nothing.
            for bad in [#"{"songs": [1], "position": -1}"#, #"{"songs": [1], "position": 9223372036854775807}"#, #"{"songs": "x"}"#, #"{"songs": [1]"#] {
                (status, _, _) = try await client.call(.post, "/api/v1/playlists/\(id)/songs", bearer: ann, json: bad)
                #expect(status == .badRequest, "\(bad)")
            }
            (status, _, _) = try await client.call(.delete, "/api/v1/playlists/\(id)/songs/99", bearer: ann)
            #expect(status == .badRequest)
            (status, _, _) = try await client.call(.post, "/api/v1/playlists/\(id)/songs", bearer: ann, json: #"{"songs": [424242]}"#)
            #expect(status == .notFound)
            (status, body, _) = try await client.call(.patch, "/api/v1/playlists/\(id)", bearer: ann, json: #"{"public": false, "name": "Mine"}"#)
            #expect(status == .ok && body["name"] as? String == "Mine" && body["song_count"] as? Int == 2)
            (status, _, _) = try await client.call(.get, "/api/v1/playlists/\(id)", bearer: bob)
            #expect(status == .notFound)
            (status, body, _) = try await client.call(.get, "/api/v1/playlists", bearer: bob)
            #expect((body["playlists"] as? [Any])?.isEmpty == true)
            (status, _, _) = try await client.call(.delete, "/api/v1/playlists/\(id)", bearer: ann)
            #expect(status == .noContent)
        }
    }

    @Test func exportsReuseTheSessionsTokenAndOpenWithATokenAlone() async throws {
        let (server, s) = try await Self.stage()
        try await server.test { client in
            let ann = try await client.login("ann", "password1")
            let (_, body, _) = try await client.call(.post, "/api/v1/playlists", bearer: ann, json: #"{"name": "Mix", "songs": [\#(s[1])]}"#)
            let id = try #require(body["id"] as? Int)
            func text(_ uri: String, bearer: String?) async throws -> (HTTPResponse.Status, String) {
                var headers: HTTPFields = [:]
                if let bearer { headers[.authorization] = "Bearer \(bearer)" }
                return try await client.execute(uri: uri, method: .get, headers: headers) { ($0.status, String(buffer: $0.body)) }
            }
            let tokens = { try await server.services.tokens.list(userId: nil).filter { $0.label == "playlist" }.count }
            let (s1, first) = try await text("/api/v1/playlists/\(id)/m3u", bearer: ann)
            let (_, second) = try await text("/api/v1/playlists/adhoc.xspf?ids=\(s[0])", bearer: ann)
            #expect(s1 == .ok && first.contains("#PLAYLIST:Mix") && first.contains("/stream/\(s[1])?token=rt_"))
            let line = try #require(first.split(separator: "\n").last.map(String.init))
            let tokenText = try #require(line.components(separatedBy: "token=").last)
            #expect(second.contains("token=\(tokenText)"), "the second export reused the session's token")
            #expect(try await tokens() == 1)
            // A player opens the export with the token alone.
            let (s3, third) = try await text("/api/v1/playlists/\(id)/xspf?token=\(tokenText)", bearer: nil)
            #expect(s3 == .ok && third.contains("token=\(tokenText)"))
            let (s4, _) = try await text("/api/v1/playlists/\(id)/m3u?token=rt_nope", bearer: nil)
            #expect(s4 == .unauthorized)
            let (s5, _) = try await text("/api/v1/playlists/\(id)/m3u", bearer: nil)
            #expect(s5 == .unauthorized)
            #expect(try await tokens() == 1)
        }
    }

    @Test func starsRatingsPlaysListsSearchAndGenres() async throws {
        let (server, s) = try await Self.stage()
        try await server.test { client in
            let ann = try await client.login("ann", "password1")
            var (status, body, _) = try await client.call(.put, "/api/v1/stars/song/\(s[0])", bearer: ann)
            #expect(status == .noContent)
            (status, _, _) = try await client.call(.put, "/api/v1/ratings/song/\(s[2])", bearer: ann, json: #"{"rating": 4}"#)
            #expect(status == .noContent)
            for bad in [#"{"rating": 6}"#, #"{"rating": -1}"#, #"{"rating": 99999999999999999999}"#] {
                (status, _, _) = try await client.call(.put, "/api/v1/ratings/song/\(s[2])", bearer: ann, json: bad)
                #expect(status == .badRequest, "\(bad)")
            }
            (status, _, _) = try await client.call(.put, "/api/v1/stars/planet/1", bearer: ann)
            #expect(status == .notFound)
            (status, _, _) = try await client.call(.put, "/api/v1/stars/album/424242", bearer: ann)
            #expect(status == .notFound)
            (status, body, _) = try await client.call(.post, "/api/v1/plays", bearer: ann, json: #"{"song": \#(s[1]), "client": "phone"}"#)
            #expect(status == .ok && body["counted"] as? Bool == true)
            (status, body, _) = try await client.call(.post, "/api/v1/plays", bearer: ann, json: #"{"song": \#(s[1])}"#)
            #expect(body["counted"] as? Bool == false, "a repeat within the window counts once")
            (status, _, _) = try await client.call(.post, "/api/v1/plays", bearer: ann, json: #"{"song": \#(s[0]), "now_playing": true, "client": "phone"}"#)
            #expect(status == .noContent)
            (status, body, _) = try await client.call(.get, "/api/v1/now-playing", bearer: ann)
            #expect((body["entries"] as? [[String: Any]])?.first?["song_id"] as? Int == Int(s[0]))
            (status, body, _) = try await client.call(.get, "/api/v1/annotations/song?ids=\(s[0]),\(s[1]),\(s[2])", bearer: ann)
            let marks = (body["items"] as? [[String: Any]])?.compactMap { $0["marks"] as? [String: Any] } ?? []
            #expect(marks.count == 3 && marks[0]["starred_at"] != nil && marks[1]["play_count"] as? Int == 1 && marks[2]["rating"] as? Int == 4)
            (status, body, _) = try await client.call(.get, "/api/v1/lists/frequent?kind=song", bearer: ann)
            #expect(body["ids"] as? [Int] == [Int(s[1])])
            (status, body, _) = try await client.call(.get, "/api/v1/lists/bogus", bearer: ann)
            #expect(status == .notFound)
            (status, body, _) = try await client.call(.get, "/api/v1/search?q=CAFE", bearer: ann)
            #expect((body["songs"] as? [[String: Any]])?.compactMap { $0["title"] as? String } == ["Café Noir"])
            (status, body, _) = try await client.call(.get, "/api/v1/search?q=emile&kind=artist", bearer: ann)
            #expect((body["artists"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Émile"])
            (status, body, _) = try await client.call(.get, "/api/v1/genres", bearer: ann)
            let genres = body["genres"] as? [[String: Any]] ?? []
            #expect(genres.compactMap { $0["name"] as? String } == ["Jazz", "Rock"])
            let jazz = try #require(genres.first?["id"] as? Int)
            (status, body, _) = try await client.call(.get, "/api/v1/genres/\(jazz)/songs", bearer: ann)
            #expect(body["total"] as? Int == 2)
            // Browse by genre, year, artist id.
            (status, body, _) = try await client.call(.get, "/api/v1/songs?genre=JAZZ", bearer: ann)
            #expect(body["total"] as? Int == 2)
            (status, body, _) = try await client.call(.get, "/api/v1/songs?year=1999-2001&genre=rock", bearer: ann)
            #expect(body["total"] as? Int == 1)
            let miles = try #require((try await client.call(.get, "/api/v1/search?q=miles&kind=artist", bearer: ann).1["artists"] as? [[String: Any]])?.first?["id"] as? Int)
            (status, body, _) = try await client.call(.get, "/api/v1/songs?artist_id=\(miles)", bearer: ann)
            #expect((body["songs"] as? [[String: Any]])?.compactMap { $0["title"] as? String } == ["So What"])
            (status, body, _) = try await client.call(.get, "/api/v1/albums?genre=jazz", bearer: ann)
            #expect(body["total"] as? Int == 2)
            (status, body, _) = try await client.call(.get, "/api/v1/albums?artist_id=\(miles)", bearer: ann)
            #expect(body["total"] as? Int == 1)
            for bad in ["year=19x9", "year=2001-1999", "artist_id=abc", "year=-5"] {
                (status, _, _) = try await client.call(.get, "/api/v1/songs?\(bad)", bearer: ann)
                #expect(status == .badRequest, "\(bad)")
            }
            // No art: a JSON 404, never a broken image.
            var headers: HTTPFields = [.authorization: "Bearer \(ann)"]
            headers[.accept] = "image/*"
            let (artStatus, type) = try await client.execute(uri: "/api/v1/art/album/1?size=300", method: .get, headers: headers) { ($0.status, $0.headers[.contentType]) }
            #expect(artStatus == .notFound && type?.hasPrefix("application/json") == true)
            (status, _, _) = try await client.call(.get, "/api/v1/art/album/1?size=-5", bearer: ann)
            #expect(status == .badRequest)
        }
    }
}
