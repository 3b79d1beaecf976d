import GRDB
import RepriseCore

/// A row of `songs`, read with its artist's and album's names (`SongRecord.selection`).
struct SongRecord: FetchableRecord {
    var song: Song

    /// The columns and joins a song is read with: `SELECT \(SongRecord.selection) WHERE ...`, in the
    /// order `init(row:)` reads them by position (by name, GRDB folds each column's case per row:
    /// a tenth of a 500-song Subsonic page).
    static let selection = """
        s.id, s.path, s.size, s.mtime_ms, s.title, ar.name AS artist_name, s.artist_id, al.name AS album_name, s.album_id,
          s.album_artist, s.track, s.disc, s.year, s.genre, s.duration_ms, s.bitrate, s.sample_rate, s.channels, s.format, s.problem
        FROM songs s JOIN artists ar ON ar.id = s.artist_id JOIN albums al ON al.id = s.album_id
        """

    init(row r: Row) {
        song = Song(
            id: r[0], path: r[1], size: r[2], mtimeMs: r[3], title: r[4], artist: r[5],
            artistId: r[6], album: r[7], albumId: r[8], albumArtist: r[9], track: r[10],
            disc: r[11], year: r[12], genre: r[13], durationMs: r[14], bitrate: r[15],
            sampleRate: r[16], channels: r[17], format: r[18], problem: r[19])
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
