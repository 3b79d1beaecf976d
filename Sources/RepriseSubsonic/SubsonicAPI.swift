import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Dispatch
import RepriseCatalog
import RepriseCore
import RepriseHTTP
import RepriseStorage

/// Registers Subsonic 1.16.1 with the OpenSubsonic extensions: `/rest/<method>` and `/rest/<method>.view`, GET and form POST.
/// `jukebox` maps a user name to the player `jukeboxControl` drives for that user (`subsonic.jukebox`).
public func subsonicRoutes(_ app: AppServices, playback: (any PlayerDirectory)? = nil, jukebox: [String: String] = [:]) -> RouteModule {
    let api = SubsonicAPI(app: app, playback: playback, jukebox: jukebox)
    // A cover grid is hundreds of getCoverArt calls: from memory, on the event loop, when it can.
    app.fastAnswers.register(paths: ["/rest/getCoverArt", "/rest/getCoverArt.view"]) { query, header in api.fastCover(query, header: header) }
    return RouteModule.build { on in
        for method in [HTTPRequest.Method.get, .post] {
            on("/rest/:method", method) { request, context in try await api.handle(request, context: context) }
        }
    }
}

/// What an answer is: a document (the envelope's children), or bytes (a stream, a cover).
enum SubsonicOutcome: Sendable {
    case document(SNode)
    case response(Response)
}

/// Subsonic's ids: songs are numbers; albums `al-N`, artists `ar-N`; the one music folder `mf-1`
/// (`getMusicFolders` says 1, and `getMusicDirectory` takes `1` for it: a song is no directory).
enum SubsonicId: Equatable {
    case song(Int64), album(Int64), artist(Int64), folder

    init?(_ raw: String) {
        if raw == "mf-1" { self = .folder; return }
        if raw.hasPrefix("al-"), let n = Int64(raw.dropFirst(3)), n > 0 { self = .album(n); return }
        if raw.hasPrefix("ar-"), let n = Int64(raw.dropFirst(3)), n > 0 { self = .artist(n); return }
        guard let n = Int64(raw), n > 0 else { return nil }
        self = .song(n)
    }

    static func album(_ id: Int64) -> String { "al-\(id)" }
    static func artist(_ id: Int64) -> String { "ar-\(id)" }
}

struct SubsonicAPI: Sendable {
    let app: AppServices
    let auth: SubsonicAuthenticator
    /// The supervised players `jukeboxControl` drives; nil when none are configured.
    let playback: (any PlayerDirectory)?
    /// User name -> the player `jukeboxControl` drives for that user; others get their first owned player.
    let jukeboxChoice: [String: String]

    init(app: AppServices, playback: (any PlayerDirectory)? = nil, jukebox: [String: String] = [:]) {
        self.app = app
        self.auth = SubsonicAuthenticator(app: app)
        self.playback = playback
        self.jukeboxChoice = jukebox
    }

    /// The endpoints answered, for `getOpenSubsonicExtensions` and errors; others get error 0 ("not offered").
    static let notOffered: Set<String> = [
        "getPodcasts", "getNewestPodcasts", "refreshPodcasts", "createPodcastChannel", "deletePodcastChannel", "deletePodcastEpisode",
        "downloadPodcastEpisode", "getShares", "createShare", "updateShare", "deleteShare", "getInternetRadioStations",
        "createInternetRadioStation", "updateInternetRadioStation", "deleteInternetRadioStation", "getChatMessages", "addChatMessage",
        "getVideos", "getVideoInfo", "getCaptions", "hls", "getUsers", "createUser", "updateUser", "deleteUser", "changePassword",
        "getBookmarks", "createBookmark", "deleteBookmark", "getAvatar", "getPodcastEpisode",
    ]

    func handle(_ request: Request, context: RepriseContext) async throws -> Response {
        var method = context.parameters.get("method") ?? ""
        if method.hasSuffix(".view") { method.removeLast(5) }
        let p: SubsonicParams
        do {
            p = try await SubsonicParams.read(request, limit: app.maxBodyBytes)
        } catch {
            return render(.xml, nil, SubsonicError(.generic, "the request body could not be read"))
        }
        var format = SubsonicFormat.xml
        switch p["f"]?.lowercased() {
        case "json"?: format = .json
        case "jsonp"?:
            guard let callback = p["callback"] else { return render(.json, nil, .missing("callback")) }
            guard SubsonicFormat.validCallback(callback) else { return render(.json, nil, SubsonicError(.generic, "callback must be a JavaScript name")) }
            format = .jsonp(callback: callback)
        default: break
        }
        do {
            let outcome = try await dispatch(method, p, request: request, context: context)
            switch outcome {
            case .document(let node): return render(format, node, nil)
            case .response(let response): return response
            }
        } catch let e as SubsonicError {
            return render(format, nil, e)
        } catch let e as RepriseError {
            let code: SubsonicError.Code = switch e.code {
            case .notFound: .notFound
            case .forbidden: .notAuthorized
            case .badRequest: .generic
            default: .generic
            }
            return render(format, nil, SubsonicError(code, e.message))
        } catch let e as APIError {
            // The stream endpoint's refusals: 401/403 keep their status for players; others as envelopes.
            if request.uri.path.contains("stream") || request.uri.path.contains("download") { throw e }
            return render(format, nil, SubsonicError(e.status == .forbidden ? .notAuthorized : .generic, e.message))
        }
    }

