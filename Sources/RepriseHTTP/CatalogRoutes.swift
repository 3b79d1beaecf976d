import Foundation
import HTTPTypes
import Hummingbird

import NIOCore
import RepriseCore
import RepriseStorage
import RepriseSync

/// Browse, playlists, scan and stream-accounting routes.
func catalogRoutes(_ app: AppServices) -> RouteModule {
        RouteModule.build { on in
        on("/api/v1/songs", .get) { request, context in
            _ = try context.requireUser()
            let q = request.uri.queryParameters
            let (limit, offset) = try paging(request)
            let page = try await app.catalog.songs(
                query: q.get("q"), artist: q.get("artist"), album: q.get("album"), albumId: try idParameter(request, "album_id"),
                artistId: try idParameter(request, "artist_id"), genre: q.get("genre"), years: try yearsParameter(request), limit: limit, offset: offset)
            return try json(.ok, SongPage(total: page.total, limit: limit, offset: offset, songs: page.songs.map(SongView.init)))
        }
        on("/api/v1/songs/:id", .get) { request, context in
            _ = try context.requireUser()
            guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError(.badRequest, code: .badRequest, "song ids are integers") }
            guard let song = try await app.catalog.song(id: id) else { throw APIError(.notFound, code: .notFound, "no song \(id)") }
            return try json(.ok, SongView(song))
        }
        on("/api/v1/artists", .get) { request, context in
            _ = try context.requireUser()
            let (limit, offset) = try paging(request, defaultLimit: 500)
            let page = try await app.catalog.artists(limit: limit, offset: offset, query: request.uri.queryParameters.get("q"))
            return try json(.ok, ArtistPage(total: page.total, limit: limit, offset: offset, artists: page.artists))
        }
        on("/api/v1/albums", .get) { request, context in
            _ = try context.requireUser()
            let (limit, offset) = try paging(request, defaultLimit: 500)
            let q = request.uri.queryParameters
            // By genre or year: the albums with songs of that genre or in those years.
            if q.get("genre") != nil || q.get("year") != nil {
                let page = if let genre = q.get("genre") {
                    try await app.library.ids(kind: .album, genre: genre, limit: limit, offset: offset)
                } else {
                    try await app.library.ids(kind: .album, years: try yearsParameter(request) ?? 0...0, limit: limit, offset: offset)
                }
                return try json(.ok, AlbumPage(total: page.total, limit: limit, offset: offset, albums: try await albums(app, page.ids)))
            }
            let page = try await app.catalog.albums(limit: limit, offset: offset, query: q.get("q"), artistId: try idParameter(request, "artist_id"))
            return try json(.ok, AlbumPage(total: page.total, limit: limit, offset: offset, albums: page.albums))
        }
        on("/api/v1/albums/:id/songs", .get) { request, context in
            _ = try context.requireUser()
            guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError(.badRequest, code: .badRequest, "album ids are integers") }
            let page = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: id, limit: 10_000, offset: 0)
            guard page.total > 0 else { throw APIError(.notFound, code: .notFound, "no album \(id)") }
            return try json(.ok, SongPage(total: page.total, limit: 10_000, offset: 0, songs: page.songs.map(SongView.init)))
        }
        on("/api/v1/playlists/adhoc.m3u", .get) { request, context in
            let (songs, token) = try await playlist(app, request: request, context: context)
            return m3u(app, songs, token: token, name: nil)
        }
        on("/api/v1/playlists/adhoc.xspf", .get) { request, context in
            let (songs, token) = try await playlist(app, request: request, context: context)
            return xspf(app, songs, token: token, name: nil)
        }
        on("/api/v1/admin/scan", .post) { request, context in
            _ = try context.requireAdmin()
            guard let scan = app.scan else { throw APIError(.serviceUnavailable, code: .unavailable, "no catalog is configured") }
            return try json(.ok, try await scan())
        }
        on("/api/v1/admin/streams", .get) { request, context in
            _ = try context.requireAdmin()
            return try json(.ok, StreamsView(active: app.ledger.active(), recent: Array(app.ledger.recent().suffix(100).reversed())))
        }
    }
}

