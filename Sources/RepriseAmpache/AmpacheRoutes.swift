import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseStorage
import RepriseSync

/// Registers the Ampache API (`/server/json.server.php`, `/server/xml.server.php`), its play URLs
/// (`/play/index.php`, query and path forms) and `POST /api/v1/tokens/rotate`.
/// `localplay` maps a user name to the player `localplay` drives for that user (`ampache.localplay`).
public func ampacheRoutes(_ app: AppServices, playback: (any PlayerDirectory)? = nil, localplay: [String: String] = [:]) -> RouteModule {
    let api = AmpacheAPI(app: app, playback: playback, localplay: localplay)
    return RouteModule.build { on in
        for (path, format) in [("/server/json.server.php", AmpacheAPI.Format.json), ("/server/xml.server.php", .xml)] {
            on(path, .get) { request, context in try await api.handle(request, context: context, format: format) }
            on(path, .post) { request, context in try await api.handle(request, context: context, format: format) }
        }
        for path in ["/play/index.php", "/play/index.php/**"] {
            on(path, .get) { request, context in try await api.play(request, context: context) }
            on(path, .head) { request, context in try await api.play(request, context: context) }
        }
        on("/api/v1/tokens/rotate", .post) { request, context in try await api.rotate(request, context: context) }
    }
}

/// The plaintext of each user's current `ampache` stream token, kept in memory only.
///
/// Tokens are stored hashed, so the plaintext exists only when minted; after a restart a new
/// one is minted and older ones stay valid for players that still hold their URLs.
final class AmpacheStreamTokens: Sendable {
    static let label = "ampache"
    /// The least time a token handed out has left, when its lifetime allows.
    static let minimumLeftMs: Int64 = 86_400_000
    private let current = Locked<[Int64: String]>([:])

    /// The user's usable `ampache` token, minting one under the token policy when there is none, or
    /// when it has less than a day left (or, for a shorter lifetime, less than half of it): a client
    /// handed a token keeps using it for a while.
    func token(for user: User, app: AppServices) async throws -> String {
        if let plain = current.withLock({ $0[user.id] }), let secret = Secret.presented(plain),
           let t = try await app.tokens.authenticate(secret), t.user.id == user.id, t.token.label == Self.label {
            guard let expires = t.token.expiresAt else { return plain }
            let left = expires - app.clock.nowMs(), lifetime = expires - t.token.createdAt
            if left >= min(Self.minimumLeftMs, lifetime / 2) { return plain }
        }
        let (secret, _) = try await app.tokens.issue(user: user, label: Self.label, requestedTTLSeconds: nil, policy: app.tokenPolicy)
        remember(secret.plaintext, userId: user.id)
        return secret.plaintext
    }

    /// Makes `plain` the user's current token (after a rotation).
    func remember(_ plain: String, userId: Int64) {
        current.withLock { $0[userId] = plain }
    }
}

/// Who an Ampache call is made as.
enum Caller: Sendable {
    case session(AuthenticatedSession, Secret)
    case apiKey(User)

    var user: User {
        switch self {
        case .session(let s, _): s.user
        case .apiKey(let u): u
        }
    }
}

/// The Ampache actions over Reprise's stores.
struct AmpacheAPI: Sendable {
    /// The response format chosen by the endpoint.
    enum Format: Sendable { case json, xml }

    /// What an action answers: a document, or a redirect to a play URL.
    enum Outcome: Sendable {
        case document(AmpacheDocument)
        case redirect(String)
        /// Bytes that are not a document (`get_art`).
        case response(Response)
    }

    static let apiVersion = "6.6.0"
    static let compatible = "350001"
    /// The most objects one list response carries.
    static let maxLimit = 5000
    /// How far a password handshake's timestamp may be from server time, seconds.
    static let timestampWindow: Int64 = 1800

    let app: AppServices
    let apiKeys: any ApiKeyRepository
    let streamTokens = AmpacheStreamTokens()
    /// The supervised players `localplay` drives; nil when none are configured.
    let playback: (any PlayerDirectory)?
    /// User name -> the player `localplay` drives for that user; others get their first owned player.
    let localplayChoice: [String: String]

