import Foundation
import Hummingbird
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseStorage

/// The listener's library on the Ampache API: playlists, genres, stats, ratings, flags, plays, art, search.
extension AmpacheAPI {
    /// Answers a library action, or nil when `action` is not one.
    func library(_ action: String, _ p: Params, caller: Caller, request: Request) async throws -> Outcome? {
        let user = caller.user
        switch action {
        case "artist_albums":
            let artistId = try id(action, p)
            guard try await app.catalog.artist(id: artistId) != nil else { throw AmpacheError(.notFound, action: action, type: "filter", "no artist \(artistId)") }
            let (limit, offset) = try paging(action, p)
            let page = try await app.catalog.albums(limit: limit, offset: offset, query: nil, artistId: artistId)
            return .document(.list("album", total: page.total, try await albumRecords(page.albums, user)))
        case "genres":
            let (limit, offset) = try paging(action, p)
            var genres = try await app.library.genres()
            if let filter = p["filter"] {
                genres = genres.filter { p.flag("exact") ? $0.name.caseInsensitiveCompare(filter) == .orderedSame : $0.name.localizedCaseInsensitiveContains(filter) }
            }
            return .document(.list("genre", total: genres.count, Array(genres.dropFirst(offset).prefix(limit)).map(Self.genreRecord)))
        case "genre":
            return .document(.single("genre", Self.genreRecord(try await genre(action, p))))
        case "genre_songs", "genre_albums", "genre_artists":
            let genre = try await genre(action, p)
            let (limit, offset) = try paging(action, p)
            let kind: ItemKind = action == "genre_songs" ? .song : action == "genre_albums" ? .album : .artist
            let page = try await app.library.ids(kind: kind, genre: genre.name, limit: limit, offset: offset)
            return .document(try await records(kind, ids: page.ids, total: page.total, user: user))
        case "playlists":
            let (limit, offset) = try paging(action, p)
            var lists = try await app.library.playlists(viewer: user.id)
            if let filter = p["filter"] {
                lists = lists.filter { p.flag("exact") ? $0.name == filter : $0.name.localizedCaseInsensitiveContains(filter) }
            }
            return .document(.list("playlist", total: lists.count, try await playlistRecords(Array(lists.dropFirst(offset).prefix(limit)), user)))
        case "playlist":
            let list = try await playlist(action, p, user: user)
            return .document(.single("playlist", try await playlistRecords([list], user)[0]))
        case "playlist_songs":
            let list = try await playlist(action, p, user: user)
            var songs = try await app.library.playlistSongs(id: list.id, viewer: user.id) ?? []
            if p.flag("random") { songs.shuffle() }
            let (limit, offset) = try paging(action, p)
            let page = Array(songs.enumerated().dropFirst(offset).prefix(limit))
            var records = try await songRecords(page.map(\.element), user)
            for i in records.indices { records[i].fields.append(("playlisttrack", .int(page[i].offset + 1))) }
            return .document(.list("song", total: songs.count, records))
        case "playlist_create":
            guard let name = p["name"] else { throw AmpacheError.missing(action, "name") }
            let created = try await app.library.createPlaylist(owner: user.id, name: name, comment: "", isPublic: p["type"] == "public", songs: [])
            return .document(.single("playlist", try await playlistRecords([created], user)[0]))
        case "playlist_edit":
            let listId = try id(action, p)
            if let type = p["type"], type != "public", type != "private" { throw AmpacheError.bad(action, "type", "type is public or private") }
            var list = try await app.library.editPlaylist(id: listId, owner: user.id, name: p["name"], comment: nil, isPublic: p["type"].map { $0 == "public" })
            // `items` and `tracks`: comma-separated song ids and the 1-based positions they take.
            if let items = p["items"] {
                let ids = try items.split(separator: ",").map { part -> Int64 in
                    guard let id = Int64(part.trimmingCharacters(in: .whitespaces)) else { throw AmpacheError.bad(action, "items", "items are song ids") }
                    return id
                }
                let tracks = try (p["tracks"] ?? "").split(separator: ",").map { part -> Int in
                    guard let t = Int(part.trimmingCharacters(in: .whitespaces)), (1...Playlist.maxSongs).contains(t) else { throw AmpacheError.bad(action, "tracks", "tracks are positions from 1") }
                    return t
                }
                var songs = try await app.library.playlistSongs(id: listId, viewer: user.id)?.map(\.id) ?? []
                for (i, id) in ids.enumerated() {
                    let at = i < tracks.count ? tracks[i] - 1 : songs.count
                    if at < songs.count { songs[at] = id } else { songs.append(id) }
                }
                list = try await app.library.replacePlaylistSongs(id: listId, owner: user.id, songs: songs)
            }
            _ = list
            return .document(.fields([("success", .text("playlist changes saved"))]))
        case "playlist_add_song", "playlist_add":
            let listId = try id(action, p)
            let songIds: [Int64]
            if action == "playlist_add_song" {
                guard let raw = p["song"] else { throw AmpacheError.missing(action, "song") }
                guard let song = Int64(raw) else { throw AmpacheError.bad(action, "song", "song must be a song id") }
                songIds = [song]
            } else {
                guard let raw = p["id"] else { throw AmpacheError.missing(action, "id") }
                guard let object = Int64(raw) else { throw AmpacheError.bad(action, "id", "id must be an object id") }
                songIds = try await songsOf(action, type: p["type"] ?? p["object_type"] ?? "song", id: object)
            }
            if p.flag("check"), let have = try await app.library.playlistSongs(id: listId, viewer: user.id)?.map(\.id), songIds.allSatisfy(have.contains) {
                return .document(.fields([("success", .text("the songs are already in the playlist"))]))
            }
            _ = try await app.library.addToPlaylist(id: listId, owner: user.id, songs: songIds, at: nil)
            return .document(.fields([("success", .text("songs added to playlist"))]))
        case "playlist_remove_song", "playlist_remove":
            let listId = try id(action, p)
            let songs = try await app.library.playlistSongs(id: listId, viewer: user.id)?.map(\.id) ?? []
            var positions: [Int] = []
            if p.flag("clear") {
                positions = Array(songs.indices)
            } else if let track = p["track"] {
                guard let t = Int(track), (1...max(1, songs.count)).contains(t) else { throw AmpacheError.bad(action, "track", "track is a position from 1 to \(songs.count)") }
                positions = [t - 1]
            } else if let raw = p["song"] ?? p["id"] {
                guard let song = Int64(raw) else { throw AmpacheError.bad(action, "song", "song must be a song id") }
                positions = songs.indices.filter { songs[$0] == song }
                guard !positions.isEmpty else { throw AmpacheError(.notFound, action: action, type: "song", "song \(song) is not in playlist \(listId)") }
            } else {
                throw AmpacheError.missing(action, "song")
            }
            _ = try await app.library.removeFromPlaylist(id: listId, owner: user.id, positions: positions)
            return .document(.fields([("success", .text("song removed from playlist"))]))
        case "playlist_delete":
            try await app.library.deletePlaylist(id: try id(action, p), owner: user.id)
            return .document(.fields([("success", .text("playlist deleted"))]))
        case "stats":
            let kind = try itemKind(action, p["type"])
            let (limit, offset) = try paging(action, p)
            let list: LibraryList
            switch p["filter"] ?? "random" {
            case "newest": list = .newest
            case "highest": list = .highest
            case "frequent": list = .frequent
            case "recent": list = .recent
            case "flagged": list = .flagged
            case "random": list = .random
            case let other: throw AmpacheError.bad(action, "filter", "filter is newest, highest, frequent, recent, flagged or random, not '\(other.prefix(40))'")
            }
            let page = try await app.library.list(list, kind: kind, user: user.id, limit: limit, offset: offset)
            return .document(try await records(kind, ids: page.ids, total: page.total, user: user))
        case "rate":
            let kind = try itemKind(action, p["type"])
            guard let raw = p["rating"] else { throw AmpacheError.missing(action, "rating") }
            guard let rating = Int(raw), (0...5).contains(rating) else { throw AmpacheError.bad(action, "rating", "rating is 0 to 5") }
            try await app.library.rate(user: user.id, kind: kind, id: try id(action, p), rating: rating)
            return .document(.fields([("success", .text("rating set"))]))
        case "flag":
            let kind = try itemKind(action, p["type"])
            guard let raw = p["flag"] else { throw AmpacheError.missing(action, "flag") }
            guard raw == "0" || raw == "1" || raw.lowercased() == "true" || raw.lowercased() == "false" else { throw AmpacheError.bad(action, "flag", "flag is 0 or 1") }
            let on = p.flag("flag")
            try await app.library.star(user: user.id, kind: kind, ids: [try id(action, p)], on: on)
            return .document(.fields([("success", .text(on ? "flag set" : "flag removed"))]))
        case "record_play":
            let songId = try id(action, p)
            if let other = p["user"], other != String(user.id), other != user.name, user.role != .admin {
                throw AmpacheError(.accessControl, action: action, type: "user", "only an admin records plays for another user")
            }
            var who = user
            if let other = p["user"], other != String(user.id), other != user.name {
                guard let found = try await findUser(other) else { throw AmpacheError(.notFound, action: action, type: "user", "no user \(other)") }
                who = found
            }
            let at = try date(action, p)
            try await app.library.recordPlay(user: who.id, song: songId, at: at, source: .client, client: StoredText.bounded(p["client"], max: StoredText.maxClient), windowMs: AppServices.playWindowMs)
            return .document(.fields([("success", .text("play recorded"))]))
        case "scrobble":
            guard let title = p["song"] else { throw AmpacheError.missing(action, "song") }
            guard let artist = p["artist"] else { throw AmpacheError.missing(action, "artist") }
            guard let album = p["album"] else { throw AmpacheError.missing(action, "album") }
            let found = try await app.catalog.songs(query: nil, title: title, artist: artist, album: album, exact: true, limit: 1, offset: 0).songs.first
            guard let song = found else { throw AmpacheError(.notFound, action: action, type: "song", "no song '\(title.prefix(80))' by '\(artist.prefix(80))' on '\(album.prefix(80))'") }
            try await app.library.recordPlay(user: user.id, song: song.id, at: try date(action, p), source: .client, client: StoredText.bounded(p["client"], max: StoredText.maxClient), windowMs: AppServices.playWindowMs)
            return .document(.fields([("success", .text("scrobble recorded"))]))
        case "get_similar":
            let kind = try itemKind(action, p["type"])
            let (limit, offset) = try paging(action, p)
            let target = try id(action, p)
            switch kind {
            case .song:
                guard try await app.catalog.song(id: target) != nil else { throw AmpacheError(.notFound, action: action, type: "filter", "no song \(target)") }
                let ids = Array(try await app.library.similar(song: target, limit: offset + limit).dropFirst(offset))
                return .document(try await records(.song, ids: ids, total: ids.count, user: user))
            case .artist:
                // Artists sharing a genre with this one.
                let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, artistId: target, limit: 200, offset: 0).songs
                guard !songs.isEmpty else { throw AmpacheError(.notFound, action: action, type: "filter", "no artist \(target)") }
                var ids: [Int64] = []
                for genre in Set(songs.compactMap(\.genre)).sorted() {
                    ids += try await app.library.ids(kind: .artist, genre: genre, limit: 100, offset: 0).ids.filter { $0 != target && !ids.contains($0) }
                }
                let page = Array(ids.dropFirst(offset).prefix(limit))
                return .document(try await records(.artist, ids: page, total: ids.count, user: user))
            case .album:
                throw AmpacheError.bad(action, "type", "type is song or artist")
            }
        case "now_playing":
            let entries = try await nowPlaying(app)
            let (limit, offset) = try paging(action, p)
            let page = Array(entries.dropFirst(offset).prefix(limit))
            let songs = Dictionary(try await app.catalog.songs(ids: page.map(\.songId)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var out: [ARecord] = []
            for e in page {
                guard let s = songs[e.songId] else { continue }
                var r = try await songRecords([s], user)[0]
                r.fields += [
                    ("user", .ref(id: String(e.userId), name: e.user)), ("client", .text(e.player)), ("date", .number(e.since / 1000)),
                ]
                out.append(r)
            }
            return .document(.list("now_playing", total: entries.count, out))
        case "user":
            guard let name = p["username"] ?? p["filter"] else { throw AmpacheError.missing(action, "username") }
            guard let found = try await findUser(name) else { throw AmpacheError(.notFound, action: action, type: "username", "no user \(name.prefix(64))") }
            let mine = found.id == user.id || user.role == .admin
            var fields: [(String, AValue)] = [("username", .text(found.name))]
            if mine {
                fields += [
                    ("access", .int(found.role == .admin ? 100 : 25)), ("disabled", .bool(found.disabled)),
                    ("create_date", .number(found.createdAt / 1000)), ("fullname_public", .int(0)),
                ]
            }
            return .document(.single("user", ARecord(id: String(found.id), fields: fields)))
        case "advanced_search", "search":
            let kind = try itemKind(action, p["type"] ?? "song")
            let (limit, offset) = try paging(action, p)
            let rules = try searchRules(action, p)
            let matchAll = (p["operator"] ?? "and").lowercased() != "or"
            let page = try await app.library.search(rules: rules, matchAll: matchAll, kind: kind, user: user.id, random: p.flag("random"), limit: limit, offset: offset)
            return .document(try await records(kind, ids: page.ids, total: page.total, user: user))
        case "index":
            return .document(try await index(action, p))
        case "get_art":
            let kind: ItemKind
            switch p["type"] {
            case "song"?: kind = .song
            case "album"?: kind = .album
            case "artist"?: kind = .artist
            case nil: throw AmpacheError.missing(action, "type")
            case let other?: throw AmpacheError.bad(action, "type", "art is served for song, album and artist, not '\(other.prefix(40))'")
            }
            var size: Int?
            if let raw = p["size"] {
                // `300`, or Ampache's `300x300`: the longer side.
                let sides = raw.lowercased().split(separator: "x").compactMap { Int($0) }
                guard !sides.isEmpty, sides.allSatisfy({ (16...2_048).contains($0) }) else { throw AmpacheError.bad(action, "size", "size is WIDTHxHEIGHT, 16 to 2048 pixels") }
                size = sides.max()
            }
            let objectId = try id(action, p)
            guard let art = app.art, let image = try await art.image(kind: kind, id: objectId, size: size) else {
                // A binary method: HTTP 404, never an error document a client would save as the image.
                return .response(Response(status: .notFound, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: AmpacheDocument.error(AmpacheError(.notFound, action: action, type: "filter", "no art for \(kind.rawValue) \(objectId)")).json()))))
            }
            return .response(image.response(to: request))
        default:
            return nil
        }
    }

    // MARK: helpers

    func itemKind(_ action: String, _ raw: String?) throws -> ItemKind {
        guard let raw else { throw AmpacheError.missing(action, "type") }
        guard let kind = ItemKind(rawValue: raw) else { throw AmpacheError.bad(action, "type", "type is song, album or artist") }
        return kind
    }

    func genre(_ action: String, _ p: Params) async throws -> Genre {
        let genreId = try id(action, p)
        guard let g = try await app.library.genre(id: genreId), g.songCount > 0 else { throw AmpacheError(.notFound, action: action, type: "filter", "no genre \(genreId)") }
        return g
    }

    func playlist(_ action: String, _ p: Params, user: User) async throws -> Playlist {
        let listId = try id(action, p)
        guard let list = try await app.library.playlist(id: listId, viewer: user.id) else { throw AmpacheError(.notFound, action: action, type: "filter", "no playlist \(listId)") }
        return list
    }

    func findUser(_ nameOrId: String) async throws -> User? {
        if let id = Int64(nameOrId), let u = try await app.users.list().first(where: { $0.id == id }) { return u }
        return try await app.users.find(name: nameOrId)
    }

    /// `date` as UNIX seconds (default now), as epoch ms; not in the future.
    func date(_ action: String, _ p: Params) throws -> Int64 {
        let now = app.clock.nowMs()
        guard let raw = p["date"], raw != "False", raw != "0" else { return now }
        guard let seconds = Int64(raw), seconds >= 0, seconds <= now / 1000 + 60 else { throw AmpacheError.bad(action, "date", "date is UNIX seconds, not in the future") }
        return seconds * 1000
    }

    /// The songs of an object Ampache adds to a playlist: a song, an album's or an artist's.
    func songsOf(_ action: String, type: String, id: Int64) async throws -> [Int64] {
        switch type {
        case "song":
            guard try await app.catalog.song(id: id) != nil else { throw AmpacheError(.notFound, action: action, type: "id", "no song \(id)") }
            return [id]
        case "album":
            let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: id, limit: Playlist.maxSongs, offset: 0).songs
            guard !songs.isEmpty else { throw AmpacheError(.notFound, action: action, type: "id", "no album \(id)") }
            return songs.map(\.id)
        case "artist":
            let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, artistId: id, limit: Playlist.maxSongs, offset: 0).songs
            guard !songs.isEmpty else { throw AmpacheError(.notFound, action: action, type: "id", "no artist \(id)") }
            return songs.map(\.id)
        default:
            throw AmpacheError.bad(action, "type", "type is song, album or artist")
        }
    }

    /// `rule_N`, `rule_N_operator`, `rule_N_input` for N = 1, 2, ...
    func searchRules(_ action: String, _ p: Params) throws -> [SearchRule] {
        var rules: [SearchRule] = []
        var n = 1
        while let name = p["rule_\(n)"], n <= 32 {
            let fieldName = name == "myrating" ? "rating" : name == "favorite_album" || name == "favorite_artist" ? "favorite" : name
            guard let field = SearchRule.Field(rawValue: fieldName) else {
                throw AmpacheError.bad(action, "rule_\(n)", "rules are \(SearchRule.Field.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name.prefix(40))'")
            }
            guard let op = p["rule_\(n)_operator"].flatMap(Int.init), let match = SearchRule.match(ampache: op, numeric: field.numeric) else {
                throw AmpacheError.bad(action, "rule_\(n)_operator", "operators are 0 to 5")
            }
            rules.append(SearchRule(field: field, match: match, value: p.values["rule_\(n)_input"] ?? ""))
            n += 1
        }
        guard !rules.isEmpty else { throw AmpacheError.missing(action, "rule_1") }
        return rules
    }

    /// Songs, albums or artists by id (in that order) as a counted list.
    func records(_ kind: ItemKind, ids: [Int64], total: Int, user: User) async throws -> AmpacheDocument {
        switch kind {
        case .song:
            return .list("song", total: total, try await songRecords(try await app.catalog.songs(ids: ids), user))
        case .album:
            return .list("album", total: total, try await albumRecords(try await app.catalog.albums(ids: ids), user))
        case .artist:
            return .list("artist", total: total, try await artistRecords(try await app.catalog.artists(ids: ids), user))
        }
    }

    /// `index`: ids of songs, albums, artists or playlists; with `include`, each parent's child ids.
    func index(_ action: String, _ p: Params) async throws -> AmpacheDocument {
        guard let type = p["type"] else { throw AmpacheError.missing(action, "type") }
        let (limit, offset) = try paging(action, p)
        let include = p.flag("include")
        func plain(_ name: String, _ ids: [Int64], total: Int) -> AmpacheDocument {
            .list(name, total: total, ids.map { ARecord(id: String($0), fields: []) })
        }
        switch type {
        case "song":
            let page = try await app.catalog.songs(query: nil, title: p["filter"], artist: nil, album: nil, limit: limit, offset: offset)
            return plain("song", page.songs.map(\.id), total: page.total)
        case "album":
            let page = try await app.catalog.albums(limit: limit, offset: offset, query: p["filter"])
            guard include else { return plain("album", page.albums.map(\.id), total: page.total) }
            var out: [ARecord] = []
            for a in page.albums {
                let songs = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: a.id, limit: 5_000, offset: 0).songs
                out.append(ARecord(id: String(a.id), fields: [("song", .list(songs.map { .record(ARecord(id: String($0.id), fields: [])) }))]))
            }
            return .list("album", total: page.total, out)
        case "artist":
            let page = try await app.catalog.artists(limit: limit, offset: offset, query: p["filter"])
            guard include else { return plain("artist", page.artists.map(\.id), total: page.total) }
            var out: [ARecord] = []
            for a in page.artists {
                let albums = try await app.catalog.albums(limit: 5_000, offset: 0, query: nil, artistId: a.id).albums
                out.append(ARecord(id: String(a.id), fields: [("album", .list(albums.map { .record(ARecord(id: String($0.id), fields: [])) }))]))
            }
            return .list("artist", total: page.total, out)
        default:
            throw AmpacheError.bad(action, "type", "index covers song, album and artist")
        }
    }

    static func genreRecord(_ g: Genre) -> ARecord {
        ARecord(id: String(g.id), fields: [
            ("name", .text(g.name)), ("albums", .int(g.albumCount)), ("artists", .int(g.artistCount)), ("songs", .int(g.songCount)),
            ("videos", .int(0)), ("playlists", .int(0)), ("live_streams", .int(0)),
        ])
    }

    func playlistRecords(_ lists: [Playlist], _ user: User) async throws -> [ARecord] {
        lists.map { l in
            ARecord(id: String(l.id), fields: [
                ("name", .text(l.name)), ("owner", .text(l.owner)), ("items", .int(l.songCount)), ("type", .text(l.isPublic ? "public" : "private")),
                ("art", .text("")), ("has_art", .bool(false)), ("flag", .bool(false)), ("rating", .int(0)), ("averagerating", .int(0)),
                ("last_update", .number(l.updatedAt / 1000)),
            ])
        }
    }

}
