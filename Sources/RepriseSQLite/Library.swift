import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// The listener's library in SQLite: playlists, stars, ratings, plays, lists, FTS5 search, genres, art.
public struct LibraryStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock

    public init(db: DatabasePool, clock: any WallClock) {
        self.db = db
        self.clock = clock
    }

    // MARK: Playlists

    static let playlistSelection = """
        p.id, p.user_id, u.name AS owner, p.name, p.comment, p.public, p.created_at, p.updated_at,
          (SELECT count(*) FROM playlist_songs ps WHERE ps.playlist_id = p.id) AS songs,
          (SELECT coalesce(sum(s.duration_ms), 0) FROM playlist_songs ps JOIN songs s ON s.id = ps.song_id WHERE ps.playlist_id = p.id) AS duration
        FROM playlists p JOIN users u ON u.id = p.user_id
        """

    static func playlist(_ r: Row) -> Playlist {
        Playlist(
            id: r["id"], ownerId: r["user_id"], owner: r["owner"], name: r["name"], comment: r["comment"], isPublic: r["public"],
            songCount: r["songs"], durationMs: r["duration"], createdAt: r["created_at"], updatedAt: r["updated_at"])
    }

    static func readable(_ db: Database, id: Int64, viewer: Int64) throws -> Playlist? {
        try Row.fetchOne(db, sql: "SELECT \(playlistSelection) WHERE p.id = ? AND (p.user_id = ? OR p.public = 1)", arguments: [id, viewer]).map(playlist)
    }

    public func playlists(viewer: Int64) async throws -> [Playlist] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.playlistSelection) WHERE p.user_id = ? OR p.public = 1 ORDER BY p.name COLLATE NOCASE, p.id", arguments: [viewer]).map(Self.playlist)
        }
    }

    public func playlist(id: Int64, viewer: Int64) async throws -> Playlist? {
        try await db.read { db in try Self.readable(db, id: id, viewer: viewer) }
    }

    public func playlistSongs(id: Int64, viewer: Int64) async throws -> [Song]? {
        try await db.read { db in
            guard try Self.readable(db, id: id, viewer: viewer) != nil else { return nil }
            return try Row.fetchAll(
                db, sql: "SELECT \(SongRecord.selection) JOIN playlist_songs ps ON ps.song_id = s.id WHERE ps.playlist_id = ? ORDER BY ps.position",
                arguments: [id]
            ).map { SongRecord(row: $0).song }
        }
    }

    static func checked(name: String) throws -> String {
        let t = name.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty, t.unicodeScalars.count <= Playlist.maxName else { throw RepriseError(.badRequest, "a playlist name must be 1 to \(Playlist.maxName) characters") }
        guard !StoredText.hasControl(t) else { throw RepriseError(.badRequest, "a playlist name must not contain control characters") }
        return t
    }

    static func checked(comment: String) throws -> String {
        guard comment.unicodeScalars.count <= Playlist.maxComment else { throw RepriseError(.badRequest, "a playlist comment must be at most \(Playlist.maxComment) characters") }
        return comment
    }

    /// Fails with notFound unless every id is a song.
    static func requireSongs(_ db: Database, _ ids: [Int64]) throws {
        let unique = Set(ids)
        guard !unique.isEmpty else { return }
        let found = try Int.fetchOne(db, sql: "SELECT count(*) FROM songs WHERE id IN (SELECT value FROM json_each(?))", arguments: [json(Array(unique))]) ?? 0
        guard found == unique.count else {
            let known = Set(try Int64.fetchAll(db, sql: "SELECT id FROM songs WHERE id IN (SELECT value FROM json_each(?))", arguments: [json(Array(unique))]))
            throw RepriseError(.notFound, "no song \(unique.subtracting(known).sorted().prefix(5).map(String.init).joined(separator: ", "))")
        }
    }

    static func json(_ ids: [Int64]) -> String { "[" + ids.map(String.init).joined(separator: ",") + "]" }

    static func write(_ db: Database, playlist id: Int64, songs: [Int64]) throws {
        guard songs.count <= Playlist.maxSongs else { throw RepriseError(.badRequest, "a playlist holds at most \(Playlist.maxSongs) songs") }
        try db.execute(sql: "DELETE FROM playlist_songs WHERE playlist_id = ?", arguments: [id])
        let insert = try db.cachedStatement(sql: "INSERT INTO playlist_songs (playlist_id, position, song_id) VALUES (?, ?, ?)")
        for (i, song) in songs.enumerated() { try insert.execute(arguments: [id, i, song]) }
    }

    public func createPlaylist(owner: Int64, name: String, comment: String = "", isPublic: Bool = false, songs: [Int64] = []) async throws -> Playlist {
        let name = try Self.checked(name: name), comment = try Self.checked(comment: comment)
        let now = clock.nowMs()
        return try await db.write { db in
            try Self.requireSongs(db, songs)
            try db.execute(
                sql: "INSERT INTO playlists (user_id, name, comment, public, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [owner, name, comment, isPublic, now, now])
            let id = db.lastInsertedRowID
            try Self.write(db, playlist: id, songs: songs)
            return try Self.readable(db, id: id, viewer: owner)!
        }
    }

    /// What an edit may change besides the songs.
    struct Meta: Sendable {
        var name: String
        var comment: String
        var isPublic: Bool
    }

    /// The playlist row if `owner` owns it; notFound when the user cannot see it, forbidden when they can only read it.
    static func owned(_ db: Database, _ id: Int64, owner: Int64) throws -> Row {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM playlists WHERE id = ?", arguments: [id]) else {
            throw RepriseError(.notFound, "no playlist \(id)")
        }
        guard row["user_id"] == owner else {
            if row["public"] == true { throw RepriseError(.forbidden, "playlist \(id) belongs to another user; it can be read, not changed") }
            throw RepriseError(.notFound, "no playlist \(id)")
        }
        return row
    }

    /// Runs `change` on the playlist's song ids and details in one transaction, as its owner; concurrent edits serialize.
    func mutate(_ id: Int64, owner: Int64, _ change: @escaping @Sendable (Database, inout [Int64], inout Meta) throws -> Void) async throws -> Playlist {
        let now = clock.nowMs()
        return try await db.write { db in
            let row = try Self.owned(db, id, owner: owner)
            var meta = Meta(name: row["name"], comment: row["comment"], isPublic: row["public"])
            var songs = try Int64.fetchAll(db, sql: "SELECT song_id FROM playlist_songs WHERE playlist_id = ? ORDER BY position", arguments: [id])
            let before = songs
            try change(db, &songs, &meta)
            if songs != before { try Self.write(db, playlist: id, songs: songs) }
            try db.execute(
                sql: "UPDATE playlists SET name = ?, comment = ?, public = ?, updated_at = ? WHERE id = ?",
                arguments: [meta.name, meta.comment, meta.isPublic, now, id])
            return try Self.readable(db, id: id, viewer: owner)!
        }
    }

    public func editPlaylist(id: Int64, owner: Int64, name: String? = nil, comment: String? = nil, isPublic: Bool? = nil) async throws -> Playlist {
        let name = try name.map(Self.checked(name:)), comment = try comment.map(Self.checked(comment:))
        return try await mutate(id, owner: owner) { _, _, meta in
            if let name { meta.name = name }
            if let comment { meta.comment = comment }
            if let isPublic { meta.isPublic = isPublic }
        }
    }

    public func addToPlaylist(id: Int64, owner: Int64, songs new: [Int64], at: Int? = nil) async throws -> Playlist {
        try await mutate(id, owner: owner) { db, songs, _ in
            try Self.requireSongs(db, new)
            let at = at ?? songs.count
            guard (0...songs.count).contains(at) else { throw RepriseError(.badRequest, "position \(at) is outside the playlist (0 to \(songs.count))") }
            guard songs.count + new.count <= Playlist.maxSongs else { throw RepriseError(.badRequest, "a playlist holds at most \(Playlist.maxSongs) songs") }
            songs.insert(contentsOf: new, at: at)
        }
    }

    public func removeFromPlaylist(id: Int64, owner: Int64, positions: [Int]) async throws -> Playlist {
        try await mutate(id, owner: owner) { _, songs, _ in
            if let bad = positions.first(where: { !songs.indices.contains($0) }) {
                throw RepriseError(.badRequest, "no entry \(bad) in the playlist (entries are 0 to \(songs.count - 1))")
            }
            for p in Set(positions).sorted(by: >) { songs.remove(at: p) }
        }
    }

    public func moveInPlaylist(id: Int64, owner: Int64, from: Int, to: Int) async throws -> Playlist {
        try await mutate(id, owner: owner) { _, songs, _ in
            guard songs.indices.contains(from), songs.indices.contains(to) else {
                throw RepriseError(.badRequest, "entries are 0 to \(songs.count - 1)")
            }
            songs.insert(songs.remove(at: from), at: to)
        }
    }

    public func replacePlaylistSongs(id: Int64, owner: Int64, songs new: [Int64]) async throws -> Playlist {
        try await mutate(id, owner: owner) { db, songs, _ in
            try Self.requireSongs(db, new)
            songs = new
        }
    }

    public func deletePlaylist(id: Int64, owner: Int64) async throws {
        try await db.write { db in
            _ = try Self.owned(db, id, owner: owner)
            try db.execute(sql: "DELETE FROM playlists WHERE id = ?", arguments: [id])
        }
    }

    // MARK: Stars, ratings, plays

    static func table(_ kind: ItemKind) -> String {
        switch kind {
        case .song: "songs"
        case .album: "albums"
        case .artist: "artists"
        }
    }

    static func require(_ db: Database, _ kind: ItemKind, _ ids: [Int64]) throws {
        let unique = Set(ids)
        let found = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table(kind)) WHERE id IN (SELECT value FROM json_each(?))", arguments: [json(Array(unique))]) ?? 0
        guard found == unique.count else { throw RepriseError(.notFound, "no \(kind.rawValue) with one of the ids \(unique.sorted().prefix(5).map(String.init).joined(separator: ", "))") }
    }

    public func star(user: Int64, kind: ItemKind, ids: [Int64], on: Bool) async throws {
        let now = clock.nowMs()
        try await db.write { db in
            if on {
                try Self.require(db, kind, ids)
                let insert = try db.cachedStatement(sql: "INSERT INTO stars (user_id, kind, item_id, starred_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
                for id in ids { try insert.execute(arguments: [user, kind.rawValue, id, now]) }
            } else {
                try db.execute(
                    sql: "DELETE FROM stars WHERE user_id = ? AND kind = ? AND item_id IN (SELECT value FROM json_each(?))",
                    arguments: [user, kind.rawValue, Self.json(ids)])
            }
        }
    }

    public func rate(user: Int64, kind: ItemKind, id: Int64, rating: Int) async throws {
        guard (0...5).contains(rating) else { throw RepriseError(.badRequest, "a rating is 0 (none) to 5") }
        let now = clock.nowMs()
        try await db.write { db in
            try Self.require(db, kind, [id])
            if rating == 0 {
                try db.execute(sql: "DELETE FROM ratings WHERE user_id = ? AND kind = ? AND item_id = ?", arguments: [user, kind.rawValue, id])
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO ratings (user_id, kind, item_id, rating, rated_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (user_id, kind, item_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at
                        """,
                    arguments: [user, kind.rawValue, id, rating, now])
            }
        }
    }

    /// The column of `songs` that groups plays for a kind.
    static func playColumn(_ kind: ItemKind) -> String {
        switch kind {
        case .song: "s.id"
        case .album: "s.album_id"
        case .artist: "s.artist_id"
        }
    }

    public func annotations(user: Int64, kind: ItemKind, ids: [Int64]) async throws -> [Int64: Annotation] {
        guard !ids.isEmpty else { return [:] }
        let list = Self.json(Array(Set(ids)))
        return try await db.read { db in
            var out = Dictionary(uniqueKeysWithValues: Set(ids).map { ($0, Annotation()) })
            for r in try Row.fetchAll(
                db, sql: "SELECT item_id, starred_at FROM stars WHERE user_id = ? AND kind = ? AND item_id IN (SELECT value FROM json_each(?))",
                arguments: [user, kind.rawValue, list]) {
                out[r[0], default: Annotation()].starredAt = r[1]
            }
            for r in try Row.fetchAll(
                db, sql: "SELECT item_id, rating FROM ratings WHERE user_id = ? AND kind = ? AND item_id IN (SELECT value FROM json_each(?))",
                arguments: [user, kind.rawValue, list]) {
                out[r[0], default: Annotation()].rating = r[1]
            }
            let column = Self.playColumn(kind)
            for r in try Row.fetchAll(
                db, sql: """
                    SELECT \(column), count(*), max(p.played_at) FROM plays p JOIN songs s ON s.id = p.song_id
                    WHERE p.user_id = ? AND \(column) IN (SELECT value FROM json_each(?)) GROUP BY \(column)
                    """,
                arguments: [user, list]) {
                out[r[0], default: Annotation()].playCount = r[1]
                out[r[0], default: Annotation()].lastPlayedAt = r[2]
            }
            return out
        }
    }

    @discardableResult
    public func recordPlay(user: Int64, song: Int64, at: Int64, source: PlaySource, client: String?, windowMs: Int64) async throws -> Bool {
        try await db.write { db in
            try Self.require(db, .song, [song])
            if let last = try Int64.fetchOne(db, sql: "SELECT max(played_at) FROM plays WHERE user_id = ? AND song_id = ?", arguments: [user, song]),
               at >= last, at - last < windowMs {
                return false
            }
            try db.execute(
                sql: "INSERT INTO plays (user_id, song_id, played_at, source, client) VALUES (?, ?, ?, ?, ?)",
                arguments: [user, song, at, source.rawValue, StoredText.bounded(client, max: StoredText.maxClient)])
            return true
        }
    }

    // MARK: Lists, search, genres

    /// `sql` without its final ORDER BY: a total needs no ranking or sorting (FTS5's `rank` scores every match).
    static func unordered(_ sql: String) -> String {
        guard let r = sql.range(of: " ORDER BY ", options: .backwards) else { return sql }
        return String(sql[..<r.lowerBound])
    }

    /// The SQL of a list: one column `id`, in the list's order.
    static func listSQL(_ list: LibraryList, kind: ItemKind) -> String {
        let group = playColumn(kind)
        switch list {
        case .newest:
            return kind == .song
                ? "SELECT id FROM songs ORDER BY added_at DESC, id DESC"
                : "SELECT \(group) AS id FROM songs s GROUP BY \(group) ORDER BY max(s.added_at) DESC, \(group) DESC"
        case .recent:
            return "SELECT \(group) AS id FROM plays p JOIN songs s ON s.id = p.song_id WHERE p.user_id = ?1 GROUP BY \(group) ORDER BY max(p.played_at) DESC, \(group)"
        case .frequent:
            return "SELECT \(group) AS id FROM plays p JOIN songs s ON s.id = p.song_id WHERE p.user_id = ?1 GROUP BY \(group) ORDER BY count(*) DESC, max(p.played_at) DESC, \(group)"
        case .highest:
            return "SELECT item_id AS id FROM ratings WHERE user_id = ?1 AND kind = '\(kind.rawValue)' ORDER BY rating DESC, rated_at DESC, item_id"
        case .flagged:
            return "SELECT item_id AS id FROM stars WHERE user_id = ?1 AND kind = '\(kind.rawValue)' ORDER BY starred_at DESC, item_id"
        case .random:
            return "SELECT id FROM \(table(kind)) ORDER BY random()"
        }
    }

    public func list(_ list: LibraryList, kind: ItemKind, user: Int64, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64]) {
        let sql = Self.listSQL(list, kind: kind)
        let args: StatementArguments = sql.contains("?1") ? [user] : []
        return try await db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(Self.unordered(sql)))", arguments: args) ?? 0
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM (\(sql)) LIMIT \(max(0, limit)) OFFSET \(max(0, offset))", arguments: args)
            return (total, ids)
        }
    }

    /// An FTS5 query for `text` in `columns`: each word (letters and digits) a quoted prefix, all required; nil when there is no word.
    ///
    ///     LibraryStore.ftsQuery("Café del", columns: ["album"]) // {album} : ("café"* AND "del"*)
    public static func ftsQuery(_ text: String, columns: [String]) -> String? {
        var words: [String] = []
        var word = ""
        for ch in text.prefix(1_000) {
            if ch.isLetter || ch.isNumber { word.append(ch) } else if !word.isEmpty { words.append(word); word = "" }
        }
        if !word.isEmpty { words.append(word) }
        guard !words.isEmpty else { return nil }
        let terms = words.prefix(16).map { "\"\($0)\"*" }.joined(separator: " AND ")
        return "{\(columns.joined(separator: " "))} : (\(terms))"
    }

    public func search(_ text: String, kind: ItemKind, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64]) {
        let page = "LIMIT \(max(0, limit)) OFFSET \(max(0, offset))"
        let sql: String
        let args: StatementArguments
        switch kind {
        case .song:
            guard let q = Self.ftsQuery(text, columns: ["title", "artist", "album", "album_artist"]) else { return try await all(.song, page: page) }
            sql = "SELECT rowid AS id FROM songs_fts WHERE songs_fts MATCH ? ORDER BY rank"
            args = [q]
        case .album:
            guard let q = Self.ftsQuery(text, columns: ["album", "album_artist"]) else { return try await all(.album, page: page) }
            sql = """
                SELECT al.id FROM albums al JOIN artists ar ON ar.id = al.artist_id
                WHERE al.id IN (SELECT s.album_id FROM songs_fts f JOIN songs s ON s.id = f.rowid WHERE songs_fts MATCH ?)
                ORDER BY al.name COLLATE NOCASE, ar.name COLLATE NOCASE, al.id
                """
            args = [q]
        case .artist:
            guard let q = Self.ftsQuery(text, columns: ["artist"]), let qa = Self.ftsQuery(text, columns: ["album_artist"]) else { return try await all(.artist, page: page) }
            sql = """
                SELECT ar.id FROM artists ar WHERE ar.id IN (
                  SELECT s.artist_id FROM songs_fts f JOIN songs s ON s.id = f.rowid WHERE songs_fts MATCH ?
                  UNION SELECT al.artist_id FROM songs_fts f JOIN songs s ON s.id = f.rowid JOIN albums al ON al.id = s.album_id WHERE songs_fts MATCH ?)
                ORDER BY ar.name COLLATE NOCASE, ar.id
                """
            args = [q, qa]
        }
        return try await db.read { [args] db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(Self.unordered(sql)))", arguments: args) ?? 0
            return (total, try Int64.fetchAll(db, sql: "SELECT id FROM (\(sql)) \(page)", arguments: args))
        }
    }

    /// Every item of a kind (an empty search: clients sync the library that way), paged stably.
    func all(_ kind: ItemKind, page: String) async throws -> (total: Int, ids: [Int64]) {
        let sql = switch kind {
        // In id order: apps page through everything to sync, and the key's order costs no sort of the catalog.
        case .song: "SELECT s.id FROM songs s ORDER BY s.id"
        case .album: "SELECT al.id FROM albums al JOIN artists ar ON ar.id = al.artist_id ORDER BY al.name COLLATE NOCASE, ar.name COLLATE NOCASE, al.id"
        case .artist: "SELECT id FROM artists ORDER BY name COLLATE NOCASE, id"
        }
        return try await db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.table(kind))") ?? 0
            return (total, try Int64.fetchAll(db, sql: "\(sql) \(page)"))
        }
    }

    static let genreSelection = """
        g.id, g.name, (SELECT count(*) FROM songs s WHERE s.genre = g.name COLLATE NOCASE) AS songs,
          (SELECT count(DISTINCT s.album_id) FROM songs s WHERE s.genre = g.name COLLATE NOCASE) AS albums,
          (SELECT count(DISTINCT s.artist_id) FROM songs s WHERE s.genre = g.name COLLATE NOCASE) AS artists
        FROM genres g
        """

    public func genres() async throws -> [Genre] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.genreSelection) ORDER BY g.name COLLATE NOCASE").compactMap { r in
                let g = Genre(id: r[0], name: r[1], songCount: r[2], albumCount: r[3], artistCount: r[4])
                return g.songCount > 0 ? g : nil
            }
        }
    }

    public func genre(id: Int64) async throws -> Genre? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.genreSelection) WHERE g.id = ?", arguments: [id]).map { Genre(id: $0[0], name: $0[1], songCount: $0[2], albumCount: $0[3], artistCount: $0[4]) }
        }
    }

    func ids(kind: ItemKind, condition: String, arguments: StatementArguments, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64]) {
        let sql = switch kind {
        case .song: "SELECT s.id AS id FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id WHERE \(condition) ORDER BY ar.name COLLATE NOCASE, al.name COLLATE NOCASE, s.disc, s.track, s.id"
        case .album: "SELECT al.id AS id FROM albums al JOIN artists ar ON ar.id = al.artist_id WHERE al.id IN (SELECT s.album_id FROM songs s WHERE \(condition)) ORDER BY ar.name COLLATE NOCASE, al.name COLLATE NOCASE, al.id"
        case .artist: "SELECT ar.id AS id FROM artists ar WHERE ar.id IN (SELECT s.artist_id FROM songs s WHERE \(condition)) ORDER BY ar.name COLLATE NOCASE, ar.id"
        }
        return try await db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(Self.unordered(sql)))", arguments: arguments) ?? 0
            return (total, try Int64.fetchAll(db, sql: "\(sql) LIMIT \(max(0, limit)) OFFSET \(max(0, offset))", arguments: arguments))
        }
    }

    public func ids(kind: ItemKind, genre: String, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64]) {
        try await ids(kind: kind, condition: "s.genre = ? COLLATE NOCASE", arguments: [genre], limit: limit, offset: offset)
    }

    public func ids(kind: ItemKind, years: ClosedRange<Int>, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64]) {
        try await ids(kind: kind, condition: "s.year BETWEEN ? AND ?", arguments: [years.lowerBound, years.upperBound], limit: limit, offset: offset)
    }

    public func similar(song: Int64, limit: Int) async throws -> [Int64] {
        try await db.read { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT artist_id, genre FROM songs WHERE id = ?", arguments: [song]) else {
                throw RepriseError(.notFound, "no song \(song)")
            }
            let artist: Int64 = r[0]
            let genre: String? = r[1]
            var out = try Int64.fetchAll(db, sql: "SELECT id FROM songs WHERE artist_id = ? AND id <> ? ORDER BY random() LIMIT ?", arguments: [artist, song, max(0, limit)])
            if out.count < limit, let genre, !genre.isEmpty {
                out += try Int64.fetchAll(
                    db, sql: "SELECT id FROM songs WHERE genre = ? COLLATE NOCASE AND artist_id <> ? ORDER BY random() LIMIT ?",
                    arguments: [genre, artist, limit - out.count])
            }
            return out
        }
    }

    public func art(kind: ItemKind, id: Int64) async throws -> ArtSource? {
        try await db.read { db in
            func album(_ albumId: Int64) throws -> ArtSource? {
                if let path = try String.fetchOne(db, sql: "SELECT art_path FROM albums WHERE id = ?", arguments: [albumId]) { return .file(path) }
                return try String.fetchOne(db, sql: "SELECT path FROM songs WHERE album_id = ? AND art = 1 ORDER BY disc, track, id LIMIT 1", arguments: [albumId])
                    .map { .embedded(songPath: $0) }
            }
            switch kind {
            case .song:
                guard let r = try Row.fetchOne(db, sql: "SELECT path, art, album_id FROM songs WHERE id = ?", arguments: [id]) else { return nil }
                return r[1] == true ? .embedded(songPath: r[0]) : try album(r[2])
            case .album:
                return try album(id)
            case .artist:
                let albums = try Int64.fetchAll(
                    db, sql: """
                        SELECT al.id FROM albums al WHERE al.artist_id = ?1 OR al.id IN (SELECT album_id FROM songs WHERE artist_id = ?1)
                        ORDER BY (SELECT min(year) FROM songs s WHERE s.album_id = al.id), al.name, al.id
                        """,
                    arguments: [id])
                for a in albums { if let found = try album(a) { return found } }
                return nil
            }
        }
    }

    public func counts() async throws -> (genres: Int, playlists: Int) {
        try await db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM genres g WHERE EXISTS (SELECT 1 FROM songs s WHERE s.genre = g.name COLLATE NOCASE)") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM playlists") ?? 0)
        }
    }

    public func playQueue(user: Int64) async throws -> PlayQueue? {
        try await db.read { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM play_queues WHERE user_id = ?", arguments: [user]) else { return nil }
            let text: String = r["songs"]
            let saved = (try? JSONDecoder().decode([Int64].self, from: Data(text.utf8))) ?? []
            let known = Set(try Int64.fetchAll(db, sql: "SELECT id FROM songs WHERE id IN (SELECT value FROM json_each(?))", arguments: [text]))
            var current: Int? = r["current"]
            // Songs removed from the catalog since are left out; the current index follows its song.
            if let c = current { current = c < saved.count && known.contains(saved[c]) ? saved.prefix(c).filter(known.contains).count : nil }
            return PlayQueue(songs: saved.filter(known.contains), current: current, positionMs: r["position_ms"], changedAt: r["changed_at"], changedBy: r["changed_by"])
        }
    }

    public func savePlayQueue(user: Int64, _ queue: PlayQueue) async throws {
        guard queue.songs.count <= Playlist.maxSongs else { throw RepriseError(.badRequest, "a play queue holds at most \(Playlist.maxSongs) songs") }
        if let c = queue.current, !queue.songs.indices.contains(c) { throw RepriseError(.badRequest, "the current song is not in the queue") }
        try await db.write { db in
            guard !queue.songs.isEmpty else {
                try db.execute(sql: "DELETE FROM play_queues WHERE user_id = ?", arguments: [user])
                return
            }
            try Self.requireSongs(db, queue.songs)
            try db.execute(
                sql: """
                    INSERT INTO play_queues (user_id, songs, current, position_ms, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (user_id) DO UPDATE SET songs = excluded.songs, current = excluded.current, position_ms = excluded.position_ms,
                      changed_at = excluded.changed_at, changed_by = excluded.changed_by
                    """,
                arguments: [user, Self.json(queue.songs), queue.current, max(0, queue.positionMs), queue.changedAt, StoredText.bounded(queue.changedBy, max: StoredText.maxClient) ?? ""])
        }
    }

    public func withArt(kind: ItemKind, ids: [Int64]) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let albumHasArt = "(al.art_path IS NOT NULL OR EXISTS (SELECT 1 FROM songs x WHERE x.album_id = al.id AND x.art = 1))"
        let sql = switch kind {
        case .song: "SELECT s.id FROM songs s JOIN albums al ON al.id = s.album_id WHERE s.id IN (SELECT value FROM json_each(?1)) AND (s.art = 1 OR \(albumHasArt))"
        case .album: "SELECT al.id FROM albums al WHERE al.id IN (SELECT value FROM json_each(?1)) AND \(albumHasArt)"
        case .artist: "SELECT DISTINCT al.artist_id FROM albums al WHERE al.artist_id IN (SELECT value FROM json_each(?1)) AND \(albumHasArt)"
        }
        return try await db.read { db in Set(try Int64.fetchAll(db, sql: sql, arguments: [Self.json(ids)])) }
    }

    /// The SQL condition on a song row `s` (with `ar`, `al`) for one rule, and its arguments.
    static func condition(_ rule: SearchRule, kind: ItemKind, user: Int64) throws -> (String, [(any DatabaseValueConvertible)?]) {
        let item = playColumn(kind)
        let column: String
        var args: [(any DatabaseValueConvertible)?] = []
        switch rule.field {
        case .title, .favorite: column = "s.title"
        case .artist: column = "ar.name"
        case .album: column = "al.name"
        case .genre: column = "coalesce(s.genre, '')"
        case .year: column = "coalesce(s.year, 0)"
        case .rating:
            column = "coalesce((SELECT r.rating FROM ratings r WHERE r.user_id = ? AND r.kind = '\(kind.rawValue)' AND r.item_id = \(item)), 0)"
            args.append(user)
        case .playedTimes:
            let inner = item.replacingOccurrences(of: "s.", with: "ps.")
            column = "(SELECT count(*) FROM plays p JOIN songs ps ON ps.id = p.song_id WHERE p.user_id = ? AND \(inner) = \(item))"
            args.append(user)
        }
        var sql: String
        if rule.field.numeric {
            guard let n = Int64(rule.value.trimmingCharacters(in: .whitespaces)) else {
                throw RepriseError(.badRequest, "rule \(rule.field.rawValue) compares numbers, not '\(rule.value.prefix(40))'")
            }
            let op: String
            switch rule.match {
            case .atLeast: op = ">="
            case .atMost: op = "<="
            case .equals: op = "="
            case .notEquals: op = "<>"
            case .greater: op = ">"
            case .less: op = "<"
            default: throw RepriseError(.badRequest, "rule \(rule.field.rawValue) compares numbers")
            }
            sql = "\(column) \(op) ?"
            args.append(n)
        } else {
            let escaped = rule.value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            switch rule.match {
            case .contains: sql = "\(column) LIKE ? ESCAPE '\\'"; args.append("%\(escaped)%")
            case .notContains: sql = "\(column) NOT LIKE ? ESCAPE '\\'"; args.append("%\(escaped)%")
            case .startsWith: sql = "\(column) LIKE ? ESCAPE '\\'"; args.append("\(escaped)%")
            case .endsWith: sql = "\(column) LIKE ? ESCAPE '\\'"; args.append("%\(escaped)")
            case .equals: sql = "\(column) = ? COLLATE NOCASE"; args.append(rule.value)
            case .notEquals: sql = "\(column) <> ? COLLATE NOCASE"; args.append(rule.value)
            default: throw RepriseError(.badRequest, "rule \(rule.field.rawValue) compares text")
            }
        }
        if rule.field == .favorite {
            sql = "(\(item) IN (SELECT st.item_id FROM stars st WHERE st.user_id = ? AND st.kind = '\(kind.rawValue)') AND \(sql))"
            args.insert(user, at: 0)
        }
        return (sql, args)
    }

    public func search(rules: [SearchRule], matchAll: Bool, kind: ItemKind, user: Int64, random: Bool, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64]) {
        guard !rules.isEmpty, rules.count <= 32 else { throw RepriseError(.badRequest, "an advanced search takes 1 to 32 rules") }
        var parts: [String] = []
        var args: [(any DatabaseValueConvertible)?] = []
        for rule in rules {
            let (sql, a) = try Self.condition(rule, kind: kind, user: user)
            parts.append(sql)
            args += a
        }
        let whereSQL = parts.joined(separator: matchAll ? " AND " : " OR ")
        let item = Self.playColumn(kind)
        let order: String
        switch (random, kind) {
        case (true, _): order = "random()"
        case (false, .song): order = "ar.name COLLATE NOCASE, al.name COLLATE NOCASE, s.disc, s.track, s.id"
        case (false, .album): order = "min(al.name) COLLATE NOCASE, \(item)"
        case (false, .artist): order = "min(ar.name) COLLATE NOCASE, \(item)"
        }
        let group = kind == .song ? "" : "GROUP BY \(item)"
        let sql = "SELECT \(item) AS id FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id WHERE \(whereSQL) \(group) ORDER BY \(order)"
        let arguments = StatementArguments(args)
        return try await db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(Self.unordered(sql)))", arguments: arguments) ?? 0
            return (total, try Int64.fetchAll(db, sql: "\(sql) LIMIT \(max(0, limit)) OFFSET \(max(0, offset))", arguments: arguments))
        }
    }
}

extension LibraryStore: LibraryRepository {}