    init(app: AppServices, playback: (any PlayerDirectory)? = nil, localplay: [String: String] = [:]) {
        self.app = app
        self.apiKeys = app.apiKeys
        self.playback = playback
        self.localplayChoice = localplay
    }

    /// Answers one call to the JSON or XML server.
    func handle(_ request: Request, context: RepriseContext, format: Format) async throws -> Response {
        let params = try await Params.read(request, limit: app.maxBodyBytes)
        let action = params["action"] ?? ""
        let outcome: Outcome
        do {
            outcome = try await dispatch(action, params, request: request, context: context)
        } catch let e as AmpacheError {
            outcome = .document(.error(e))
        } catch let e as RepriseError {
            outcome = .document(.error(Self.map(e, action: action)))
        } catch let e as APIError {
            outcome = .document(.error(AmpacheError(e.status.code == 403 ? .accessControl : .badRequest, action: action, type: "system", e.message)))
        } catch {
            // Storage failures and the unexpected: logged with a request id, answered in Ampache's envelope.
            let e = APIError.unexpected(error, request: request, logger: context.logger)
            outcome = .document(.error(AmpacheError(.badRequest, action: action, type: "system", "\(e.code): \(e.message)")))
        }
        switch outcome {
        case .redirect(let url):
            return Response(status: .found, headers: [.location: url, .cacheControl: "no-store"])
        case .response(let response):
            return response
        case .document(let doc):
            let (type, text) = format == .json ? ("application/json; charset=utf-8", doc.json()) : ("text/xml; charset=utf-8", doc.xml())
            return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    /// Maps a store error onto the nearest Ampache code.
    static func map(_ e: RepriseError, action: String) -> AmpacheError {
        switch e.code {
        case .forbidden: AmpacheError(.accessControl, action: action, type: "system", e.message)
        case .notFound: AmpacheError(.notFound, action: action, type: "system", e.message)
        case .badRequest: AmpacheError(.badRequest, action: action, type: "system", e.message)
        default: AmpacheError(.badRequest, action: action, type: "system", "the request failed: \(e.message)")
        }
    }

    func dispatch(_ action: String, _ p: Params, request: Request, context: RepriseContext) async throws -> Outcome {
        switch action {
        case "":
            throw AmpacheError.missing("", "action")
        case "handshake":
            return .document(try await handshake(p, request: request, context: context))
        case "ping":
            return .document(try await ping(p, request: request, context: context))
        default:
            break
        }
        let caller = try await authenticate(action, p, request: request, context: context)
        switch action {
        case "goodbye":
            if case .session(_, let secret) = caller { try await app.sessions.logout(secret) }
            return .document(.fields([("success", .text("goodbye"))]))
        case "songs":
            let (limit, offset) = try paging(action, p)
            // Ampache's `songs` filter matches the title only; `search_songs` looks at artist and album too.
            let page = try await app.catalog.songs(query: nil, title: p["filter"], artist: nil, album: nil, exact: p.flag("exact"), limit: limit, offset: offset)
            return .document(.list("song", total: page.total, try await songRecords(page.songs, caller.user)))
        case "search_songs":
            guard let filter = p["filter"] else { throw AmpacheError.missing(action, "filter") }
            let (limit, offset) = try paging(action, p)
            // Folds case and accents (`cafe` finds `Café`), each word a prefix, over title, artist, album and album artist.
            let page = try await app.library.search(filter, kind: .song, limit: limit, offset: offset)
            return .document(.list("song", total: page.total, try await songRecords(try await app.catalog.songs(ids: page.ids), caller.user)))
        case "song":
            let song = try await song(action, id: try id(action, p))
            return .document(.single("song", try await songRecords([song], caller.user)[0]))
        case "url_to_song":
            guard let url = p["url"] ?? p["filter"] else { throw AmpacheError.missing(action, "url") }
            guard let oid = Self.playParams(url)["oid"], let songId = Int64(oid) else {
                throw AmpacheError.bad(action, "url", "the url carries no song id (oid)")
            }
            let song = try await song(action, id: songId)
            return .document(.single("song", try await songRecords([song], caller.user)[0]))
        case "artists":
            let (limit, offset) = try paging(action, p)
            let (total, artists) = try await artists(p["filter"], exact: p.flag("exact"), limit: limit, offset: offset)
            return .document(.list("artist", total: total, try await artistRecords(artists, caller.user)))
        case "artist":
            let artistId = try id(action, p)
            guard let artist = try await app.catalog.artist(id: artistId) else { throw AmpacheError(.notFound, action: action, type: "filter", "no artist \(artistId)") }
            return .document(.single("artist", try await artistRecords([artist], caller.user)[0]))
        case "artist_songs":
            let artistId = try id(action, p)
            guard try await app.catalog.artist(id: artistId) != nil else { throw AmpacheError(.notFound, action: action, type: "filter", "no artist \(artistId)") }
            let (limit, offset) = try paging(action, p)
            let page = try await app.catalog.songs(query: nil, artist: nil, album: nil, artistId: artistId, limit: limit, offset: offset)
            return .document(.list("song", total: page.total, try await songRecords(page.songs, caller.user)))
        case "albums":
            let (limit, offset) = try paging(action, p)
            let (total, albums) = try await albums(p["filter"], exact: p.flag("exact"), limit: limit, offset: offset)
            return .document(.list("album", total: total, try await albumRecords(albums, caller.user)))
        case "album":
            let albumId = try id(action, p)
            guard let album = try await app.catalog.album(id: albumId) else { throw AmpacheError(.notFound, action: action, type: "filter", "no album \(albumId)") }
            return .document(.single("album", try await albumRecords([album], caller.user)[0]))
        case "album_songs":
            let albumId = try id(action, p)
            guard try await app.catalog.album(id: albumId) != nil else { throw AmpacheError(.notFound, action: action, type: "filter", "no album \(albumId)") }
            let (limit, offset) = try paging(action, p)
            let page = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: albumId, limit: limit, offset: offset)
            return .document(.list("song", total: page.total, try await songRecords(page.songs, caller.user)))
        case "get_indexes":
            return .document(try await indexes(action, p))
        case "stream", "download":
            if let type = p["type"], type != "song" { throw AmpacheError.bad(action, "type", "only type=song can be streamed") }
            // API 6 names the song `id`; older clients send `filter`.
            guard let raw = p["id"] ?? p["filter"] else { throw AmpacheError.missing(action, "id") }
            guard let songId = Int64(raw) else { throw AmpacheError.bad(action, "id", "id must be a song id") }
            let song = try await song(action, id: songId)
            if let format = p["format"], format != "raw", format != song.format {
                throw AmpacheError.bad(action, "format", "Reprise streams files as they are (format=raw or \(song.format)); it does not transcode")
            }
            return .redirect(playURL(song, token: try await streamTokens.token(for: caller.user, app: app), userId: caller.user.id))
        case "localplay":
            return .document(try await localplay(action, p, user: caller.user))
        case "localplay_songs":
            let player = try localPlayer(action, user: caller.user)
            let report = await player.report()
            let songs = try await app.catalog.songs(ids: report.queue)
            let byId = Dictionary(songs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let records: [ARecord] = report.queue.enumerated().map { i, id in
                let s = byId[id]
                return ARecord(id: String(id), fields: [
                    ("name", .text(s?.title ?? "")), ("artist", .text(s?.artist ?? "")), ("album", .text(s?.album ?? "")),
                    ("track", .int(i + 1)), ("time", .number((s?.durationMs ?? 0) / 1000)), ("current", .int(i == report.position ? 1 : 0)),
                ])
            }
            return .document(.list("localplay_songs", total: records.count, records))
        default:
            if let outcome = try await library(action, p, caller: caller, request: request) { return outcome }
            throw AmpacheError(.badRequest, action: action, type: "action", "unknown or unsupported action '\(action)'")
        }
    }

    // MARK: auth

    /// Verifies a handshake (password digest, API key, or its legacy digest) and opens an `api` session.
    func handshake(_ p: Params, request: Request, context: RepriseContext) async throws -> AmpacheDocument {
        let action = "handshake"
        guard let auth = p["auth"] ?? context.bearer else { throw AmpacheError.missing(action, "auth") }
        let denied = AmpacheError(.invalidHandshake, action: action, type: "account", "invalid handshake: unknown user, wrong key or wrong password")
        let keys = LoginThrottle.keys(user: p["user"], address: context.remoteAddress)
        let now = app.clock.nowMs()
        if let wait = app.loginThrottle.refusal(keys: keys, now: now) {
            throw AmpacheError(.accessDenied, action: action, type: "account", "too many failed handshakes; try again in \(max(1, (wait + 999) / 1000)) s")
        }
        if let name = p["user"] { _ = try StoredText.credential(name, field: "user", max: StoredText.maxName) }
        var user: User?
        if let name = p["user"] {
            if let u = try await apiKeys.user(name: name, legacyAuth: auth) {
                user = u
            } else if let u = try await apiKeys.user(forKey: auth), u.name == name {
                user = u
            } else if let ts = p["timestamp"] {
                guard let t = Int64(ts) else { throw AmpacheError.bad(action, "timestamp", "timestamp must be UNIX seconds") }
                if let (u, digest) = try await apiKeys.passwordDigest(name: name), SHA256Hex.constantTimeEquals(SHA256Hex.of(ts + digest), auth.lowercased()) {
                    guard EpochMs.distance(app.clock.nowMs() / 1000, t) <= Self.timestampWindow else {
                        throw AmpacheError(.invalidHandshake, action: action, type: "timestamp", "the timestamp is more than \(Self.timestampWindow) s from server time")
                    }
                    user = u.disabled ? nil : u
                }
            }
        } else if let u = try await apiKeys.user(forKey: auth) {
            user = u
        } else {
            // Ampache's own behaviour: the legacy digest without `user` is tried against every user's key.
            user = try await apiKeys.user(legacyAuth: auth)
        }
        guard let user else {
            app.loginThrottle.failed(keys: keys, now: now)
            throw denied
        }
        if p["user"] != nil { app.loginThrottle.succeeded(keys: [keys[0]]) }
        let (secret, info) = try await app.sessions.create(
            user: user, kind: .api, client: StoredText.bounded(p["client"], max: StoredText.maxClient),
            agent: StoredText.bounded(request.headers[.userAgent], max: StoredText.maxAgent), ip: context.remoteAddress)
        return .fields(try await sessionFields(user, auth: secret.plaintext, expiresAt: info.expiresAt))
    }

    /// Public: server versions; with a valid `auth` it also extends the session and adds the handshake fields.
    func ping(_ p: Params, request: Request, context: RepriseContext) async throws -> AmpacheDocument {
        var fields: [(String, AValue)] = [("server", .text(Self.apiVersion)), ("version", .text(Self.apiVersion)), ("compatible", .text(Self.compatible))]
        if p["auth"] != nil || context.bearer != nil, let caller = try? await authenticate("ping", p, request: request, context: context) {
            switch caller {
            case .session(let s, let secret):
                fields = [("session_expire", .text(Self.iso(s.expiresAt)))] + fields + (try await sessionFields(s.user, auth: secret.plaintext, expiresAt: nil))
            case .apiKey(let u):
                fields += try await sessionFields(u, auth: nil, expiresAt: nil)
            }
        }
        return .fields(fields)
    }

    /// Resolves `auth` (or a bearer, which `IdentityMiddleware` already resolved) to an `rs_` session or an `ak_` API key.
    func authenticate(_ action: String, _ p: Params, request: Request, context: RepriseContext) async throws -> Caller {
        if p["auth"] == nil, let identity = context.identity {
            switch identity {
            case .session(let s, let secret): return .session(s, secret)
            case .apiKey(let user): return .apiKey(user)
            }
        }
        guard let raw = p["auth"] ?? context.bearer else { throw AmpacheError.missing(action, "auth") }
        if raw.hasPrefix(ApiKeyFormat.prefix) {
            guard let user = try await apiKeys.user(forKey: raw) else { throw AmpacheError(.accessDenied, action: action, type: "account", "unknown API key") }
            return .apiKey(user)
        }
        guard let secret = Secret.presented(raw) else {
            throw AmpacheError(.accessDenied, action: action, type: "account", "session expired or unknown; handshake again")
        }
        guard secret.kind == .session else {
            throw AmpacheError(.accessControl, action: action, type: "account", "a stream token authorizes streaming only, not API calls")
        }
        guard let s = try await app.sessions.authenticate(secret) else {
            throw AmpacheError(.accessDenied, action: action, type: "account", "session expired or unknown; handshake again")
        }
        return .session(s, secret)
    }

    /// The handshake fields: session, versions, catalog dates and counts, user and stream token.
    func sessionFields(_ user: User, auth: String?, expiresAt: Int64?) async throws -> [(String, AValue)] {
        let counts = try await app.catalog.counts()
        let library = try await app.library.counts()
        let changes = try await app.catalog.lastChanges()
        let users = try await app.users.count()
        let token = try await streamTokens.token(for: user, app: app)
        var fields: [(String, AValue)] = []
        if let auth { fields.append(("auth", .text(auth))) }
        fields.append(("api", .text(Self.apiVersion)))
        if let expiresAt { fields.append(("session_expire", .text(Self.iso(expiresAt)))) }
        let updated = Self.iso(changes.updated ?? 0)
        fields += [
            ("update", .text(updated)), ("add", .text(Self.iso(changes.added ?? 0))), ("clean", .text(updated)),
            ("songs", .int(counts.songs)), ("albums", .int(counts.albums)), ("artists", .int(counts.artists)),
            ("genres", .int(library.genres)), ("playlists", .int(library.playlists)), ("searches", .int(0)), ("playlists_searches", .int(library.playlists)),
            ("users", .int(users)), ("catalogs", .int(1)), ("videos", .int(0)), ("podcasts", .int(0)),
            ("podcast_episodes", .int(0)), ("shares", .int(0)), ("licenses", .int(0)), ("live_streams", .int(0)),
            ("labels", .int(0)), ("username", .text(user.name)), ("streamtoken", .text(token)),
        ]
        return fields
    }

    // MARK: library

    func paging(_ action: String, _ p: Params) throws -> (Int, Int) {
        var limit = Self.maxLimit, offset = 0
        if let l = p["limit"] {
            guard let v = Int(l), v >= 0 else { throw AmpacheError.bad(action, "limit", "limit must be a non-negative integer") }
            if v > 0 { limit = min(v, Self.maxLimit) }
        }
        if let o = p["offset"] {
            guard let v = Int(o), v >= 0 else { throw AmpacheError.bad(action, "offset", "offset must be a non-negative integer") }
            offset = v
        }
        return (limit, offset)
    }

    func id(_ action: String, _ p: Params) throws -> Int64 {
        guard let raw = p["filter"] else { throw AmpacheError.missing(action, "filter") }
        guard let id = Int64(raw) else { throw AmpacheError.bad(action, "filter", "filter must be an object id") }
        return id
    }

    func song(_ action: String, id: Int64) async throws -> Song {
        guard let song = try await app.catalog.song(id: id) else { throw AmpacheError(.notFound, action: action, type: "filter", "no song \(id)") }
        return song
    }

    func artists(_ filter: String?, exact: Bool, limit: Int, offset: Int) async throws -> (Int, [ArtistInfo]) {
        guard exact, let filter else { return try await app.catalog.artists(limit: limit, offset: offset, query: filter) }
        let all = try await app.catalog.artists(limit: 100_000, offset: 0, query: filter).artists.filter { $0.name == filter }
        return (all.count, Array(all.dropFirst(offset).prefix(limit)))
    }

    func albums(_ filter: String?, exact: Bool, limit: Int, offset: Int) async throws -> (Int, [AlbumInfo]) {
        guard exact, let filter else { return try await app.catalog.albums(limit: limit, offset: offset, query: filter) }
        let all = try await app.catalog.albums(limit: 100_000, offset: 0, query: filter).albums.filter { $0.name == filter }
        return (all.count, Array(all.dropFirst(offset).prefix(limit)))
    }

    /// `get_indexes`: ids and names of songs, albums or artists.
    func indexes(_ action: String, _ p: Params) async throws -> AmpacheDocument {
        guard let type = p["type"] else { throw AmpacheError.missing(action, "type") }
        let (limit, offset) = try paging(action, p)
        switch type {
        case "song":
            // Ampache's `songs` filter matches the title only; `search_songs` looks at artist and album too.
            let page = try await app.catalog.songs(query: nil, title: p["filter"], artist: nil, album: nil, exact: p.flag("exact"), limit: limit, offset: offset)
            return .list("song", total: page.total, page.songs.map { s in
                ARecord(id: String(s.id), fields: [("title", .text(s.title)), ("name", .text(s.title)), ("artist", .ref(id: String(s.artistId), name: s.artist)), ("album", .ref(id: String(s.albumId), name: s.album))])
            })
        case "album":
            let (total, albums) = try await albums(p["filter"], exact: p.flag("exact"), limit: limit, offset: offset)
            return .list("album", total: total, albums.map { a in ARecord(id: String(a.id), fields: [("name", .text(a.name)), ("artist", .ref(id: String(a.artistId), name: a.artist))]) })
        case "artist":
            let (total, artists) = try await artists(p["filter"], exact: p.flag("exact"), limit: limit, offset: offset)
            return .list("artist", total: total, artists.map { a in ARecord(id: String(a.id), fields: [("name", .text(a.name))]) })
        default:
            throw AmpacheError.bad(action, "type", "type must be song, album or artist")
        }
    }

    /// The URL of an item's cover, authorized by the user's stream token (art reveals nothing a stream does not).
    func artURL(_ kind: ItemKind, _ id: Int64, token: String) -> String {
        "\(app.publicURL)/art/\(kind.rawValue)/\(id)?token=\(token)"
    }

    /// The user's marks and art presence of items, for their records.
    func marks(_ kind: ItemKind, _ ids: [Int64], _ user: User) async throws -> (marks: [Int64: Annotation], art: Set<Int64>) {
        (try await app.library.annotations(user: user.id, kind: kind, ids: ids), try await app.library.withArt(kind: kind, ids: ids))
    }

    /// The art, flag, rating and play count fields every song, album and artist object carries.
    func markFields(_ kind: ItemKind, _ id: Int64, _ m: (marks: [Int64: Annotation], art: Set<Int64>), token: String) -> [(String, AValue)] {
        let a = m.marks[id] ?? Annotation()
        let has = m.art.contains(id)
        return [
            ("art", .text(has ? artURL(kind, id, token: token) : "")), ("has_art", .bool(has)), ("flag", .bool(a.starredAt != nil)),
            ("rating", .int(a.rating)), ("averagerating", .int(a.rating)), ("playcount", .int(a.playCount)),
        ]
    }

    /// Genres as Ampache's objects (`[{"id", "name"}]`), by name.
    func genreRefs(_ names: [String?], byName: [String: Int64]) -> AValue {
        .list(names.compactMap { $0 }.filter { !$0.isEmpty }.map { .ref(id: String(byName[$0.lowercased()] ?? 0), name: $0) })
    }

    func genreIds() async throws -> [String: Int64] {
        Dictionary(try await app.library.genres().map { ($0.name.lowercased(), $0.id) }, uniquingKeysWith: { a, _ in a })
    }

    func songRecords(_ songs: [Song], _ user: User) async throws -> [ARecord] {
        guard !songs.isEmpty else { return [] }
        let token = try await streamTokens.token(for: user, app: app)
        let m = try await marks(.song, songs.map(\.id), user)
        let genres = try await genreIds()
        return songs.map { s in
            // Numbers the documentation has are never null: absent ones are left out.
            var fields: [(String, AValue)] = [
                ("title", .text(s.title)), ("name", .text(s.title)),
                ("artist", .ref(id: String(s.artistId), name: s.artist)),
                ("album", .ref(id: String(s.albumId), name: s.album)),
            ]
            if let aa = s.albumArtist { fields.append(("albumartist", .ref(id: "", name: aa))) }
            if let disc = s.disc { fields.append(("disk", .int(disc))) }
            if let track = s.track { fields.append(("track", .int(track))) }
            if let year = s.year { fields.append(("year", .int(year))) }
            fields += [
                ("genre", genreRefs([s.genre], byName: genres)),
                ("time", .number(s.durationMs / 1000)), ("bitrate", .int(s.bitrate)), ("rate", .int(s.sampleRate)),
                ("channels", .int(s.channels)),
                ("mime", .text(s.mimeType)), ("format", .text(s.format)),
                ("stream_mime", .text(s.mimeType)), ("stream_format", .text(s.format)),
                ("size", .number(s.size)),
                ("url", .text(playURL(s, token: token, userId: user.id))),
            ]
            return ARecord(id: String(s.id), fields: fields + markFields(.song, s.id, m, token: token))
        }
    }

    func artistRecords(_ artists: [ArtistInfo], _ user: User) async throws -> [ARecord] {
        guard !artists.isEmpty else { return [] }
        let token = try await streamTokens.token(for: user, app: app)
        let m = try await marks(.artist, artists.map(\.id), user)
        return artists.map { a in
            ARecord(id: String(a.id), fields: [("name", .text(a.name)), ("albumcount", .int(a.albumCount)), ("songcount", .int(a.songCount)), ("genre", .list([]))]
                + markFields(.artist, a.id, m, token: token))
        }
    }

    func albumRecords(_ albums: [AlbumInfo], _ user: User) async throws -> [ARecord] {
        guard !albums.isEmpty else { return [] }
        let token = try await streamTokens.token(for: user, app: app)
        let m = try await marks(.album, albums.map(\.id), user)
        let genres = try await genreIds()
        var out: [ARecord] = []
        for a in albums {
            let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: a.id, limit: 500, offset: 0).songs
            var fields: [(String, AValue)] = [
                ("name", .text(a.name)), ("artist", .ref(id: String(a.artistId), name: a.artist)),
                ("time", .number(a.durationMs / 1000)),
            ]
            if let year = a.year { fields.append(("year", .int(year))) }
            fields += [
                ("songcount", .int(a.songCount)), ("diskcount", .int(max(1, Set(songs.map { $0.disc ?? 1 }).count))),
                ("genre", genreRefs(Array(Set(songs.map(\.genre))).sorted { ($0 ?? "") < ($1 ?? "") }, byName: genres)),
            ]
            out.append(ARecord(id: String(a.id), fields: fields + markFields(.album, a.id, m, token: token)))
        }
        return out
    }

    /// The play URL of a song; it carries the user's stream token, never the API session.
    func playURL(_ s: Song, token: String, userId: Int64) -> String {
        let name = "\(s.artist) - \(s.title).\(s.format)".addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? "song.\(s.format)"
        return "\(app.publicURL)/play/index.php?ssid=\(token)&type=song&oid=\(s.id)&uid=\(userId)&player=api&name=\(name)"
    }

    /// The parameters of a play URL, from its query string or its `/key/value` path form.
    static func playParams(_ url: String) -> [String: String] {
        var out: [String: String] = [:]
        let pathPart = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        if let r = pathPart.range(of: "/play/index.php/") {
            let parts = pathPart[r.upperBound...].split(separator: "/")
            var i = 0
            while i + 1 < parts.count {
                out[String(parts[i])] = String(parts[i + 1]).removingPercentEncoding ?? String(parts[i + 1])
                i += 2
            }
        }
        if let q = url.split(separator: "?", maxSplits: 1).dropFirst().first {
            for (k, v) in Params.form(String(q)) { out[k] = v }
        }
        return out
    }

    static func iso(_ ms: Int64) -> String { ISO8601.utc(ms) }

    // MARK: play

    /// Serves `/play/index.php`: the stream token in `ssid` (sessions refused), the policy, then the stream endpoint.
    func play(_ request: Request, context: RepriseContext) async throws -> Response {
        var params: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { params[String(k)] = String(v) }
        for (k, v) in Self.playParams(request.uri.path) where params[k] == nil { params[k] = v }
        if let type = params["type"], type != "song" { throw APIError(.badRequest, code: .badRequest, "only type=song is served") }
        let endpoint = StreamEndpoint(app: app)
        let (credential, song) = try await endpoint.countingRefusals {
            guard let ssid = params["ssid"] else { throw APIError(.unauthorized, code: .unauthorized, "a stream token (ssid) is required") }
            guard let secret = Secret.presented(ssid), secret.kind == .streamToken else {
                throw APIError(.unauthorized, code: .invalidToken, "ssid must be a stream token; API sessions are refused on play URLs")
            }
            return try await endpoint.authorize(token: secret, request: request, context: context, songId: params["oid"].flatMap { Int64($0) })
        }
        guard let song else { throw APIError(.notFound, code: .notFound, "no such song (oid)") }
        return try await endpoint.serve(song, request: request, context: context, credential: credential)
    }

    // MARK: native rotation

    /// `POST /api/v1/tokens/rotate {"label"}`: revokes the caller's tokens with that label and mints one.
    func rotate(_ request: Request, context: RepriseContext) async throws -> Response {
        let s = try context.requireSession()
        var request = request
        let body = try await request.collectBody(upTo: app.maxBodyBytes)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        guard let label = object?["label"] as? String, !label.isEmpty else {
            throw APIError(.badRequest, code: .missingFields, "missing field: label")
        }
        let (secret, info, revoked) = try await app.tokens.rotate(user: s.user, label: label, policy: app.tokenPolicy)
        if info.label == AmpacheStreamTokens.label { streamTokens.remember(secret.plaintext, userId: s.user.id) }
        return try json(.created, Rotated(id: info.id, token: secret.plaintext, label: info.label, expiresAt: info.expiresAt, revoked: revoked))
    }
}

/// The answer of a rotation: the new token, shown once, and how many were revoked.
struct Rotated: Encodable {
    let id: Int64, token: String, label: String, expiresAt: Int64?, revoked: Int
}

extension CharacterSet {
    /// Characters left unescaped in a query value.
    static let urlQueryValueAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()
}

extension AmpacheAPI {
    /// The player `localplay` drives for `user`: the one `ampache.localplay` names, else the first, by name, that the user owns.
    func localPlayer(_ action: String, user: User) throws -> any PlayerControl {
        if let name = localplayChoice[user.name] {
            guard let player = playback?.players[name], player.owner == user.name || user.role == .admin else {
                throw AmpacheError(.accessDenied, action: action, type: "system", "player '\(name)' is not available to this user")
            }
            return player
        }
        let owned = (playback?.players.values).map { Array($0) }?.filter { $0.owner == user.name }.sorted { $0.name < $1.name }
        guard let player = owned?.first else {
            throw AmpacheError(.badRequest, action: action, type: "system", "no player configured for this user")
        }
        return player
    }

