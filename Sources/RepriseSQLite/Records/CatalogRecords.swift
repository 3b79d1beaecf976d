import GRDB
import RepriseCore

/// A row of `songs`, read with its artist's and album's names (`SongRecord.selection`).
struct SongRecord: FetchableRecord {
    var song: Song

    /// The columns and joins a song is read with: `SELECT \(SongRecord.selection) WHERE ...`.
    static let selection = """
        s.*, ar.name AS artist_name, al.name AS album_name
        FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id
        """

    init(row r: Row) {
        song = Song(
            id: r["id"], path: r["path"], size: r["size"], mtimeMs: r["mtime_ms"], title: r["title"], artist: r["artist_name"],
            artistId: r["artist_id"], album: r["album_name"], albumId: r["album_id"], albumArtist: r["album_artist"], track: r["track"],
            disc: r["disc"], year: r["year"], genre: r["genre"], durationMs: r["duration_ms"], bitrate: r["bitrate"],
            sampleRate: r["sample_rate"], channels: r["channels"], format: r["format"], problem: r["problem"])
    }
}

/// A row of `artists`, with its counts (`ArtistRecord.selection`).
struct ArtistRecord: FetchableRecord {
    var info: ArtistInfo

    /// `SELECT \(ArtistRecord.selection) WHERE ...` (the table is `ar`).
    static let selection = """
        ar.id, ar.name,
          (SELECT count(*) FROM songs s WHERE s.artist_id = ar.id) AS songs,
          (SELECT count(*) FROM albums al WHERE al.artist_id = ar.id) AS albums
        FROM artists ar
        """

    init(row: Row) {
        info = ArtistInfo(id: row["id"], name: row["name"], songCount: row["songs"], albumCount: row["albums"])
    }

    /// The id of the artist named `name`, inserting it when new.
    static func id(_ db: Database, name: String) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO artists (name) VALUES (?) ON CONFLICT DO NOTHING").execute(arguments: [name])
        return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM artists WHERE name = ?"), arguments: [name])!
    }
}

/// A row of `albums`, with its artist, year and counts (`AlbumRecord.selection`).
struct AlbumRecord: FetchableRecord {
    var info: AlbumInfo

    /// `SELECT \(AlbumRecord.selection) WHERE ...` (the tables are `al` and `ar`).
    static let selection = """
        al.id, al.name, al.artist_id, ar.name AS artist_name,
          (SELECT max(year) FROM songs s WHERE s.album_id = al.id) AS year,
          (SELECT count(*) FROM songs s WHERE s.album_id = al.id) AS songs,
          (SELECT coalesce(sum(duration_ms), 0) FROM songs s WHERE s.album_id = al.id) AS duration
        FROM albums al JOIN artists ar ON ar.id = al.artist_id
        """

    init(row: Row) {
        info = AlbumInfo(id: row["id"], name: row["name"], artist: row["artist_name"], artistId: row["artist_id"], year: row["year"], songCount: row["songs"], durationMs: row["duration"])
    }

    /// The id of the album `name` by the artist `artistId`, inserting it when new.
    static func id(_ db: Database, name: String, artistId: Int64) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO albums (name, artist_id) VALUES (?, ?) ON CONFLICT DO NOTHING").execute(arguments: [name, artistId])
        return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM albums WHERE name = ? AND artist_id = ?"), arguments: [name, artistId])!
    }
}
