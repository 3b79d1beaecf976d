import GRDB
import RepriseCore
import RepriseStorage

extension CatalogStore {
    /// One artist with its counts, by id.
    public func artist(id: Int64) async throws -> ArtistInfo? {
        try await db.read { db in
            try ArtistRecord.fetchOne(db, sql: "SELECT \(ArtistRecord.selection) WHERE ar.id = ?", arguments: [id])?.info
        }
    }

    /// One album with its artist, year and counts, by id.
    public func album(id: Int64) async throws -> AlbumInfo? {
        try await db.read { db in
            try AlbumRecord.fetchOne(db, sql: "SELECT \(AlbumRecord.selection) WHERE al.id = ?", arguments: [id])?.info
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
