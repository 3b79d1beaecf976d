import Foundation
import HTTPTypes
import Hummingbird
import RepriseCore
import RepriseHTTP
import RepriseStorage

/// The web UI's pages and forms.
struct WebUI: Sendable {
    let app: AppServices
    let assets: WebAssets
    let playback: (any PlayerDirectory)?
    let admin: WebAdmin
    let setup: SetupCode

    /// Whether cookies get `Secure` (the public URL is https).
    var secure: Bool { app.publicURL.lowercased().hasPrefix("https://") }

    // MARK: plumbing

    /// The signed-in user's session and secret; anonymous requests are sent to `/login`.
    func me(_ context: RepriseContext) throws -> (AuthenticatedSession, Secret) {
        guard context.webSession, case .session(let s, let secret)? = context.identity else { throw WebError(.unauthorized, "log in") }
        return (s, secret)
    }

    func requireAdmin(_ context: RepriseContext) throws -> (AuthenticatedSession, Secret) {
        let (s, secret) = try me(context)
        guard s.user.role == .admin else { throw WebError(.forbidden, code: .forbidden, "this page is for administrators") }
        return (s, secret)
    }

    /// The data every page's layout reads.
    func base(_ context: RepriseContext) -> [String: Any] {
        guard context.webSession, case .session(let s, let secret)? = context.identity else { return [:] }
        return ["me": s.user.name, "admin": s.user.role == .admin, "csrf": WebCookie.csrf(for: secret)]
    }

    func page(_ template: String, _ context: RepriseContext, _ data: [String: Any] = [:], status: HTTPResponse.Status = .ok) -> Response {
        WebHeaders.page(status, assets.render(template, base(context).merging(data) { _, new in new }))
    }

    /// A form posted before a session exists (login, setup), with its nonce in a field and a cookie.
    func openForm(_ template: String, _ request: Request, _ context: RepriseContext, _ data: [String: Any] = [:], status: HTTPResponse.Status = .ok) -> Response {
        let nonce = WebCookie.loginNonce(request) ?? WebCookie.newLoginNonce()
        var response = page(template, context, data.merging(["login_nonce": nonce]) { _, new in new }, status: status)
        response.headers.append(HTTPField(name: .setCookie, value: WebCookie.setLogin(nonce, secure: secure)))
        return response
    }

    func errorPage(_ e: WebError, context: RepriseContext) -> Response {
        let heading = switch e.status.code {
        case 403: "Not allowed"
        case 404: "Not found"
        case 400: "That did not work"
        case 429: "Too many attempts"
        case 503: "Unavailable"
        default: "Something went wrong"
        }
        return page("error", context, ["status": e.status.code, "heading": heading, "code": e.code.rawValue, "message": e.message], status: e.status)
    }

    static func form(_ request: Request, limit: Int) async throws -> WebForm {
        var request = request
        return WebForm(String(buffer: try await request.collectBody(upTo: limit)))
    }

    func int64(_ context: RepriseContext, _ name: String) throws -> Int64 {
        guard let raw = context.parameters.get(name), let n = Int64(raw), n > 0 else { throw WebError(.notFound, "no such item") }
        return n
    }