/// An id query parameter; 400 when it is not an integer.
func idParameter(_ request: Request, _ name: String) throws -> Int64? {
    guard let raw = request.uri.queryParameters.get(name) else { return nil }
    guard let id = Int64(raw) else { throw APIError(.badRequest, code: .badField, "\(name) is an integer id") }
    return id
}

/// `year=1971` or `year=1990-1999`; 400 for anything else.
func yearsParameter(_ request: Request) throws -> ClosedRange<Int>? {
    guard let raw = request.uri.queryParameters.get("year") else { return nil }
    let parts = raw.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard let from = parts.first ?? nil, (0...9999).contains(from) else { throw APIError(.badRequest, code: .badField, "year is YYYY or YYYY-YYYY") }
    let to = parts.count == 2 ? parts[1] : from
    guard let to, (from...9999).contains(to) else { throw APIError(.badRequest, code: .badField, "year is YYYY or YYYY-YYYY") }
    return from...to
}

/// Reads `limit` and `offset`; 400 when they are not sane integers.
func paging(_ request: Request, defaultLimit: Int = 50) throws -> (Int, Int) {
    let q = request.uri.queryParameters
    var limit = defaultLimit, offset = 0
    if let l = q.get("limit") {
        guard let v = Int(l), (1...1000).contains(v) else { throw APIError(.badRequest, code: .badRequest, "limit must be 1 to 1000") }
        limit = v
    }
    if let o = q.get("offset") {
        guard let v = Int(o), v >= 0 else { throw APIError(.badRequest, code: .badRequest, "offset must be a non-negative integer") }
        offset = v
    }
    return (limit, offset)
}

/// The songs and the token for an ad-hoc playlist (`ids=`).
func playlist(_ app: AppServices, request: Request, context: RepriseContext) async throws -> ([Song], String) {
    let q = request.uri.queryParameters
    guard let raw = q.get("ids"), !raw.isEmpty else { throw APIError(.badRequest, code: .missingFields, "missing query parameter: ids") }
    var ids: [Int64] = []
    for part in raw.split(separator: ",") {
        guard let id = Int64(part.trimmingCharacters(in: .whitespaces)) else { throw APIError(.badRequest, code: .badRequest, "ids must be comma-separated integers") }
        ids.append(id)
    }
    guard ids.count <= 5_000 else { throw APIError(.badRequest, code: .badRequest, "at most 5000 ids") }
    let (_, token) = try await exportToken(app, request: request, context: context)
    let songs = try await app.catalog.songs(ids: ids)
    guard songs.count == ids.count else {
        let missing = Set(ids).subtracting(songs.map(\.id)).sorted()
        throw APIError(.notFound, code: .notFound, "no song \(missing.map(String.init).joined(separator: ", "))")
    }
    return (songs, token)
}

/// Who asks for a playlist export and the stream token its URLs carry.
///
/// `token=` (a stream token of the caller's, or alone: a player opening the export directly) is used as
/// is; otherwise the session's `playlist` token, minted once per session and reused while it works.
func exportToken(_ app: AppServices, request: Request, context: RepriseContext) async throws -> (User, String) {
    let q = request.uri.queryParameters
    if q.get("token_id") != nil {
        throw APIError(.badRequest, code: .badRequest, "token secrets are stored hashed and cannot be shown again: pass token=<your token>, or omit it to use your session's 'playlist' token")
    }
    if let given = q.get("token") {
        guard let secret = Secret.presented(given), secret.kind == .streamToken, let t = try await app.tokens.authenticate(secret) else {
            throw APIError(.unauthorized, code: .invalidToken, "token= must be a usable stream token")
        }
        if let user = context.identity?.user, user.id != t.user.id { throw APIError(.badRequest, code: .badRequest, "token= must be a stream token of yours") }
        return (t.user, secret.plaintext)
    }
    let s = try context.requireSession()
    if let kept = app.playlistTokens.get(session: s.sessionId), let t = try await app.tokens.authenticate(kept), t.user.id == s.user.id {
        return (s.user, kept.plaintext)
    }
    let (secret, _) = try await app.tokens.issue(user: s.user, label: "playlist", requestedTTLSeconds: nil, policy: app.tokenPolicy)
    app.playlistTokens.set(session: s.sessionId, secret)
    return (s.user, secret.plaintext)
}

