import Foundation
import GRDB
import GRDBSQLite
import RepriseCore
import RepriseStorage
import RepriseSync

/// The catalog's rows: songs, artists, albums; written by scans, read by browsing and streaming.
public struct CatalogStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    /// Songs by id for the stream path; shared by copies of this store, cleared by `apply`.

    public init(db: DatabasePool, clock: any WallClock) {
        self.db = db
        self.clock = clock
    }

    /// Every indexed file: path to (id, size, mtime).
    public func index() async throws -> [String: (id: Int64, size: Int64, mtimeMs: Int64)] {
        try await db.read { db in
            var out: [String: (id: Int64, size: Int64, mtimeMs: Int64)] = [:]
            out.reserveCapacity(try Int.fetchOne(db, sql: "SELECT count(*) FROM songs") ?? 0)
            // By position, straight into the dictionary: a rescan is mostly this and the walk.
            let rows = try Row.fetchCursor(db, sql: "SELECT path, id, size, mtime_ms FROM songs")
            while let r = try rows.next() { out[r[0]] = (r[1], r[2], r[3]) }
            return out
        }
    }

    /// Makes an index with `make` (given the number of songs) and adds every song's path bytes, id,
    /// size and mtime to it with `add`, through SQLite's C API.
    ///
    ///     let paths = try await catalog.index(PathIndex.init(capacity:)) { $0.add(path: $1, IndexedFile(id: $2, size: $3, mtimeMs: $4)) }
    public func index<Index: Sendable>(
        _ make: @escaping @Sendable (Int) -> Index, add: @escaping @Sendable (inout Index, UnsafeBufferPointer<UInt8>, Int64, Int64, Int64) -> Void
    ) async throws -> Index {
        try await db.read { db in
            var out = make(try Int.fetchOne(db, sql: "SELECT count(*) FROM songs") ?? 0)
            // A rescan of an unchanged library is mostly this and the walk: no `Row` or `String` per song.
            // In id order, the order a scan added them: the order the next walk finds them in.
            let statement = try db.makeStatement(sql: "SELECT path, id, size, mtime_ms FROM songs ORDER BY id")
            try withExtendedLifetime(statement) {
                let s = statement.sqliteStatement
                var code = sqlite3_step(s)
                while code == SQLITE_ROW {
                    let path = UnsafeBufferPointer(start: sqlite3_column_text(s, 0), count: Int(sqlite3_column_bytes(s, 0)))
                    add(&out, path, sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3))
                    code = sqlite3_step(s)
                }
                guard code == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
            }
            return out
        }
    }

    /// Writes a scan's result in batches of short transactions; song ids of kept paths never change.
    public func apply(inserts: [SongFile], updates: [SongFile], removed: [Int64], batchSize: Int = 500) async throws {
        let now = clock.nowMs()
        for chunk in (inserts + updates).chunked(batchSize) {
            try await db.write { db in
                for s in chunk { try Self.upsert(db, s, now: now) }
            }
        }
        for chunk in removed.chunked(batchSize) {
            try await db.write { db in
                for id in chunk { try db.cachedStatement(sql: "DELETE FROM songs WHERE id = ?").execute(arguments: [id]) }
            }
        }
        // Albums and artists lose songs only through updates and removals.
        guard !updates.isEmpty || !removed.isEmpty else { return }
        try await db.write { db in
            try db.execute(sql: "DELETE FROM albums WHERE id NOT IN (SELECT DISTINCT album_id FROM songs)")
            try db.execute(sql: "DELETE FROM artists WHERE id NOT IN (SELECT DISTINCT artist_id FROM songs) AND id NOT IN (SELECT DISTINCT artist_id FROM albums)")
            try db.execute(sql: "DELETE FROM genres WHERE NOT EXISTS (SELECT 1 FROM songs s WHERE s.genre = genres.name COLLATE NOCASE)")
        }
    }

    /// Inserts or updates one song, its artist and its album, with statements prepared once per connection.
    static func upsert(_ db: Database, _ s: SongFile, now: Int64) throws {
        let artistId = try ArtistRecord.id(db, name: s.artist)
        let albumArtistId = try s.albumArtist.map { try ArtistRecord.id(db, name: $0) } ?? artistId
        let albumId = try AlbumRecord.id(db, name: s.album, artistId: albumArtistId)
        let args: StatementArguments = [
            s.path, s.size, s.mtimeMs, s.title, artistId, albumId, s.albumArtist, s.track, s.disc, s.year, s.genre,
            s.durationMs, s.bitrate, s.sampleRate, s.channels, s.format, now, now, s.hasArt, s.problem,
        ]
        try db.cachedStatement(
            sql: """
                INSERT INTO songs (path, size, mtime_ms, title, artist_id, album_id, album_artist, track, disc, year, genre,
                                   duration_ms, bitrate, sample_rate, channels, format, added_at, updated_at, art, problem)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (path) DO UPDATE SET
                  size = excluded.size, mtime_ms = excluded.mtime_ms, title = excluded.title, artist_id = excluded.artist_id,
                  album_id = excluded.album_id, album_artist = excluded.album_artist, track = excluded.track, disc = excluded.disc,
                  year = excluded.year, genre = excluded.genre, duration_ms = excluded.duration_ms, bitrate = excluded.bitrate,
                  sample_rate = excluded.sample_rate, channels = excluded.channels, format = excluded.format, updated_at = excluded.updated_at,
                  art = excluded.art, problem = excluded.problem
                """
        ).execute(arguments: args)
    }

    /// Each album's song folders and its current folder image.
    public func albumFolders() async throws -> [(album: Int64, folders: [String], art: String?)] {
        try await db.read { db in
            var folders: [Int64: Set<String>] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT album_id, path FROM songs")
            while let r = try rows.next() {
                let path: String = r[1]
                let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
                folders[r[0], default: []].insert(folder)
            }
            let art = Dictionary(try Row.fetchAll(db, sql: "SELECT id, art_path FROM albums").map { ($0[0] as Int64, $0[1] as String?) }, uniquingKeysWith: { a, _ in a })
            return folders.map { (album: $0.key, folders: $0.value.sorted(), art: art[$0.key] ?? nil) }
        }
    }

    /// The folder images albums use now.
    public func albumArtPaths() async throws -> Set<String> {
        try await db.read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT art_path FROM albums WHERE art_path IS NOT NULL")) }
    }

    /// Sets (or clears) the image file an album's art is read from.
    public func setArt(album: Int64, path: String?) async throws {
        try await db.write { db in try db.execute(sql: "UPDATE albums SET art_path = ? WHERE id = ?", arguments: [path, album]) }
    }

    /// Nothing: this store keeps no songs in memory (`CachedCatalog` does, above it).
    public func cachedSong(id: Int64) -> Song? { nil }

    /// One song by id, read from the database (`fresh` changes nothing here).
    public func song(id: Int64, fresh: Bool = false) async throws -> Song? {
        try await db.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT \(SongRecord.selection) WHERE s.id = ?"), arguments: [id]).map { SongRecord(row: $0).song }
        }
    }

    /// Songs by id, in the order asked; unknown ids are left out.
    public func songs(ids: [Int64]) async throws -> [Song] {
        guard !ids.isEmpty else { return [] }
        let list = ids.map(String.init).joined(separator: ",")
        let found = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT \(SongRecord.selection) WHERE s.id IN (SELECT value FROM json_each(?))", arguments: ["[\(list)]"]).map { SongRecord(row: $0).song }
        }
        let byId = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byId[$0] }
    }

    /// A page of songs matching a text query, artist or album filters, with the total.
    public func songs(query: String?, title: String? = nil, artist: String?, album: String?, albumId: Int64? = nil, artistId: Int64? = nil, genre: String? = nil, years: ClosedRange<Int>? = nil, exact: Bool = false, limit: Int, offset: Int) async throws -> (total: Int, songs: [Song]) {
        var conditions: [String] = []
        var args: [(any DatabaseValueConvertible)?] = []
        func like(_ column: String, _ value: String) {
            if exact {
                conditions.append("\(column) = ?")
                args.append(value)
            } else {
                conditions.append("\(column) LIKE ? ESCAPE '\\'")
                args.append("%" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%")
            }
        }
        if let query, !query.isEmpty {
            let before = conditions.count
            like("s.title", query); like("ar.name", query); like("al.name", query)
            let parts = conditions[before...].joined(separator: " OR ")
            conditions.removeSubrange(before...)
            conditions.append("(\(parts))")
        }
        if let title, !title.isEmpty { like("s.title", title) }
        if let artist, !artist.isEmpty { like("ar.name", artist) }
        if let album, !album.isEmpty { like("al.name", album) }
        if let albumId { conditions.append("s.album_id = ?"); args.append(albumId) }
        if let artistId { conditions.append("s.artist_id = ?"); args.append(artistId) }
        if let genre { conditions.append("s.genre = ? COLLATE NOCASE"); args.append(genre) }
        if let years { conditions.append("s.year BETWEEN ? AND ?"); args.append(years.lowerBound); args.append(years.upperBound) }
        let whereSQL = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let arguments = StatementArguments(args)
        let page = StatementArguments([limit, offset])
        return try await db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id \(whereSQL)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(SongRecord.selection) \(whereSQL) ORDER BY ar.name, al.name, s.disc, s.track, s.title, s.id LIMIT ? OFFSET ?",
                arguments: arguments + page)
            return (total, rows.map { SongRecord(row: $0).song })
        }
    }

    /// Artists with song and album counts, by name.
    public func artists(limit: Int = 10_000, offset: Int = 0, query: String? = nil) async throws -> (total: Int, artists: [ArtistInfo]) {
        let filter = query.map { "%" + $0 + "%" }
        return try await db.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM artists WHERE ? IS NULL OR name LIKE ?", arguments: [filter, filter]) ?? 0
            let rows = try ArtistRecord.fetchAll(
                db, sql: "SELECT \(ArtistRecord.selection) WHERE ? IS NULL OR ar.name LIKE ? ORDER BY ar.name LIMIT ? OFFSET ?",
                arguments: [filter, filter, limit, offset])
            return (total, rows.map(\.info))
        }
    }

    /// Albums with their artist, year and song counts, by artist then name.
    public func albums(limit: Int = 10_000, offset: Int = 0, query: String? = nil, artistId: Int64? = nil) async throws -> (total: Int, albums: [AlbumInfo]) {
        let filter = query.map { "%" + $0 + "%" }
        return try await db.read { db in
            let total = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM albums WHERE (? IS NULL OR name LIKE ?) AND (? IS NULL OR artist_id = ?)",
                arguments: [filter, filter, artistId, artistId]) ?? 0
            let rows = try AlbumRecord.fetchAll(
                db,
                sql: """
                    SELECT \(AlbumRecord.selection)
                    WHERE (? IS NULL OR al.name LIKE ?) AND (? IS NULL OR al.artist_id = ?)
                    ORDER BY ar.name, al.name LIMIT ? OFFSET ?
                    """,
                arguments: [filter, filter, artistId, artistId, limit, offset])
            return (total, rows.map(\.info))
        }
    }

    /// Albums by id, in the order asked; unknown ids are left out.
    public func albums(ids: [Int64]) async throws -> [AlbumInfo] {
        guard !ids.isEmpty else { return [] }
        let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
        let found = try await db.read { db in
            try AlbumRecord.fetchAll(db, sql: "SELECT \(AlbumRecord.selection) WHERE al.id IN (SELECT value FROM json_each(?))", arguments: [list]).map(\.info)
        }
        let byId = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byId[$0] }
    }

    /// Artists by id, in the order asked; unknown ids are left out.
    public func artists(ids: [Int64]) async throws -> [ArtistInfo] {
        guard !ids.isEmpty else { return [] }
        let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
        let found = try await db.read { db in
            try ArtistRecord.fetchAll(db, sql: "SELECT \(ArtistRecord.selection) WHERE ar.id IN (SELECT value FROM json_each(?))", arguments: [list]).map(\.info)
        }
        let byId = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byId[$0] }
    }

    /// Counts of songs, albums and artists.
    public func counts() async throws -> (songs: Int, albums: Int, artists: Int) {
        try await db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM songs") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM albums") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM artists") ?? 0)
        }
    }

    /// Random song ids, optionally limited to an artist or album.
    public func playOrder(artistId: Int64? = nil, albumId: Int64? = nil) async throws -> [SongPlace] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: """
                    SELECT s.id, s.album_id, s.artist_id FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id
                      JOIN (SELECT album_id, min(year) AS year FROM songs GROUP BY album_id) ay ON ay.album_id = s.album_id
                    WHERE (?1 IS NULL OR s.artist_id = ?1) AND (?2 IS NULL OR s.album_id = ?2)
                    ORDER BY ar.name COLLATE NOCASE, ar.id, ay.year, al.name COLLATE NOCASE, al.id,
                      coalesce(s.disc, 1), coalesce(s.track, 0), s.title COLLATE NOCASE, s.id
                    """,
                arguments: [artistId, albumId]
            ).map { SongPlace(id: $0[0], albumId: $0[1], artistId: $0[2]) }
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: Swift.max(1, size)).map { self[$0..<Swift.min($0 + Swift.max(1, size), count)] }
    }
}