    func render(_ format: SubsonicFormat, _ body: SNode?, _ error: SubsonicError?) -> Response {
        let (text, type) = format.render(body, error: error)
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func dispatch(_ method: String, _ p: SubsonicParams, request: Request, context: RepriseContext) async throws -> SubsonicOutcome {
        // Answered without credentials.
        switch method {
        case "getOpenSubsonicExtensions":
            let extensions = ["apiKeyAuthentication", "formPost", "songLyrics"].map { SNode([("name", .string($0))], children: [("versions", .values([.int(1)]))]) }
            return .document(SNode(children: [("openSubsonicExtensions", .many(extensions))]))
        default: break
        }
        guard !method.isEmpty else { throw SubsonicError.notFound("method") }
        let caller = try await auth.authenticate(p, context: context)
        let user = caller.user
        switch method {
        case "ping":
            return .document(SNode())
        case "getLicense":
            return .document(SNode(children: [("license", .one(SNode([("valid", .bool(true)), ("email", .string("")), ("licenseExpires", .string("2099-12-31T00:00:00Z"))])))]))
        case "tokenInfo":
            return .document(SNode(children: [("tokenInfo", .one(SNode([("username", .string(user.name))])))]))
        case "getMusicFolders":
            return .document(SNode(children: [("musicFolders", .one(SNode(children: [("musicFolder", .many([SNode([("id", .int(1)), ("name", .string("Music"))])]))])))]))
        case "getIndexes", "getArtists":
            return .document(try await indexes(id3: method == "getArtists", user: user))
        case "getArtist":
            return .document(try await artist(p, user: user))
        case "getAlbum":
            return .document(try await album(p, user: user))
        case "getSong":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            guard case .song(let id)? = SubsonicId(raw), let song = try await app.catalog.song(id: id) else { throw SubsonicError.notFound("song \(raw)") }
            return .document(SNode(children: [("song", .one(try await songNodes([song], user: user)[0]))]))
        case "getMusicDirectory":
            return .document(try await directory(p, user: user))
        case "getGenres":
            let genres = try await app.library.genres().map { g in
                SNode([("songCount", .int(g.songCount)), ("albumCount", .int(g.albumCount))], text: g.name)
            }
            return .document(SNode(children: [("genres", .one(SNode(children: [("genre", .many(genres))])))]))
        case "getAlbumList", "getAlbumList2":
            let albums = try await albumList(p, user: user)
            let name = method == "getAlbumList" ? "albumList" : "albumList2"
            let nodes = try await albumNodes(albums, user: user, directory: method == "getAlbumList")
            return .document(SNode(children: [(name, .one(SNode(children: [("album", .many(nodes))])))]))
        case "getRandomSongs":
            let size = try p.int("size", 1...500, fallback: 10)
            var rules: [SearchRule] = []
            if let genre = p["genre"] { rules.append(SearchRule(field: .genre, match: .equals, value: genre)) }
            if let from = p["fromYear"] { rules.append(SearchRule(field: .year, match: .atLeast, value: from)) }
            if let to = p["toYear"] { rules.append(SearchRule(field: .year, match: .atMost, value: to)) }
            let ids = rules.isEmpty
                ? try await app.library.list(.random, kind: .song, user: user.id, limit: size, offset: 0).ids
                : try await app.library.search(rules: rules, matchAll: true, kind: .song, user: user.id, random: true, limit: size, offset: 0).ids
            return .document(SNode(children: [("randomSongs", .one(SNode(children: [("song", .many(try await songNodes(try await app.catalog.songs(ids: ids), user: user)))])))]))
        case "getSongsByGenre":
            guard let genre = p["genre"] else { throw SubsonicError.missing("genre") }
            let count = try p.int("count", 1...500, fallback: 10), offset = try p.int("offset", 0...Int(Int32.max), fallback: 0)
            let ids = try await app.library.ids(kind: .song, genre: genre, limit: count, offset: offset).ids
            return .document(SNode(children: [("songsByGenre", .one(SNode(children: [("song", .many(try await songNodes(try await app.catalog.songs(ids: ids), user: user)))])))]))
        case "search2", "search3":
            return .document(try await search(p, user: user, id3: method == "search3"))
        case "getStarred", "getStarred2":
            let songs = try await app.library.list(.flagged, kind: .song, user: user.id, limit: 5_000, offset: 0).ids
            let albums = try await app.library.list(.flagged, kind: .album, user: user.id, limit: 5_000, offset: 0).ids
            let artists = try await app.library.list(.flagged, kind: .artist, user: user.id, limit: 5_000, offset: 0).ids
            var node = SNode()
            node.list("artist", try await artistNodes(try await catalogArtists(artists), user: user))
            node.list("album", try await albumNodes(try await catalogAlbums(albums), user: user, directory: method == "getStarred"))
            node.list("song", try await songNodes(try await app.catalog.songs(ids: songs), user: user))
            return .document(SNode(children: [(method == "getStarred" ? "starred" : "starred2", .one(node))]))
        case "star", "unstar":
            let on = method == "star"
            var any = false
            for raw in p.all("id") {
                any = true
                switch SubsonicId(raw) {
                case .song(let id)?: try await app.library.star(user: user.id, kind: .song, ids: [id], on: on)
                case .album(let id)?: try await app.library.star(user: user.id, kind: .album, ids: [id], on: on)
                case .artist(let id)?: try await app.library.star(user: user.id, kind: .artist, ids: [id], on: on)
                default: throw SubsonicError.notFound("item \(raw)")
                }
            }
            for raw in p.all("albumId") {
                any = true
                guard let id = Self.number(raw, prefix: "al-") else { throw SubsonicError.notFound("album \(raw)") }
                try await app.library.star(user: user.id, kind: .album, ids: [id], on: on)
            }
            for raw in p.all("artistId") {
                any = true
                guard let id = Self.number(raw, prefix: "ar-") else { throw SubsonicError.notFound("artist \(raw)") }
                try await app.library.star(user: user.id, kind: .artist, ids: [id], on: on)
            }
            guard any else { throw SubsonicError.missing("id, albumId or artistId") }
            return .document(SNode())
        case "setRating":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            guard p["rating"] != nil else { throw SubsonicError.missing("rating") }
            let rating = try p.int("rating", 0...5, fallback: 0)
            switch SubsonicId(raw) {
            case .song(let id)?: try await app.library.rate(user: user.id, kind: .song, id: id, rating: rating)
            case .album(let id)?: try await app.library.rate(user: user.id, kind: .album, id: id, rating: rating)
            case .artist(let id)?: try await app.library.rate(user: user.id, kind: .artist, id: id, rating: rating)
            default: throw SubsonicError.notFound("item \(raw)")
            }
            return .document(SNode())
        case "scrobble":
            let ids = p.all("id")
            guard !ids.isEmpty else { throw SubsonicError.missing("id") }
            let times = p.all("time")
            let now = app.clock.nowMs()
            for (i, raw) in ids.enumerated() {
                guard case .song(let id)? = SubsonicId(raw), try await app.catalog.song(id: id) != nil else { throw SubsonicError.notFound("song \(raw)") }
                if p.bool("submission") == false {
                    app.nowPlaying.announce(NowPlaying(userId: user.id, user: user.name, songId: id, player: caller.client, since: now))
                } else {
                    let at = i < times.count ? Int64(times[i]).map { min($0, now) } ?? now : now
                    try await app.library.recordPlay(user: user.id, song: id, at: max(0, at), source: .client, client: caller.client, windowMs: AppServices.playWindowMs)
                }
            }
            return .document(SNode())
        case "getNowPlaying":
            let entries = try await nowPlaying(app)
            let songs = Dictionary(try await app.catalog.songs(ids: entries.map(\.songId)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var nodes: [SNode] = []
            for e in entries {
                guard let s = songs[e.songId] else { continue }
                var n = try await songNodes([s], user: user)[0]
                n.add("username", e.user)
                n.add("minutesAgo", Int((app.clock.nowMs() - e.since) / 60_000))
                n.add("playerId", 0)
                n.add("playerName", e.player)
                nodes.append(n)
            }
            return .document(SNode(children: [("nowPlaying", .one(SNode(children: [("entry", .many(nodes))])))]))
        case "getPlaylists":
            if let other = p["username"], other != user.name, user.role != .admin { throw SubsonicError(.notAuthorized, "only an admin lists another user's playlists") }
            let lists = try await app.library.playlists(viewer: user.id).filter { p["username"] == nil || $0.owner == p["username"] }
            return .document(SNode(children: [("playlists", .one(SNode(children: [("playlist", .many(lists.map(Self.playlistNode)))])))]))
        case "getPlaylist":
            return .document(try await playlist(p, user: user))
        case "createPlaylist":
            let songs = try Self.songIds(p.all("songId"))
            if let raw = p["playlistId"] {
                guard let id = Int64(raw) else { throw SubsonicError.notFound("playlist \(raw)") }
                _ = try await app.library.replacePlaylistSongs(id: id, owner: user.id, songs: songs)
                if let name = p["name"] { _ = try await app.library.editPlaylist(id: id, owner: user.id, name: name, comment: nil, isPublic: nil) }
                return .document(try await playlist(SubsonicParams(values: ["id": [raw]]), user: user))
            }
            guard let name = p["name"] else { throw SubsonicError.missing("name or playlistId") }
            let created = try await app.library.createPlaylist(owner: user.id, name: name, comment: "", isPublic: false, songs: songs)
            return .document(try await playlist(SubsonicParams(values: ["id": [String(created.id)]]), user: user))
        case "updatePlaylist":
            guard let raw = p["playlistId"] else { throw SubsonicError.missing("playlistId") }
            guard let id = Int64(raw) else { throw SubsonicError.notFound("playlist \(raw)") }
            _ = try await app.library.editPlaylist(id: id, owner: user.id, name: p["name"], comment: p["comment"], isPublic: p.bool("public"))
            let remove = try p.all("songIndexToRemove").map { raw -> Int in
                guard let i = Int(raw), (0...Playlist.maxSongs).contains(i) else { throw SubsonicError(.generic, "songIndexToRemove must be a position from 0") }
                return i
            }
            if !remove.isEmpty { _ = try await app.library.removeFromPlaylist(id: id, owner: user.id, positions: remove) }
            let add = try Self.songIds(p.all("songIdToAdd"))
            if !add.isEmpty { _ = try await app.library.addToPlaylist(id: id, owner: user.id, songs: add, at: nil) }
            return .document(SNode())
        case "deletePlaylist":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            guard let id = Int64(raw) else { throw SubsonicError.notFound("playlist \(raw)") }
            try await app.library.deletePlaylist(id: id, owner: user.id)
            return .document(SNode())
        case "getCoverArt":
            return try await coverArt(p, request: request)
        case "stream", "download":
            return .response(try await stream(p, caller: caller, request: request, context: context))
        case "getUser":
            let name = p["username"] ?? user.name
            guard name == user.name || user.role == .admin else { throw SubsonicError(.notAuthorized, "only an admin reads another user") }
            guard let found = try await app.users.find(name: name) else { throw SubsonicError.notFound("user \(name)") }
            return .document(SNode(children: [("user", .one(userNode(found)))]))
        case "getPlayQueue", "getPlayQueueByIndex":
            guard let q = try await app.library.playQueue(user: user.id) else { return .document(SNode()) }
            var n = SNode()
            if let c = q.current {
                if method == "getPlayQueue" { n.add("current", String(q.songs[c])) } else { n.add("currentIndex", c) }
            }
            n.add("position", q.positionMs)
            n.add("username", user.name)
            n.add("changed", Self.iso(q.changedAt))
            n.add("changedBy", q.changedBy)
            n.list("entry", try await songNodes(try await app.catalog.songs(ids: q.songs), user: user))
            return .document(SNode(children: [(method == "getPlayQueue" ? "playQueue" : "playQueueByIndex", .one(n))]))
        case "savePlayQueue", "savePlayQueueByIndex":
            let songs = try Self.songIds(p.all("id"))
            var current: Int?
            if method == "savePlayQueue", let raw = p["current"] {
                guard case .song(let id)? = SubsonicId(raw), let i = songs.firstIndex(of: id) else { throw SubsonicError(.generic, "current must be one of the ids") }
                current = i
            } else if method == "savePlayQueueByIndex", p["currentIndex"] != nil {
                current = try p.int("currentIndex", 0...max(0, songs.count - 1), fallback: 0)
            }
            let position = Int64(try p.int("position", 0...Int(Int32.max), fallback: 0))
            try await app.library.savePlayQueue(user: user.id, PlayQueue(songs: songs, current: current, positionMs: position, changedAt: app.clock.nowMs(), changedBy: caller.client))
            return .document(SNode())
        case "getSimilarSongs", "getSimilarSongs2":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            let count = try p.int("count", 1...500, fallback: 50)
            var ids: [Int64]
            switch SubsonicId(raw) {
            case .song(let id)?:
                guard try await app.catalog.song(id: id) != nil else { throw SubsonicError.notFound("song \(raw)") }
                ids = try await app.library.similar(song: id, limit: count)
            case .artist(let id)?:
                // The artist's own songs, then songs sharing their genres, at random.
                guard let first = try await app.catalog.songs(query: nil, artist: nil, album: nil, artistId: id, limit: 1, offset: 0).songs.first else { throw SubsonicError.notFound("artist \(raw)") }
                ids = try await app.library.similar(song: first.id, limit: count)
            case .album(let id)?:
                guard let first = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: id, limit: 1, offset: 0).songs.first else { throw SubsonicError.notFound("album \(raw)") }
                ids = try await app.library.similar(song: first.id, limit: count)
            default: throw SubsonicError.notFound("item \(raw)")
            }
            let name = method == "getSimilarSongs" ? "similarSongs" : "similarSongs2"
            return .document(SNode(children: [(name, .one(SNode(children: [("song", .many(try await songNodes(try await app.catalog.songs(ids: ids), user: user)))])))]))
        case "getTopSongs":
            guard let artist = p["artist"] else { throw SubsonicError.missing("artist") }
            let count = try p.int("count", 1...500, fallback: 50)
            // From the library's own play counts (everyone's plays of this user's view: the user's).
            let songs = try await app.catalog.songs(query: nil, artist: artist, album: nil, exact: true, limit: 5_000, offset: 0).songs
            let marks = try await app.library.annotations(user: user.id, kind: .song, ids: songs.map(\.id))
            let top = songs.filter { (marks[$0.id]?.playCount ?? 0) > 0 }.sorted { (marks[$0.id]?.playCount ?? 0) > (marks[$1.id]?.playCount ?? 0) }.prefix(count)
            return .document(SNode(children: [("topSongs", .one(SNode(children: [("song", .many(try await songNodes(Array(top), user: user)))])))]))
        case "getArtistInfo", "getArtistInfo2":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            guard let id = Self.number(raw, prefix: "ar-"), try await app.catalog.artist(id: id) != nil else { throw SubsonicError.notFound("artist \(raw)") }
            // What the catalog knows (no outside lookups): artists sharing a genre.
            let count = try p.int("count", 0...100, fallback: 20)
            let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, artistId: id, limit: 500, offset: 0).songs
            var similar: [Int64] = []
            for genre in Set(songs.compactMap(\.genre)).sorted() where similar.count < count {
                similar += try await app.library.ids(kind: .artist, genre: genre, limit: count, offset: 0).ids.filter { $0 != id && !similar.contains($0) }
            }
            var n = SNode()
            n.add("biography", "")
            n.list("similarArtist", try await artistNodes(try await catalogArtists(Array(similar.prefix(count))), user: user))
            return .document(SNode(children: [(method == "getArtistInfo" ? "artistInfo" : "artistInfo2", .one(n))]))
        case "getAlbumInfo", "getAlbumInfo2":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            guard let id = Self.number(raw, prefix: "al-"), try await app.catalog.album(id: id) != nil else { throw SubsonicError.notFound("album \(raw)") }
            return .document(SNode(children: [("albumInfo", .one(SNode([("notes", .string(""))])))]))
        case "getLyricsBySongId":
            guard let raw = p["id"] else { throw SubsonicError.missing("id") }
            guard case .song(let id)? = SubsonicId(raw), let song = try await app.catalog.song(id: id) else { throw SubsonicError.notFound("song \(raw)") }
            let found = await Self.lyrics(song.path)
            let structured = found.map { l -> SNode in
                var n = SNode()
                n.add("displayArtist", song.artist)
                n.add("displayTitle", song.title)
                n.add("lang", "xxx")
                n.add("synced", l.synced)
                if l.offsetMs != 0 { n.add("offset", l.offsetMs) }
                n.list("line", l.lines.map { line in
                    var ln = SNode(text: line.text)
                    if let start = line.startMs { ln.attributes.append(("start", .int(start))) }
                    return ln
                })
                return n
            }
            return .document(SNode(children: [("lyricsList", .one(SNode(children: [("structuredLyrics", .many(structured))])))]))
        case "getLyrics":
            var node = SNode()
            if let artist = p["artist"], let title = p["title"],
               let song = try await app.catalog.songs(query: nil, title: title, artist: artist, album: nil, exact: true, limit: 1, offset: 0).songs.first,
               let first = await Self.lyrics(song.path).first {
                node.add("artist", song.artist)
                node.add("title", song.title)
                node.text = first.lines.map(\.text).joined(separator: "\n")
            }
            return .document(SNode(children: [("lyrics", .one(node))]))
        case "jukeboxControl":
            return .document(try await jukebox(p, user: user))
        case "getScanStatus":
            let count = try await app.catalog.counts().songs
            return .document(SNode(children: [("scanStatus", .one(SNode([("scanning", .bool(false)), ("count", .int(count))])))]))
        case "startScan":
            guard user.role == .admin else { throw SubsonicError(.notAuthorized, "only an admin starts a scan") }
            guard let scan = app.scan else { throw SubsonicError(.generic, "no catalog is configured") }
            let summary = try await scan()
            let count = summary.added + summary.updated + summary.unchanged
            return .document(SNode(children: [("scanStatus", .one(SNode([("scanning", .bool(false)), ("count", .int(count))])))]))
        default:
            if Self.notOffered.contains(method) { throw SubsonicError(.generic, "\(method) is not offered by Reprise") }
            throw SubsonicError(.notFound, "unknown method \(method)")
        }
    }

    /// A song's lyrics (`.lrc` beside it, then its tags), read off the cooperative pool.
    static func lyrics(_ path: String) async -> [SongLyrics] {
        await withCheckedContinuation { done in DispatchQueue.global().async { done.resume(returning: SongLyrics.read(songPath: path)) } }
    }

    static func number(_ raw: String, prefix: String) -> Int64? {
        Int64(raw.hasPrefix(prefix) ? String(raw.dropFirst(prefix.count)) : raw).flatMap { $0 > 0 ? $0 : nil }
    }

    static func songIds(_ raws: [String]) throws -> [Int64] {
        try raws.map { raw in
            guard case .song(let id)? = SubsonicId(raw) else { throw SubsonicError.notFound("song \(raw)") }
            return id
        }
    }

    static func iso(_ ms: Int64) -> String { ISO8601.utc(ms) }

    /// The last path component of a file path, and its extension lowercased.
    static func fileName(_ path: String) -> (name: Substring, suffix: String) {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (name, name[name.index(after: dot)...].lowercased())
    }

    // MARK: objects

    func songNodes(_ songs: [Song], user: User) async throws -> [SNode] {
        guard !songs.isEmpty else { return [] }
        let marks = try await app.library.annotations(user: user.id, kind: .song, ids: songs.map(\.id))
        let art = try await app.library.withArt(kind: .song, ids: songs.map(\.id))
        return songs.map { s in
            let file = Self.fileName(s.path)
            var n = SNode()
            n.add("id", String(s.id))
            n.add("parent", SubsonicId.album(s.albumId))
            n.add("isDir", false)
            n.add("title", s.title)
            n.add("album", s.album)
            n.add("artist", s.artist)
            n.add("track", s.track)
            n.add("year", s.year)
            n.add("genre", s.genre)
            if art.contains(s.id) { n.add("coverArt", String(s.id)) }
            n.add("size", s.size)
            n.add("contentType", s.mimeType)
            n.add("suffix", file.suffix)
            n.add("duration", Int(s.durationMs / 1000))
            n.add("bitRate", s.bitrate)
            n.add("path", "\(s.artist)/\(s.album)/\(file.name)")
            n.add("isVideo", false)
            n.add("discNumber", s.disc)
            n.add("created", Self.iso(s.mtimeMs))
            n.add("albumId", SubsonicId.album(s.albumId))
            n.add("artistId", SubsonicId.artist(s.artistId))
            n.add("type", "music")
            n.add("mediaType", "song")
            let m = marks[s.id] ?? Annotation()
            if let starred = m.starredAt { n.add("starred", Self.iso(starred)) }
            if m.rating > 0 { n.add("userRating", m.rating) }
            n.add("playCount", m.playCount)
            if let played = m.lastPlayedAt { n.add("played", Self.iso(played)) }
            n.add("channelCount", s.channels)
            n.add("samplingRate", s.sampleRate)
            n.list("genres", s.genre.map { [SNode([("name", .string($0))])] } ?? [])
            return n
        }
    }

    func albumNodes(_ albums: [AlbumInfo], user: User, directory: Bool = false) async throws -> [SNode] {
        guard !albums.isEmpty else { return [] }
        let marks = try await app.library.annotations(user: user.id, kind: .album, ids: albums.map(\.id))
        let art = try await app.library.withArt(kind: .album, ids: albums.map(\.id))
        return albums.map { a in
            var n = SNode()
            n.add("id", SubsonicId.album(a.id))
            if directory {
                n.add("parent", SubsonicId.artist(a.artistId))
                n.add("isDir", true)
                n.add("title", a.name)
                n.add("album", a.name)
            }
            n.add("name", a.name)
            n.add("artist", a.artist)
            n.add("artistId", SubsonicId.artist(a.artistId))
            if art.contains(a.id) { n.add("coverArt", SubsonicId.album(a.id)) }
            n.add("songCount", a.songCount)
            n.add("duration", Int(a.durationMs / 1000))
            n.add("year", a.year)
            let m = marks[a.id] ?? Annotation()
            if let starred = m.starredAt { n.add("starred", Self.iso(starred)) }
            if m.rating > 0 { n.add("userRating", m.rating) }
            n.add("playCount", m.playCount)
            if let played = m.lastPlayedAt { n.add("played", Self.iso(played)) }
            n.add("created", Self.iso(0))
            return n
        }
    }

    func artistNodes(_ artists: [ArtistInfo], user: User) async throws -> [SNode] {
        guard !artists.isEmpty else { return [] }
        let marks = try await app.library.annotations(user: user.id, kind: .artist, ids: artists.map(\.id))
        let art = try await app.library.withArt(kind: .artist, ids: artists.map(\.id))
        return artists.map { a in
            var n = SNode()
            n.add("id", SubsonicId.artist(a.id))
            n.add("name", a.name)
            if art.contains(a.id) { n.add("coverArt", SubsonicId.artist(a.id)) }
            n.add("albumCount", a.albumCount)
            let m = marks[a.id] ?? Annotation()
            if let starred = m.starredAt { n.add("starred", Self.iso(starred)) }
            if m.rating > 0 { n.add("userRating", m.rating) }
            return n
        }
    }

    static func playlistNode(_ l: Playlist) -> SNode {
        var n = SNode()
        n.add("id", String(l.id))
        n.add("name", l.name)
        n.add("comment", l.comment)
        n.add("owner", l.owner)
        n.add("public", l.isPublic)
        n.add("songCount", l.songCount)
        n.add("duration", Int(l.durationMs / 1000))
        n.add("created", iso(l.createdAt))
        n.add("changed", iso(l.updatedAt))
        return n
    }

    func userNode(_ u: User) -> SNode {
        let admin = u.role == .admin
        var n = SNode()
        n.add("username", u.name)
        n.add("scrobblingEnabled", true)
        for role in ["adminRole", "settingsRole", "uploadRole", "podcastRole", "shareRole", "videoConversionRole"] {
            n.add(role, role == "adminRole" || role == "settingsRole" ? admin : false)
        }
        for role in ["downloadRole", "playlistRole", "coverArtRole", "commentRole", "streamRole"] { n.add(role, true) }
        n.add("jukeboxRole", jukeboxPlayer(for: u) != nil)
        n.children.append(("folder", .values([.int(1)])))
        return n
    }

    func catalogAlbums(_ ids: [Int64]) async throws -> [AlbumInfo] { try await app.catalog.albums(ids: ids) }

    func catalogArtists(_ ids: [Int64]) async throws -> [ArtistInfo] { try await app.catalog.artists(ids: ids) }

    // MARK: browsing

    /// `getIndexes` and `getArtists`: artists grouped by their first letter.
    func indexes(id3: Bool, user: User) async throws -> SNode {
        let artists = try await app.catalog.artists(limit: 100_000, offset: 0, query: nil).artists
        let nodes = try await artistNodes(artists, user: user)
        var groups: [(String, [SNode])] = []
        for (a, n) in zip(artists, nodes) {
            let first = a.name.first.map { $0.isLetter ? String($0).uppercased().folding(options: .diacriticInsensitive, locale: nil) : "#" } ?? "#"
            if groups.last?.0 == first { groups[groups.count - 1].1.append(n) } else { groups.append((first, [n])) }
        }
        var merged: [String: [SNode]] = [:]
        var order: [String] = []
        for (k, v) in groups {
            if merged[k] == nil { order.append(k) }
            merged[k, default: []] += v
        }
        let index = order.sorted().map { SNode([("name", .string($0))], children: [("artist", .many(merged[$0] ?? []))]) }
        var node = SNode([("ignoredArticles", .string("The El La Los Las Le Les"))])
        if !id3 { node.add("lastModified", try await app.catalog.lastChanges().updated ?? 0) }
        node.list("index", index)
        return SNode(children: [(id3 ? "artists" : "indexes", .one(node))])
    }

    func artist(_ p: SubsonicParams, user: User) async throws -> SNode {
        guard let raw = p["id"] else { throw SubsonicError.missing("id") }
        guard let id = Self.number(raw, prefix: "ar-"), let a = try await app.catalog.artist(id: id) else { throw SubsonicError.notFound("artist \(raw)") }
        var node = try await artistNodes([a], user: user)[0]
        let albums = try await app.catalog.albums(limit: 10_000, offset: 0, query: nil, artistId: id).albums
        node.list("album", try await albumNodes(albums, user: user))
        return SNode(children: [("artist", .one(node))])
    }

    func album(_ p: SubsonicParams, user: User) async throws -> SNode {
        guard let raw = p["id"] else { throw SubsonicError.missing("id") }
        guard let id = Self.number(raw, prefix: "al-"), let a = try await app.catalog.album(id: id) else { throw SubsonicError.notFound("album \(raw)") }
        var node = try await albumNodes([a], user: user)[0]
        let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: id, limit: 10_000, offset: 0).songs
        node.list("song", try await songNodes(songs, user: user))
        return SNode(children: [("album", .one(node))])
    }