/// The `playlist` token of each session, kept in memory so exports reuse it instead of minting one per request.
public final class PlaylistTokens: Sendable {
    private let bySession = Locked<[Int64: Secret]>([:])
    public init() {}
    func get(session: Int64) -> Secret? { bySession.withLock { $0[session] } }
    func set(session: Int64, _ secret: Secret) {
        bySession.withLock { map in
            if map.count >= 10_000 { map.removeAll() }
            map[session] = secret
        }
    }
}

/// An M3U playlist of `songs` streamed with `token`.
func m3u(_ app: AppServices, _ songs: [Song], token: String, name: String?) -> Response {
    var text = "#EXTM3U\n" + (name.map { "#PLAYLIST:\(StoredText.singleLine($0))\n" } ?? "")
    for s in songs {
        // Tag text is one line: a newline in a tag must not add an entry.
        text += "#EXTINF:\(s.durationMs / 1000),\(StoredText.singleLine(s.artist)) - \(StoredText.singleLine(s.title))\n\(app.publicURL)/stream/\(s.id)?token=\(token)\n"
    }
    return Response(status: .ok, headers: [.contentType: "audio/x-mpegurl; charset=utf-8", .contentDisposition: "inline; filename=\"reprise.m3u\""], body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// An XSPF playlist of `songs` streamed with `token`.
func xspf(_ app: AppServices, _ songs: [Song], token: String, name: String?) -> Response {
    var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n" + (name.map { "  <title>\(StoredText.xmlEscaped($0))</title>\n" } ?? "") + "  <trackList>\n"
    for s in songs {
        xml += "    <track><location>\(StoredText.xmlEscaped("\(app.publicURL)/stream/\(s.id)?token=\(token)"))</location><title>\(StoredText.xmlEscaped(s.title))</title><creator>\(StoredText.xmlEscaped(s.artist))</creator><album>\(StoredText.xmlEscaped(s.album))</album><duration>\(s.durationMs)</duration></track>\n"
    }
    xml += "  </trackList>\n</playlist>\n"
    return Response(status: .ok, headers: [.contentType: "application/xspf+xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: xml)))
}

struct SongView: Encodable {
    let id: Int64, title: String, artist: String, artistId: Int64, album: String, albumId: Int64, albumArtist: String?
    let track: Int?, disc: Int?, year: Int?, genre: String?, durationMs: Int64, bitrate: Int, sampleRate: Int, channels: Int
    let format: String, mime: String, size: Int64
    /// What the scan found wrong with the file (`truncated: ...`).
    let problem: String?
    init(_ s: Song) {
        problem = s.problem
        (id, title, artist, artistId, album, albumId, albumArtist) = (s.id, s.title, s.artist, s.artistId, s.album, s.albumId, s.albumArtist)
        (track, disc, year, genre, durationMs, bitrate, sampleRate, channels) = (s.track, s.disc, s.year, s.genre, s.durationMs, s.bitrate, s.sampleRate, s.channels)
        (format, mime, size) = (s.format, s.mimeType, s.size)
    }
}
struct SongPage: Encodable { let total: Int, limit: Int, offset: Int, songs: [SongView] }
struct ArtistPage: Encodable { let total: Int, limit: Int, offset: Int, artists: [ArtistInfo] }
struct AlbumPage: Encodable { let total: Int, limit: Int, offset: Int, albums: [AlbumInfo] }
struct StreamsView: Encodable { let active: [StreamRecord], recent: [StreamRecord] }
