import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RepriseCore
import RepriseStorage

/// The listener's library on the native API: playlists, stars, ratings, plays, lists, search, genres, art.
func libraryRoutes(_ app: AppServices) -> RouteModule {
    RouteModule.build { on in
        on("/api/v1/playlists", .get) { _, context in
            let user = try context.requireUser()
            return try json(.ok, PlaylistList(playlists: try await app.library.playlists(viewer: user.id)))
        }
        on("/api/v1/playlists", .post) { request, context in
            let user = try context.requireUser()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("name")
            let p = try await app.library.createPlaylist(
                owner: user.id, name: try body.string("name")!, comment: try body.string("comment") ?? "", isPublic: try body.bool("public") ?? false,
                songs: try body.intArray("songs") ?? [])
            return try json(.created, p)
        }
        on("/api/v1/playlists/:id", .get) { request, context in
            let user = try context.requireUser()
            let id = try pathId(context, "playlist")
            guard let p = try await app.library.playlist(id: id, viewer: user.id), let songs = try await app.library.playlistSongs(id: id, viewer: user.id) else {
                throw APIError(.notFound, code: .notFound, "no playlist \(id)")
            }
            return try json(.ok, PlaylistDetail(playlist: p, songs: songs.map(SongView.init)))
        }
        on("/api/v1/playlists/:id", .patch) { request, context in
            let user = try context.requireUser()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            let p = try await app.library.editPlaylist(
                id: try pathId(context, "playlist"), owner: user.id, name: try body.string("name"), comment: try body.string("comment"), isPublic: try body.bool("public"))
            return try json(.ok, p)
        }
        on("/api/v1/playlists/:id", .delete) { _, context in
            let user = try context.requireUser()
            try await app.library.deletePlaylist(id: try pathId(context, "playlist"), owner: user.id)
            return Response(status: .noContent)
        }
        on("/api/v1/playlists/:id/songs", .post) { request, context in
            let user = try context.requireUser()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("songs")
            let at = try body.int("position").map { try position($0) }
            let p = try await app.library.addToPlaylist(id: try pathId(context, "playlist"), owner: user.id, songs: try body.intArray("songs") ?? [], at: at)
            return try json(.ok, p)
        }
        on("/api/v1/playlists/:id/songs/:position", .delete) { _, context in
            let user = try context.requireUser()
            guard let raw = context.parameters.get("position", as: Int64.self) else { throw APIError(.badRequest, code: .badRequest, "positions are integers from 0") }
            let p = try await app.library.removeFromPlaylist(id: try pathId(context, "playlist"), owner: user.id, positions: [try position(raw)])
            return try json(.ok, p)
        }
        on("/api/v1/playlists/:id/move", .post) { request, context in
            let user = try context.requireUser()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("from", "to")
            let p = try await app.library.moveInPlaylist(
                id: try pathId(context, "playlist"), owner: user.id, from: try position(try body.int("from")!), to: try position(try body.int("to")!))
            return try json(.ok, p)
        }
        for format in ["m3u", "xspf"] {
            on("/api/v1/playlists/:id/\(format)", .get) { request, context in
                let id = try pathId(context, "playlist")
                let (user, token) = try await exportToken(app, request: request, context: context)
                guard let p = try await app.library.playlist(id: id, viewer: user.id), let songs = try await app.library.playlistSongs(id: id, viewer: user.id) else {
                    throw APIError(.notFound, code: .notFound, "no playlist \(id)")
                }
                return format == "m3u" ? m3u(app, songs, token: token, name: p.name) : xspf(app, songs, token: token, name: p.name)
            }
        }

        on("/api/v1/stars/:kind", .get) { request, context in
            let user = try context.requireUser()
            let (limit, offset) = try paging(request, defaultLimit: 500)
            let page = try await app.library.list(.flagged, kind: try itemKind(context), user: user.id, limit: limit, offset: offset)
            return try json(.ok, IdPage(total: page.total, limit: limit, offset: offset, ids: page.ids))
        }
        on("/api/v1/stars/:kind/:id", .put) { _, context in
            let user = try context.requireUser()
            try await app.library.star(user: user.id, kind: try itemKind(context), ids: [try pathId(context, "item")], on: true)
            return Response(status: .noContent)
        }
        on("/api/v1/stars/:kind/:id", .delete) { _, context in
            let user = try context.requireUser()
            try await app.library.star(user: user.id, kind: try itemKind(context), ids: [try pathId(context, "item")], on: false)
            return Response(status: .noContent)
        }
        on("/api/v1/ratings/:kind/:id", .put) { request, context in
            let user = try context.requireUser()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("rating")
            let rating = try body.int("rating")!
            guard (0...5).contains(rating) else { throw APIError(.badRequest, code: .badField, "'rating' is 0 (none) to 5") }
            try await app.library.rate(user: user.id, kind: try itemKind(context), id: try pathId(context, "item"), rating: Int(rating))
            return Response(status: .noContent)
        }
        on("/api/v1/annotations/:kind", .get) { request, context in
            let user = try context.requireUser()
            let ids = try idList(request.uri.queryParameters.get("ids"))
            let marks = try await app.library.annotations(user: user.id, kind: try itemKind(context), ids: ids)
            return try json(.ok, AnnotationList(items: ids.map { AnnotationView(id: $0, marks: marks[$0] ?? Annotation()) }))
        }
        on("/api/v1/plays", .post) { request, context in
            let user = try context.requireUser()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("song")
            let song = try body.int("song")!
            let now = app.clock.nowMs()
            let at = try body.int("at") ?? now
            guard at <= now + 60_000, at >= 0 else { throw APIError(.badRequest, code: .badField, "'at' is epoch ms, not in the future") }
            let client = StoredText.bounded(try body.string("client"), max: StoredText.maxClient)
            if try body.bool("now_playing") == true {
                guard try await app.catalog.song(id: song) != nil else { throw APIError(.notFound, code: .notFound, "no song \(song)") }
                app.nowPlaying.announce(NowPlaying(userId: user.id, user: user.name, songId: song, player: client ?? "api", since: now))
                return Response(status: .noContent)
            }
            let counted = try await app.library.recordPlay(user: user.id, song: song, at: at, source: .client, client: client, windowMs: AppServices.playWindowMs)
            return try json(.ok, PlayAnswer(counted: counted))
        }
        on("/api/v1/now-playing", .get) { _, context in
            _ = try context.requireUser()
            return try json(.ok, NowPlayingList(entries: try await nowPlaying(app)))
        }
        on("/api/v1/lists/:list", .get) { request, context in
            let user = try context.requireUser()
            guard let list = context.parameters.get("list").flatMap(LibraryList.init(rawValue:)) else {
                throw APIError(.notFound, code: .notFound, "lists are \(LibraryList.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let kind = try queryKind(request)
            let (limit, offset) = try paging(request)
            let page = try await app.library.list(list, kind: kind, user: user.id, limit: limit, offset: offset)
            return try json(.ok, IdPage(total: page.total, limit: limit, offset: offset, ids: page.ids))
        }
        on("/api/v1/search", .get) { request, context in
            _ = try context.requireUser()
            let q = request.uri.queryParameters.get("q") ?? ""
            let (limit, offset) = try paging(request)
            let kind = try queryKind(request)
            let page = try await app.library.search(q, kind: kind, limit: limit, offset: offset)
            switch kind {
            case .song: return try json(.ok, SongPage(total: page.total, limit: limit, offset: offset, songs: try await app.catalog.songs(ids: page.ids).map(SongView.init)))
            case .album: return try json(.ok, AlbumPage(total: page.total, limit: limit, offset: offset, albums: try await albums(app, page.ids)))
            case .artist: return try json(.ok, ArtistPage(total: page.total, limit: limit, offset: offset, artists: try await artists(app, page.ids)))
            }
        }
        on("/api/v1/genres", .get) { _, context in
            _ = try context.requireUser()
            return try json(.ok, GenreList(genres: try await app.library.genres()))
        }
        on("/api/v1/genres/:id/songs", .get) { request, context in
            _ = try context.requireUser()
            let id = try pathId(context, "genre")
            guard let genre = try await app.library.genre(id: id) else { throw APIError(.notFound, code: .notFound, "no genre \(id)") }
            let (limit, offset) = try paging(request)
            let page = try await app.library.ids(kind: .song, genre: genre.name, limit: limit, offset: offset)
            return try json(.ok, SongPage(total: page.total, limit: limit, offset: offset, songs: try await app.catalog.songs(ids: page.ids).map(SongView.init)))
        }
        // Players and clients load covers from URLs: a stream token (`token=`) authorizes them, since art
        // shows nothing its streams do not; a session or API key does too.
        on("/art/:kind/:id", .get) { request, context in
            if context.identity == nil {
                let refused = APIError(.unauthorized, code: .invalidToken, "cover art needs a stream token (token=) or a session")
                guard let raw = request.uri.queryParameters.get("token"), let secret = Secret.presented(raw), secret.kind == .streamToken else { throw refused }
                // Memory answers for a token in use (as on the stream path); the store otherwise.
                switch app.tokens.authenticateCached(secret) {
                case .valid: break
                case .invalid: throw refused
                case .unknown: guard try await app.tokens.authenticate(secret) != nil else { throw refused }
                }
            }
            return try await artResponse(app, request: request, kind: try itemKind(context), id: try pathId(context, "item"))
        }
        on("/api/v1/art/:kind/:id", .get) { request, context in
            _ = try context.requireUser()
            return try await artResponse(app, request: request, kind: try itemKind(context), id: try pathId(context, "item"))
        }
    }
}

extension AppServices {
    /// Plays of the same song by the same user within this many ms count once (a client that scrobbles twice).
    public static let playWindowMs: Int64 = 30_000
}

/// Who plays what now: clients' announcements, then streams in progress.
public func nowPlaying(_ app: AppServices) async throws -> [NowPlaying] {
    let users = Dictionary(try await app.users.list().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
    return app.nowPlaying.list(now: app.clock.nowMs(), streams: app.ledger.active()) { users[$0] }
}

/// The answer to an art request: the picture (ETag, cacheable, 304 on a match) or a JSON 404.
public func artResponse(_ app: AppServices, request: Request, kind: ItemKind, id: Int64) async throws -> Response {
    var size: Int?
    if let raw = request.uri.queryParameters.get("size") {
        guard let v = Int(raw), (16...2_048).contains(v) else { throw APIError(.badRequest, code: .badField, "size is 16 to 2048 pixels") }
        size = v
    }
    guard let art = app.art, let image = try await art.image(kind: kind, id: id, size: size) else {
        throw APIError(.notFound, code: .notFound, "no art for \(kind.rawValue) \(id)")
    }
    return image.response(to: request)
}

extension ArtImage {
    /// The quoted ETag of the picture.
    public var quotedETag: String { "\"\(etag)\"" }

    /// Whether an `If-None-Match` value names this picture (or `*`).
    public func isNamed(byIfNoneMatch value: String?) -> Bool {
        let etag = quotedETag
        return value?.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == etag || $0 == "*" } ?? false
    }

    /// The picture as an answer to `request`: 304 when it names the ETag, else the bytes; private, a day.
    ///
    /// ```swift
    /// return image.response(to: request)
    /// ```
    public func response(to request: Request) -> Response {
        var headers: HTTPFields = [.eTag: quotedETag, .cacheControl: "private, max-age=86400"]
        if isNamed(byIfNoneMatch: request.headers[.ifNoneMatch]) { return Response(status: .notModified, headers: headers) }
        headers[.contentType] = mime
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

func pathId(_ context: RepriseContext, _ what: String) throws -> Int64 {
    guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError(.badRequest, code: .badRequest, "\(what) ids are integers") }
    return id
}

func itemKind(_ context: RepriseContext) throws -> ItemKind {
    guard let kind = context.parameters.get("kind").flatMap(ItemKind.init(rawValue:)) else {
        throw APIError(.notFound, code: .notFound, "kinds are song, album and artist")
    }
    return kind
}

func queryKind(_ request: Request) throws -> ItemKind {
    guard let raw = request.uri.queryParameters.get("kind") else { return .song }
    guard let kind = ItemKind(rawValue: raw) else { throw APIError(.badRequest, code: .badField, "kind is song, album or artist") }
    return kind
}

/// A 0-based position from a request, range-checked before it meets `Int`.
func position(_ raw: Int64) throws -> Int {
    guard (0...Int64(Playlist.maxSongs)).contains(raw) else { throw APIError(.badRequest, code: .badField, "positions are 0 to \(Playlist.maxSongs)") }
    return Int(raw)
}

func idList(_ raw: String?) throws -> [Int64] {
    guard let raw, !raw.isEmpty else { throw APIError(.badRequest, code: .missingFields, "missing query parameter: ids") }
    let ids = try raw.split(separator: ",").map { part in
        guard let id = Int64(part.trimmingCharacters(in: .whitespaces)) else { throw APIError(.badRequest, code: .badRequest, "ids must be comma-separated integers") }
        return id
    }
    guard ids.count <= 1_000 else { throw APIError(.badRequest, code: .badRequest, "at most 1000 ids") }
    return ids
}

func albums(_ app: AppServices, _ ids: [Int64]) async throws -> [AlbumInfo] { try await app.catalog.albums(ids: ids) }

func artists(_ app: AppServices, _ ids: [Int64]) async throws -> [ArtistInfo] { try await app.catalog.artists(ids: ids) }

struct PlaylistList: Encodable { let playlists: [Playlist] }
struct PlaylistDetail: Encodable { let playlist: Playlist, songs: [SongView] }
struct IdPage: Encodable { let total: Int, limit: Int, offset: Int, ids: [Int64] }
struct GenreList: Encodable { let genres: [Genre] }
struct PlayAnswer: Encodable { let counted: Bool }
struct NowPlayingList: Encodable { let entries: [NowPlaying] }
struct AnnotationView: Encodable { let id: Int64, marks: Annotation }
struct AnnotationList: Encodable { let items: [AnnotationView] }