    /// `getMusicDirectory`: the folder lists artists, an artist its albums, an album its songs.
    func directory(_ p: SubsonicParams, user: User) async throws -> SNode {
        guard let raw = p["id"] else { throw SubsonicError.missing("id") }
        var node = SNode()
        switch raw == "1" ? .folder : SubsonicId(raw) {
        case .folder?:
            node.add("id", "1")
            node.add("name", "Music")
            let artists = try await app.catalog.artists(limit: 100_000, offset: 0, query: nil).artists
            node.list("child", try await artistNodes(artists, user: user).map { a in
                var n = a
                n.attributes = [("parent", .string("1")), ("isDir", .bool(true)), ("title", n.attributes.first { $0.0 == "name" }?.1 ?? .string(""))] + n.attributes
                return n
            })
        case .artist(let id)?:
            guard let a = try await app.catalog.artist(id: id) else { throw SubsonicError.notFound("artist \(raw)") }
            node.add("id", SubsonicId.artist(id))
            node.add("parent", "1")
            node.add("name", a.name)
            node.list("child", try await albumNodes(try await app.catalog.albums(limit: 10_000, offset: 0, query: nil, artistId: id).albums, user: user, directory: true))
        case .album(let id)?:
            guard let a = try await app.catalog.album(id: id) else { throw SubsonicError.notFound("album \(raw)") }
            node.add("id", SubsonicId.album(id))
            node.add("parent", SubsonicId.artist(a.artistId))
            node.add("name", a.name)
            node.list("child", try await songNodes(try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: id, limit: 10_000, offset: 0).songs, user: user))
        default:
            throw SubsonicError.notFound("directory \(raw)")
        }
        return SNode(children: [("directory", .one(node))])
    }

    /// `getAlbumList(2)`: every `type` of the API.
    func albumList(_ p: SubsonicParams, user: User) async throws -> [AlbumInfo] {
        guard let type = p["type"] else { throw SubsonicError.missing("type") }
        let size = try p.int("size", 1...500, fallback: 10), offset = try p.int("offset", 0...Int(Int32.max), fallback: 0)
        let ids: [Int64]
        switch type {
        case "random": ids = try await app.library.list(.random, kind: .album, user: user.id, limit: size, offset: 0).ids
        case "newest": ids = try await app.library.list(.newest, kind: .album, user: user.id, limit: size, offset: offset).ids
        case "frequent": ids = try await app.library.list(.frequent, kind: .album, user: user.id, limit: size, offset: offset).ids
        case "recent": ids = try await app.library.list(.recent, kind: .album, user: user.id, limit: size, offset: offset).ids
        case "starred": ids = try await app.library.list(.flagged, kind: .album, user: user.id, limit: size, offset: offset).ids
        case "highest": ids = try await app.library.list(.highest, kind: .album, user: user.id, limit: size, offset: offset).ids
        case "alphabeticalByName": ids = try await app.library.search("", kind: .album, limit: size, offset: offset).ids
        case "alphabeticalByArtist": return try await app.catalog.albums(limit: size, offset: offset, query: nil).albums
        case "byYear":
            guard let from = p["fromYear"].flatMap({ Int($0) }), let to = p["toYear"].flatMap({ Int($0) }), (0...9999).contains(from), (0...9999).contains(to) else {
                throw SubsonicError.missing("fromYear and toYear")
            }
            ids = try await app.library.ids(kind: .album, years: min(from, to)...max(from, to), limit: size, offset: offset).ids
        case "byGenre":
            guard let genre = p["genre"] else { throw SubsonicError.missing("genre") }
            ids = try await app.library.ids(kind: .album, genre: genre, limit: size, offset: offset).ids
        default:
            throw SubsonicError(.generic, "unknown album list type \(type)")
        }
        return try await catalogAlbums(ids)
    }

    /// `search2` and `search3`: artists, albums and songs, each paged; an empty query lists everything.
    func search(_ p: SubsonicParams, user: User, id3: Bool) async throws -> SNode {
        var query = p["query"] ?? ""
        // Some apps send the empty query as two quotes.
        if query == "\"\"" { query = "" }
        let artistCount = try p.int("artistCount", 0...500, fallback: 20), artistOffset = try p.int("artistOffset", 0...Int(Int32.max), fallback: 0)
        let albumCount = try p.int("albumCount", 0...500, fallback: 20), albumOffset = try p.int("albumOffset", 0...Int(Int32.max), fallback: 0)
        let songCount = try p.int("songCount", 0...500, fallback: 20), songOffset = try p.int("songOffset", 0...Int(Int32.max), fallback: 0)
        var node = SNode()
        let artists = artistCount == 0 ? [] : try await app.library.search(query, kind: .artist, limit: artistCount, offset: artistOffset).ids
        let albums = albumCount == 0 ? [] : try await app.library.search(query, kind: .album, limit: albumCount, offset: albumOffset).ids
        let songs = songCount == 0 ? [] : try await app.library.search(query, kind: .song, limit: songCount, offset: songOffset).ids
        node.list("artist", try await artistNodes(try await catalogArtists(artists), user: user))
        node.list("album", try await albumNodes(try await catalogAlbums(albums), user: user, directory: !id3))
        node.list("song", try await songNodes(try await app.catalog.songs(ids: songs), user: user))
        return SNode(children: [(id3 ? "searchResult3" : "searchResult2", .one(node))])
    }

    func playlist(_ p: SubsonicParams, user: User) async throws -> SNode {
        guard let raw = p["id"] else { throw SubsonicError.missing("id") }
        guard let id = Int64(raw), let list = try await app.library.playlist(id: id, viewer: user.id),
              let songs = try await app.library.playlistSongs(id: id, viewer: user.id) else { throw SubsonicError.notFound("playlist \(raw)") }
        var node = Self.playlistNode(list)
        node.list("entry", try await songNodes(songs, user: user))
        return SNode(children: [("playlist", .one(node))])
    }

    // MARK: jukebox

    /// The player `jukeboxControl` drives for `user`: the one `subsonic.jukebox` names, else the first, by name, the user owns.
    func jukeboxPlayer(for user: User) -> (any PlayerControl)? {
        if let name = jukeboxChoice[user.name] {
            guard let player = playback?.players[name], player.owner == user.name || user.role == .admin else { return nil }
            return player
        }
        return (playback?.players.values).map { Array($0) }?.filter { $0.owner == user.name }.sorted { $0.name < $1.name }.first
    }

    /// `jukeboxControl` on the user's supervised player: the supervisor does the work (player-token
    /// URLs, reconnects and restores, other MPD clients), so the jukebox keeps its guarantees.
    func jukebox(_ p: SubsonicParams, user: User) async throws -> SNode {
        guard let player = jukeboxPlayer(for: user) else { throw SubsonicError(.notAuthorized, "no jukebox player for \(user.name): configure playback.players (and subsonic.jukebox)") }
        guard let action = p["action"] else { throw SubsonicError.missing("action") }
        func status(withEntries: Bool) async throws -> SNode {
            let r = await player.report()
            var n = SNode()
            n.add("currentIndex", r.queue.isEmpty ? -1 : r.position)
            n.add("playing", r.state == "play")
            n.attributes.append(("gain", .double(Double(r.volume ?? 100) / 100)))
            n.add("position", Int(r.elapsedMs / 1000))
            if withEntries {
                let songs = Dictionary(try await app.catalog.songs(ids: r.queue.filter { $0 > 0 }).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                n.list("entry", try await songNodes(r.queue.compactMap { songs[$0] }, user: user))
            }
            return n
        }
        do {
            switch action {
            case "get": return SNode(children: [("jukeboxPlaylist", .one(try await status(withEntries: true)))])
            case "status": break
            case "start": try await player.command("play")
            case "stop": try await player.command("pause")
            case "skip":
                let index = try p.int("index", 0...Playlist.maxSongs, fallback: 0)
                let offset = try p.int("offset", 0...86_400, fallback: 0)
                try await player.jump(to: index, startMs: Int64(offset) * 1000)
            case "add", "set":
                let ids = try Self.songIds(p.all("id"))
                guard ids.count <= Playlist.maxSongs else { throw SubsonicError(.generic, "at most \(Playlist.maxSongs) songs at once") }
                // One batch, however many songs; `set` keeps the song playing when it stays.
                if action == "set" { try await player.replaceQueue(ids) } else if !ids.isEmpty { try await player.enqueue(ids, clear: false) }
            case "clear": try await player.clearQueue()
            case "setGain":
                guard let raw = p["gain"], let gain = Double(raw), gain.isFinite, (0...1).contains(gain) else { throw SubsonicError(.generic, "gain is 0.0 to 1.0") }
                try await player.setVolume(Int((gain * 100).rounded()))
            case "remove":
                guard p["index"] != nil else { throw SubsonicError.missing("index") }
                try await player.remove(at: try p.int("index", 0...Playlist.maxSongs, fallback: 0))
            case "shuffle":
                try await player.shuffleUpcoming()
            default:
                throw SubsonicError(.generic, "unknown jukebox action \(action)")
            }
        } catch let e as RepriseError where e.code == .unavailable {
            throw SubsonicError(.generic, e.message)
        }
        return SNode(children: [("jukeboxStatus", .one(try await status(withEntries: false)))])
    }

    // MARK: bytes

    /// The item and size of a getCoverArt request; error 70 for an id that names no item, 0 for a bad size.
    static func coverTarget(_ p: SubsonicParams) throws -> (kind: ItemKind, id: Int64, size: Int?) {
        guard let raw = p["id"] else { throw SubsonicError.missing("id") }
        var size: Int?
        if p["size"] != nil { size = try p.int("size", 16...2_048, fallback: 300) }
        switch SubsonicId(raw) {
        case .song(let n)?: return (.song, n, size)
        case .album(let n)?: return (.album, n, size)
        case .artist(let n)?: return (.artist, n, size)
        default: throw SubsonicError.notFound("cover art \(raw)")
        }
    }

    func coverArt(_ p: SubsonicParams, request: Request) async throws -> SubsonicOutcome {
        let target = try Self.coverTarget(p)
        guard let art = app.art, let image = try await art.image(kind: target.kind, id: target.id, size: target.size) else { throw SubsonicError.notFound("cover art \(p["id"] ?? "")") }
        return .response(image.response(to: request))
    }

    /// getCoverArt answered from memory (credentials accepted lately, a cover held in memory); nil
    /// sends the request the full way, which answers everything else (errors included) as usual.
    func fastCover(_ query: Substring, header: (String) -> String?) -> FastAnswers.Answer? {
        let p = SubsonicParams(query: query)
        guard auth.cachedCaller(p) != nil, let target = try? Self.coverTarget(p),
              let image = app.art?.cachedImage(kind: target.kind, id: target.id, size: target.size) else { return nil }
        let cache = ("Cache-Control", "private, max-age=86400")
        if image.isNamed(byIfNoneMatch: header("if-none-match")) { return FastAnswers.Answer(status: 304, headers: [("ETag", image.quotedETag), cache], body: []) }
        return FastAnswers.Answer(status: 200, headers: [("Content-Type", image.mime), ("ETag", image.quotedETag), cache], body: image.bytes)
    }

    /// `stream` and `download`: the file as it is (no transcoding yet: `maxBitRate`, `format`,
    /// `timeOffset` and `estimateContentLength` are accepted and ignored), with Range, through the
    /// stream endpoint and the token policy (credential kind `subsonic`). Never counts a play.
    func stream(_ p: SubsonicParams, caller: SubsonicCaller, request: Request, context: RepriseContext) async throws -> Response {
        guard let raw = p["id"] else { throw SubsonicError.missing("id") }
        guard case .song(let id)? = SubsonicId(raw) else { throw SubsonicError.notFound("song \(raw)") }
        guard try await app.catalog.song(id: id) != nil else { throw SubsonicError.notFound("song \(raw)") }
        let endpoint = StreamEndpoint(app: app)
        let (credential, song) = try await endpoint.countingRefusals {
            try await endpoint.authorize(user: caller.user, kind: .subsonic, label: "subsonic:\(caller.client)", request: request, context: context, songId: id)
        }
        guard let song else { throw SubsonicError.notFound("song \(raw)") }
        return try await endpoint.serve(song, request: request, context: context, credential: credential)
    }
}
