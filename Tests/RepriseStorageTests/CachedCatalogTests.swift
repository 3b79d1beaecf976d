import RepriseCore
import RepriseStorage
import RepriseSync
import Testing

/// A catalog of one song in memory that counts its reads.
final class OneSongCatalog: CatalogRepository {
    let song: Locked<Song>
    private let reads = Locked(0)
    init(_ song: Song) { self.song = Locked(song) }
    var songReads: Int { reads.withLock { $0 } }

    func cachedSong(id: Int64) -> Song? { nil }
    func song(id: Int64, fresh: Bool) async throws -> Song? {
        reads.withLock { $0 += 1 }
        return song.withLock { $0.id == id ? $0 : nil }
    }
    func songs(ids: [Int64]) async throws -> [Song] { song.withLock { s in ids.contains(s.id) ? [s] : [] } }
    func songs(query: String?, title: String?, artist: String?, album: String?, albumId: Int64?, artistId: Int64?, exact: Bool, limit: Int, offset: Int) async throws -> (total: Int, songs: [Song]) {
        (1, [song.withLock { $0 }])
    }
    func artists(limit: Int, offset: Int, query: String?) async throws -> (total: Int, artists: [ArtistInfo]) { (0, []) }
    func albums(limit: Int, offset: Int, query: String?, artistId: Int64?) async throws -> (total: Int, albums: [AlbumInfo]) { (0, []) }
    func artist(id: Int64) async throws -> ArtistInfo? { nil }
    func album(id: Int64) async throws -> AlbumInfo? { nil }
    func albums(ids: [Int64]) async throws -> [AlbumInfo] { [] }
    func artists(ids: [Int64]) async throws -> [ArtistInfo] { [] }
    func counts() async throws -> (songs: Int, albums: Int, artists: Int) { (1, 0, 0) }
    func lastChanges() async throws -> (added: Int64?, updated: Int64?) { (nil, nil) }
    func playOrder(artistId: Int64?, albumId: Int64?) async throws -> [SongPlace] { [song.withLock { SongPlace(id: $0.id, albumId: $0.albumId, artistId: $0.artistId) }] }
}

/// `CachedCatalog`: songs in memory for the stream path, forgotten on a scan or after a few seconds.
@Suite struct CachedCatalogTests {
    let a = Song(id: 7, path: "/m/a.flac", size: 10, mtimeMs: 1, title: "A", artist: "B", artistId: 1, album: "C", albumId: 1, albumArtist: nil,
                 track: nil, disc: nil, year: nil, genre: nil, durationMs: 1, bitrate: 1, sampleRate: 1, channels: 2, format: "flac")

    @Test func remembersForgetsAndRereads() async throws {
        let clock = ManualWallClock()
        let base = OneSongCatalog(a)
        let catalog = CachedCatalog(base, clock: clock)
        #expect(catalog.cachedSong(id: 7) == nil)
        #expect(try await catalog.song(id: 7)?.title == "A")
        #expect(catalog.cachedSong(id: 7)?.title == "A")
        _ = try await catalog.song(id: 7)
        #expect(base.songReads == 1)
        base.song.withLock { $0.title = "A2" }
        #expect(try await catalog.song(id: 7, fresh: true)?.title == "A2")  // a file that no longer matches
        catalog.invalidate()  // a scan in this process
        #expect(catalog.cachedSong(id: 7) == nil)
        _ = try await catalog.song(id: 7)
        clock.advance(ms: 5_000)  // another process's scan shows within the cache's lifetime
        #expect(catalog.cachedSong(id: 7) == nil)
    }
}