    /// Maps Ampache's localplay commands onto the user's supervised player.
    func localplay(_ action: String, _ p: Params, user: User) async throws -> AmpacheDocument {
        let player = try localPlayer(action, user: user)
        guard let command = p["command"] else { throw AmpacheError.missing(action, "command") }
        func done() -> AmpacheDocument { .fields([("localplay", .object([("command", .object([(command, .bool(true))]))]))]) }
        do {
            switch command {
            case "next": try await player.command("next")
            case "prev": try await player.command("previous")
            case "play", "pause", "stop": try await player.command(command)
            case "add":
                if let type = p["type"], type != "song" { throw AmpacheError.bad(action, "type", "only type=song can be added") }
                // The API documents `oid`; PyPI's client sends the id as `filter`.
                guard let oid = p["oid"] ?? p["filter"], let id = Int64(oid) else { throw AmpacheError.missing(action, "oid") }
                try await player.enqueue([id], clear: p.flag("clear"))
            case "volume_up", "volume_down":
                let v = await player.report().volume ?? 50
                try await player.setVolume(max(0, min(100, v + (command == "volume_up" ? 10 : -10))))
            case "volume_mute": try await player.setVolume(0)
            case "delete_all": try await player.clearQueue()
            case "skip":
                guard let track = p["track"].flatMap(Int.init), track >= 1 else { throw AmpacheError.missing(action, "track") }
                try await player.jump(to: track - 1)
            case "status":
                let r = await player.report()
                let current = r.queue.indices.contains(r.position) ? try await app.catalog.song(id: r.queue[r.position]) : nil
                let status: [(String, AValue)] = [
                    ("state", .text(r.state)), ("volume", .opt(r.volume)), ("repeat", .int(0)), ("random", .int(0)),
                    ("track", .int(r.position + 1)), ("track_title", .opt(current?.title)), ("track_artist", .opt(current?.artist)),
                    ("track_album", .opt(current?.album)), ("connected", .bool(r.connected)),
                ]
                return .fields([("localplay", .object([("command", .object([("status", .object(status))]))]))])
            default:
                throw AmpacheError.bad(action, "command", "unknown localplay command '\(command)'")
            }
        } catch let e as RepriseError where e.code == .unavailable {
            throw AmpacheError(.badRequest, action: action, type: "system", e.message)
        }
        return done()
    }
}
