import GRDB
import RepriseCore
import RepriseStorage

extension CatalogStore {
    /// One artist with its counts, by id.
    public func artist(id: Int64) async throws -> ArtistInfo? {
        try await db.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT ar.id, ar.name,
                      (SELECT count(*) FROM songs s WHERE s.artist_id = ar.id) AS songs,
                      (SELECT count(*) FROM albums al WHERE al.artist_id = ar.id) AS albums
                    FROM artists ar WHERE ar.id = ?
                    """,
                arguments: [id]
            ).map { ArtistInfo(id: $0["id"], name: $0["name"], songCount: $0["songs"], albumCount: $0["albums"]) }
        }
    }

    /// One album with its artist, year and counts, by id.
    public func album(id: Int64) async throws -> AlbumInfo? {
        try await db.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT al.id, al.name, al.artist_id, ar.name AS artist_name,
                      (SELECT max(year) FROM songs s WHERE s.album_id = al.id) AS year,
                      (SELECT count(*) FROM songs s WHERE s.album_id = al.id) AS songs,
                      (SELECT coalesce(sum(duration_ms), 0) FROM songs s WHERE s.album_id = al.id) AS duration
                    FROM albums al JOIN artists ar ON ar.id = al.artist_id WHERE al.id = ?
                    """,
                arguments: [id]
            ).map { AlbumInfo(id: $0["id"], name: $0["name"], artist: $0["artist_name"], artistId: $0["artist_id"], year: $0["year"], songCount: $0["songs"], durationMs: $0["duration"]) }
        }
    }

    /// When songs were last added and last updated (epoch ms), nil for an empty catalog.
    public func lastChanges() async throws -> (added: Int64?, updated: Int64?) {
        try await db.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT max(added_at) AS a, max(updated_at) AS u FROM songs")
            return (row?["a"], row?["u"])
        }
    }
}