    /// Where to go after login: a local path only.
    static func safeNext(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), !raw.hasPrefix("/login") else { return "/" }
        return raw
    }

    // MARK: routes

    func register(_ on: RouteAdder) {
        on("/static/:file", .get) { request, context in
            guard let name = context.parameters.get("file"), let f = assets.files[name] else { throw WebError(.notFound, "no such file") }
            if request.headers[.ifNoneMatch] == "\"\(f.etag)\"" { return Response(status: .notModified, headers: [.eTag: "\"\(f.etag)\""]) }
            return Response(status: .ok, headers: [.contentType: f.type, .eTag: "\"\(f.etag)\"", .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"], body: .init(byteBuffer: ByteBuffer(bytes: f.bytes)))
        }
        on("/covers/:kind/:id", .get) { request, context in try await cover(request, context) }
        on("/login", .get) { request, context in
            if try await app.users.count() == 0 { return WebHeaders.redirect("/setup") }
            if context.webSession { return WebHeaders.redirect(Self.safeNext(request.uri.queryParameters.get("next"))) }
            return openForm("login", request, context, ["next": Self.safeNext(request.uri.queryParameters.get("next"))])
        }
        on("/login", .post) { request, context in try await login(request, context) }
        on("/logout", .post) { request, context in
            let (_, secret) = try me(context)
            try await app.sessions.logout(secret)
            return WebHeaders.redirect("/login", extra: [.setCookie: WebCookie.clear(secure: secure)])
        }
        on("/setup", .get) { request, context in
            guard try await app.users.count() == 0 else { return WebHeaders.redirect("/login") }
            return openForm("setup", request, context)
        }
        on("/setup", .post) { request, context in try await firstAdmin(request, context) }
        on("/", .get) { request, context in try await home(context) }
        on("/library", .get) { request, context in try await library(request, context) }
        on("/albums/:id", .get) { request, context in try await album(context) }
        on("/artists/:id", .get) { request, context in try await artist(context) }
        on("/playlists", .get) { request, context in try await playlists(context) }
        on("/playlists", .post) { request, context in
            let (s, _) = try me(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let name = form.text("name") else { throw WebError(.badRequest, "a playlist needs a name") }
            let p = try await app.library.createPlaylist(owner: s.user.id, name: String(name.prefix(200)), comment: "", isPublic: form["public"] == "1", songs: [])
            return WebHeaders.redirect("/playlists/\(p.id)")
        }
        on("/playlists/add", .post) { request, context in
            let (s, _) = try me(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let list = form.text("playlist_id").flatMap({ Int64($0) }), let album = form.text("album_id").flatMap({ Int64($0) }) else {
                throw WebError(.badRequest, "choose a playlist and an album")
            }
            let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: album, limit: 2_000, offset: 0).songs.map(\.id)
            guard !songs.isEmpty else { throw WebError(.notFound, "no album \(album)") }
            _ = try await app.library.addToPlaylist(id: list, owner: s.user.id, songs: songs, at: nil)
            return WebHeaders.redirect("/playlists/\(list)")
        }
        on("/playlists/:id", .get) { request, context in try await playlist(context) }
        on("/playlists/:id/remove", .post) { request, context in
            let (s, _) = try me(context)
            let id = try int64(context, "id")
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let position = try form.int("position", 0...Playlist.maxSongs) else { throw WebError(.badRequest, "which entry? (position)") }
            _ = try await app.library.removeFromPlaylist(id: id, owner: s.user.id, positions: [position])
            return WebHeaders.redirect("/playlists/\(id)")
        }
        on("/playlists/:id/delete", .post) { request, context in
            let (s, _) = try me(context)
            try await app.library.deletePlaylist(id: try int64(context, "id"), owner: s.user.id)
            return WebHeaders.redirect("/playlists")
        }
        on("/tokens", .get) { request, context in try await tokens(context, reveal: nil) }
        on("/tokens", .post) { request, context in
            let (s, _) = try me(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let label = form.text("label") else { throw WebError(.badRequest, "a token needs a label") }
            guard !label.hasPrefix(StreamCredential.playerLabelPrefix) else { throw WebError(.badRequest, "labels starting with \(StreamCredential.playerLabelPrefix) are the players' own") }
            let days = try form.int("days", 1...3650)
            let (secret, info) = try await app.tokens.issue(user: s.user, label: String(label.prefix(200)), requestedTTLSeconds: days.map { Int64($0) * 86_400 }, policy: app.tokenPolicy)
            return try await tokens(context, reveal: ("Stream token \(info.label)", secret.plaintext, true))
        }
        on("/tokens/:id/revoke", .post) { request, context in
            let (s, _) = try me(context)
            guard try await app.tokens.revoke(id: try int64(context, "id"), userId: s.user.id) else { throw WebError(.notFound, "no active token of yours with that id") }
            return WebHeaders.redirect("/tokens")
        }
        on("/client-passwords", .post) { request, context in
            let (s, _) = try me(context)
            guard let store = app.clientPasswords else { throw WebError(.notFound, "client passwords are not available here") }
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let label = form.text("label") else { throw WebError(.badRequest, "a client password needs a label") }
            let days = try form.int("days", 1...3650)
            let (password, info) = try await store.create(user: s.user, label: String(label.prefix(200)), ttlSeconds: days.map { Int64($0) * 86_400 })
            return try await tokens(context, reveal: ("Client password \(info.label)", password, false))
        }
        on("/client-passwords/:id/revoke", .post) { request, context in
            let (s, _) = try me(context)
            guard try await app.clientPasswords?.revoke(id: try int64(context, "id"), userId: s.user.id) == true else { throw WebError(.notFound, "no client password of yours with that id") }
            return WebHeaders.redirect("/tokens")
        }
        on("/api-key", .post) { request, context in
            let (s, _) = try me(context)
            let key = try await app.apiKeys.rotate(userId: s.user.id)
            return try await tokens(context, reveal: ("Ampache API key", key, false))
        }
        on("/api-key/revoke", .post) { request, context in
            let (s, _) = try me(context)
            guard try await app.apiKeys.revoke(userId: s.user.id) else { throw WebError(.notFound, "you have no API key") }
            return WebHeaders.redirect("/tokens")
        }
        on("/sessions", .get) { request, context in try await sessions(context) }
        on("/sessions/:id/revoke", .post) { request, context in
            let (s, _) = try me(context)
            let id = try int64(context, "id")
            guard id != s.sessionId, try await app.sessions.list(userId: s.user.id).contains(where: { $0.id == id }) else {
                throw WebError(.notFound, "no other session of yours with that id")
            }
            try await app.sessions.delete(id: id)
            return WebHeaders.redirect("/sessions")
        }
        on("/sessions/revoke-others", .post) { request, context in
            let (s, _) = try me(context)
            try await app.sessions.endAll(userId: s.user.id, except: s.sessionId)
            return WebHeaders.redirect("/sessions")
        }
        on("/account", .get) { request, context in
            let (s, _) = try me(context)
            return page("account", context, ["role": s.user.role.rawValue])
        }
        on("/account/password", .post) { request, context in try await changePassword(request, context) }
        on("/web/played", .post) { request, context in
            let (s, _) = try me(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let raw = form.text("song_id"), let id = Int64(raw), id > 0, try await app.catalog.song(id: id) != nil else { throw WebError(.notFound, "no such song") }
            try await app.library.recordPlay(user: s.user.id, song: id, at: app.clock.nowMs(), source: .client, client: "web", windowMs: 30_000)
            return Response(status: .noContent)
        }
        registerPlayers(on)
        registerAdmin(on)
    }

    // MARK: sign-in

    func login(_ request: Request, _ context: RepriseContext) async throws -> Response {
        let form = try await Self.form(request, limit: app.maxBodyBytes)
        let name = form.text("username") ?? ""
        let next = Self.safeNext(form["next"])
        func again(_ message: String, _ status: HTTPResponse.Status) -> Response {
            openForm("login", request, context, ["error": message, "username": name, "next": next], status: status)
        }
        guard !name.isEmpty, let password = form["password"], !password.isEmpty,
              name.unicodeScalars.count <= StoredText.maxName, password.unicodeScalars.count <= StoredText.maxCredential else {
            return again("Enter your user name and password.", .badRequest)
        }
        let keys = LoginThrottle.keys(user: name, address: context.remoteAddress)
        let now = app.clock.nowMs()
        if let wait = app.loginThrottle.refusal(keys: keys, now: now) {
            return again("Too many failed attempts; try again in \(max(1, (wait + 999) / 1000)) s.", .tooManyRequests)
        }
        guard let user = try await app.users.verify(name: name, password: password) else {
            app.loginThrottle.failed(keys: keys, now: now)
            return again("Unknown user or wrong password.", .unauthorized)
        }
        app.loginThrottle.succeeded(keys: [keys[0]])
        // A new session at every login (never the one a cookie already named), so an id is never fixed in advance.
        if let old = WebCookie.session(request) { try? await app.sessions.logout(old) }
        let (secret, info) = try await app.sessions.create(
            user: user, kind: .web, client: "web", agent: StoredText.bounded(request.headers[.userAgent], max: StoredText.maxAgent), ip: context.remoteAddress)
        let maxAge = max(60, (info.expiresAt - now) / 1000)
        var done = WebHeaders.redirect(next, extra: [.setCookie: WebCookie.set(secret, secure: secure, maxAgeSeconds: maxAge)])
        done.headers.append(HTTPField(name: .setCookie, value: WebCookie.clearLogin(secure: secure)))
        return done
    }

    func firstAdmin(_ request: Request, _ context: RepriseContext) async throws -> Response {
        guard try await app.users.count() == 0 else { throw WebError(.forbidden, "Reprise is set up already: log in") }
        let form = try await Self.form(request, limit: app.maxBodyBytes)
        let keys = LoginThrottle.keys(user: "setup", address: context.remoteAddress)
        let now = app.clock.nowMs()
        if let wait = app.loginThrottle.refusal(keys: keys, now: now) {
            return openForm("setup", request, context, ["error": "Too many wrong codes; try again in \(max(1, (wait + 999) / 1000)) s."], status: .tooManyRequests)
        }
        guard SHA256Hex.constantTimeEquals(form.text("code")?.lowercased() ?? "", setup.value) else {
            app.loginThrottle.failed(keys: keys, now: now)
            return openForm("setup", request, context, ["error": "That is not the setup code printed by reprise serve."], status: .forbidden)
        }
        guard let name = form.text("username"), let password = form["password"], password.count >= 8 else {
            return openForm("setup", request, context, ["error": "Enter a name and a password of 8 characters or more."], status: .badRequest)
        }
        _ = try await app.users.add(name: name, password: password, role: .admin)
        return WebHeaders.redirect("/login")
    }

    func changePassword(_ request: Request, _ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let form = try await Self.form(request, limit: app.maxBodyBytes)
        guard let current = form["current"], try await app.users.verify(name: s.user.name, password: current) != nil else {
            return page("account", context, ["role": s.user.role.rawValue, "error": "The current password is wrong."], status: .forbidden)
        }
        guard let new = form["new"], new.count >= 8, new.unicodeScalars.count <= StoredText.maxCredential else {
            return page("account", context, ["role": s.user.role.rawValue, "error": "The new password needs 8 characters or more."], status: .badRequest)
        }
        try await app.users.setPassword(name: s.user.name, password: new)
        try await app.sessions.endAll(userId: s.user.id, except: s.sessionId)
        return WebHeaders.redirect("/sessions")
    }

    // MARK: library

    func albumRows(_ albums: [AlbumInfo]) -> [[String: Any]] {
        albums.map { a in
            var row: [String: Any] = ["id": a.id, "name": a.name, "artist": a.artist, "artist_id": a.artistId]
            if let year = a.year { row["year"] = year }
            return row
        }
    }

    func songRows(_ songs: [Song]) -> [[String: Any]] {
        songs.map { s in
            ["id": s.id, "title": s.title, "artist": s.artist, "artist_id": s.artistId, "album": s.album, "album_id": s.albumId,
             "track": s.track.map(String.init) ?? "", "duration": WebFormat.duration(s.durationMs)]
        }
    }

    func home(_ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let newest = try await app.library.list(.newest, kind: .album, user: s.user.id, limit: 12, offset: 0)
        let albums = try await app.catalog.albums(ids: newest.ids)
        let lists = try await app.library.playlists(viewer: s.user.id).filter { $0.ownerId == s.user.id }
        var players: [[String: Any]] = []
        for p in myPlayers(s.user) {
            let r = await p.report()
            var row: [String: Any] = ["name": r.name, "state": r.state]
            if r.queue.indices.contains(r.position), let song = try await app.catalog.song(id: r.queue[r.position]) { row["title"] = song.title }
            players.append(row)
        }
        return page("home", context, ["albums": albumRows(albums), "playlists": lists.map { ["id": $0.id, "name": $0.name, "count": $0.songCount] }, "players": players])
    }

    func library(_ request: Request, _ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let q = request.uri.queryParameters
        let query = q.get("q").map { String($0.prefix(200)) }.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let genre = q.get("genre").map { String($0.prefix(200)) }
        var view = q.get("view") ?? (query == nil ? "albums" : "songs")
        if genre != nil { view = "songs" }
        let pageSize = 60
        let pageNumber = min(max(1, Int(q.get("page") ?? "1") ?? 1), 10_000)
        let offset = (pageNumber - 1) * pageSize
        var data: [String: Any] = ["q": query ?? "", "v_\(view)": true]
        var total = 0
        switch view {
        case "artists":
            if let query {
                let found = try await app.library.search(query, kind: .artist, limit: pageSize, offset: offset)
                total = found.total
                data["artists"] = try await app.catalog.artists(ids: found.ids).map { ["id": $0.id, "name": $0.name, "albums": $0.albumCount, "songs": $0.songCount] }
            } else {
                let page = try await app.catalog.artists(limit: pageSize, offset: offset, query: nil)
                total = page.total
                data["artists"] = page.artists.map { ["id": $0.id, "name": $0.name, "albums": $0.albumCount, "songs": $0.songCount] }
            }
            data["noun"] = "artists"
        case "songs":
            if let query {
                let found = try await app.library.search(query, kind: .song, limit: pageSize, offset: offset)
                total = found.total
                let byId = Dictionary(try await app.catalog.songs(ids: found.ids).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                data["songs"] = songRows(found.ids.compactMap { byId[$0] })
            } else {
                let page = try await app.catalog.songs(query: nil, artist: nil, album: nil, genre: genre, limit: pageSize, offset: offset)
                total = page.total
                data["songs"] = songRows(page.songs)
            }
            data["noun"] = genre.map { "songs in \($0)" } ?? "songs"
        case "genres":
            let genres = try await app.library.genres()
            total = genres.count
            data["genres"] = genres.map { ["name": $0.name, "songs": $0.songCount] }
            data["noun"] = "genres"
        default:
            if let query {
                let found = try await app.library.search(query, kind: .album, limit: pageSize, offset: offset)
                total = found.total
                data["albums"] = albumRows(try await app.catalog.albums(ids: found.ids))
            } else {
                let page = try await app.catalog.albums(limit: pageSize, offset: offset, query: nil, artistId: nil)
                total = page.total
                data["albums"] = albumRows(page.albums)
            }
            data["noun"] = "albums"
            data["v_albums"] = true
        }
        _ = s
        for key in ["albums", "artists", "genres", "songs"] { data["has_\(key)"] = !((data[key] as? [Any])?.isEmpty ?? true) }
        data["total"] = total
        func link(_ n: Int) -> String {
            var items = [URLQueryItem(name: "view", value: view), URLQueryItem(name: "page", value: String(n))]
            if let query { items.append(URLQueryItem(name: "q", value: query)) }
            if let genre { items.append(URLQueryItem(name: "genre", value: genre)) }
            var c = URLComponents()
            c.path = "/library"
            c.queryItems = items
            return c.string ?? "/library"
        }
        if pageNumber > 1 { data["prev"] = link(pageNumber - 1) }
        if offset + pageSize < total { data["next"] = link(pageNumber + 1) }
        return page("library", context, data)
    }

    func album(_ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let id = try int64(context, "id")
        guard let album = try await app.catalog.album(id: id) else { throw WebError(.notFound, "no album \(id)") }
        let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: id, limit: 2_000, offset: 0).songs
        var data: [String: Any] = [
            "id": album.id, "name": album.name, "artist": album.artist, "artist_id": album.artistId,
            "count": songs.count, "songs": songRows(songs), "players": myPlayers(s.user).map { ["name": $0.name] }, "has_players": !myPlayers(s.user).isEmpty,
        ]
        if let year = album.year { data["year"] = year }
        let mine = try await app.library.playlists(viewer: s.user.id).filter { $0.ownerId == s.user.id }
        data["my_playlists"] = mine.map { ["id": $0.id, "name": $0.name] }
        data["has_playlists"] = !mine.isEmpty
        return page("album", context, data)
    }

    func artist(_ context: RepriseContext) async throws -> Response {
        _ = try me(context)
        let id = try int64(context, "id")
        guard let artist = try await app.catalog.artist(id: id) else { throw WebError(.notFound, "no artist \(id)") }
        let albums = try await app.catalog.albums(limit: 500, offset: 0, query: nil, artistId: id).albums
        return page("artist", context, ["name": artist.name, "albums": albumRows(albums)])
    }

    func playlists(_ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let lists = try await app.library.playlists(viewer: s.user.id)
        return page("playlists", context, ["playlists": lists.map { ["id": $0.id, "name": $0.name, "count": $0.songCount, "owner": $0.owner, "public": $0.isPublic] }])
    }

    func playlist(_ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let id = try int64(context, "id")
        guard let p = try await app.library.playlist(id: id, viewer: s.user.id), let songs = try await app.library.playlistSongs(id: id, viewer: s.user.id) else {
            throw WebError(.notFound, "no playlist \(id) you can see")
        }
        let rows = songRows(songs).enumerated().map { i, row in row.merging(["position": i, "position_1": i + 1]) { _, new in new } }
        let players = myPlayers(s.user)
        var data: [String: Any] = [
            "id": p.id, "name": p.name, "owner": p.owner, "count": songs.count, "songs": rows, "mine": p.ownerId == s.user.id,
            "removable": p.ownerId == s.user.id, "list_id": p.id, "players": players.map { ["name": $0.name] }, "has_players": !players.isEmpty,
        ]
        if !p.comment.isEmpty { data["comment"] = p.comment }
        return page("playlist", context, data)
    }

    func cover(_ request: Request, _ context: RepriseContext) async throws -> Response {
        _ = try me(context)
        guard let kind = context.parameters.get("kind").flatMap(ItemKind.init(rawValue:)) else { throw WebError(.notFound, "no such cover") }
        let id = try int64(context, "id")
        var size: Int?
        if let raw = request.uri.queryParameters.get("size") {
            guard let n = Int(raw), (16...2_048).contains(n) else { throw WebError(.badRequest, "size is 16 to 2048") }
            size = n
        }
        guard let art = app.art, let image = try await art.image(kind: kind, id: id, size: size) else {
            // No picture: an empty square, so that the page keeps its shape.
            let svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'><rect width='1' height='1' fill='#d8dce3'/></svg>"
            return Response(status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "private, max-age=300"], body: .init(byteBuffer: ByteBuffer(string: svg)))
        }
        return image.response(to: request)
    }

    // MARK: tokens and sessions

    func tokens(_ context: RepriseContext, reveal: (what: String, secret: String, stream: Bool)?) async throws -> Response {
        let (s, _) = try me(context)
        let now = app.clock.nowMs()
        let list = try await app.tokens.list(userId: s.user.id).filter { $0.revokedAt == nil && ($0.expiresAt ?? .max) > now && !$0.label.hasPrefix(StreamCredential.playerLabelPrefix) }
        let clients = try await app.clientPasswords?.list(userId: s.user.id).filter { $0.revokedAt == nil && ($0.expiresAt ?? .max) > now } ?? []
        var data: [String: Any] = [
            "ampache_url": app.publicURL,
            "tokens": list.map { ["id": $0.id, "label": $0.label, "created": WebFormat.time($0.createdAt), "expires": WebFormat.time($0.expiresAt), "used": WebFormat.time($0.lastUsedAt)] },
            "clients": clients.map { ["id": $0.id, "label": $0.label, "created": WebFormat.time($0.createdAt), "expires": WebFormat.time($0.expiresAt), "used": WebFormat.time($0.lastUsedAt)] },
        ]
        if let since = try await app.apiKeys.createdAt(userId: s.user.id) { data["api_key_since"] = WebFormat.time(since) }
        if let reveal {
            data["secret"] = reveal.secret
            data["secret_what"] = reveal.what
            if reveal.stream {
                data["stream_url"] = app.publicURL + "/stream/{song id}?token=" + reveal.secret
                data["m3us"] = try await app.library.playlists(viewer: s.user.id).filter { $0.ownerId == s.user.id }.map {
                    ["name": $0.name, "url": app.publicURL + "/api/v1/playlists/\($0.id)/m3u?token=" + reveal.secret]
                }
            }
        }
        return page("tokens", context, data, status: reveal == nil ? .ok : .created)
    }

    func sessions(_ context: RepriseContext) async throws -> Response {
        let (s, _) = try me(context)
        let mine = try await app.sessions.list(userId: s.user.id)
        return page("sessions", context, ["sessions": mine.map { i in
            ["id": i.id, "kind": i.kind.rawValue, "client": i.client ?? "", "agent": i.agent ?? "", "ip": i.ip ?? "",
             "created": WebFormat.time(i.createdAt), "seen": WebFormat.time(i.lastSeenAt), "current": i.id == s.sessionId] as [String: Any]
        }])
    }

    // MARK: players

    func myPlayers(_ user: User) -> [any PlayerControl] {
        guard let playback else { return [] }
        return playback.players.values.filter { user.role == .admin || $0.owner == user.name }.sorted { $0.name < $1.name }
    }

    func player(_ context: RepriseContext) throws -> any PlayerControl {
        let (s, _) = try me(context)
        let name = context.parameters.get("name") ?? ""
        // Another user's player is as unknown as one that does not exist.
        guard let p = playback?.players[name], s.user.role == .admin || p.owner == s.user.name else { throw WebError(.notFound, "no player \(name) of yours") }
        return p
    }
}
