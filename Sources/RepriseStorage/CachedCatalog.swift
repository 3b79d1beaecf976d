import RepriseCore
import RepriseSync

/// A catalog whose songs the stream path reads stay in memory for a few seconds: `cachedSong`
/// answers without I/O (the event loop's fast path). A scan in this process calls `invalidate`;
/// another process's shows within `SongCache.ttlMs`, or at once where a file no longer matches
/// (`song(id:fresh: true)`).
public final class CachedCatalog: CatalogRepository {
    let base: any CatalogRepository
    let cache: SongCache

    public init(_ base: any CatalogRepository, clock: any WallClock) {
        self.base = base
        cache = SongCache(clock: clock)
    }

    /// Forgets every song (after a scan changed the catalog).
    public func invalidate() { cache.clear() }

    public func cachedSong(id: Int64) -> Song? { cache.get(id) }

    public func song(id: Int64, fresh: Bool) async throws -> Song? {
        if !fresh, let hit = cache.get(id) { return hit }
        let song = try await base.song(id: id, fresh: true)
        if let song { cache.put(song) }
        return song
    }

    public func songs(ids: [Int64]) async throws -> [Song] { try await base.songs(ids: ids) }

    public func songs(query: String?, title: String?, artist: String?, album: String?, albumId: Int64?, artistId: Int64?, genre: String?, years: ClosedRange<Int>?, exact: Bool, limit: Int, offset: Int) async throws -> (total: Int, songs: [Song]) {
        try await base.songs(query: query, title: title, artist: artist, album: album, albumId: albumId, artistId: artistId, genre: genre, years: years, exact: exact, limit: limit, offset: offset)
    }

    public func albums(ids: [Int64]) async throws -> [AlbumInfo] { try await base.albums(ids: ids) }
    public func artists(ids: [Int64]) async throws -> [ArtistInfo] { try await base.artists(ids: ids) }

    public func artists(limit: Int, offset: Int, query: String?) async throws -> (total: Int, artists: [ArtistInfo]) {
        try await base.artists(limit: limit, offset: offset, query: query)
    }

    public func albums(limit: Int, offset: Int, query: String?, artistId: Int64?) async throws -> (total: Int, albums: [AlbumInfo]) {
        try await base.albums(limit: limit, offset: offset, query: query, artistId: artistId)
    }

    public func artist(id: Int64) async throws -> ArtistInfo? { try await base.artist(id: id) }
    public func album(id: Int64) async throws -> AlbumInfo? { try await base.album(id: id) }
    public func counts() async throws -> (songs: Int, albums: Int, artists: Int) { try await base.counts() }
    public func lastChanges() async throws -> (added: Int64?, updated: Int64?) { try await base.lastChanges() }
    public func playOrder(artistId: Int64?, albumId: Int64?) async throws -> [SongPlace] {
        try await base.playOrder(artistId: artistId, albumId: albumId)
    }
}

/// Songs by id kept briefly in memory, so a stream request costs no SQL for a song streamed recently.
final class SongCache: Sendable {
    private let songs = Locked<[Int64: (song: Song, at: Int64)]>([:])
    private let clock: any WallClock
    /// Another process's scan becomes visible after this long, ms.
    static let ttlMs: Int64 = 5_000
    static let capacity = 10_000

    init(clock: any WallClock) { self.clock = clock }

    func get(_ id: Int64) -> Song? {
        let now = clock.nowMs()
        return songs.withLock { c in
            // A clock that went back counts as stale.
            guard let hit = c[id], now >= hit.at, now - hit.at < Self.ttlMs else { return nil }
            return hit.song
        }
    }

    func put(_ song: Song) {
        let now = clock.nowMs()
        songs.withLock { c in
            if c.count >= Self.capacity { c.removeAll(keepingCapacity: true) }
            c[song.id] = (song, now)
        }
    }

    func clear() { songs.withLock { $0.removeAll() } }
}
