import Foundation
import GRDB
import RepriseCore
import Testing
@testable import RepriseSQLite

/// A library on a real SQLite file: a small catalog, two users.
struct LibraryFixture {
    let f: Fixture
    let catalog: CatalogStore
    let library: LibraryStore
    let ann: User
    let bob: User
    /// Song ids in insertion order.
    let songs: [Int64]

    static let files: [(title: String, artist: String, album: String, albumArtist: String?, genre: String?, year: Int)] = [
        ("Café Noir", "Émile", "Nuit à Paris", nil, "Jazz", 1961),
        ("Blue in Green", "Miles", "Kind of Blue", nil, "jazz", 1959),
        ("So What", "Miles", "Kind of Blue", nil, "Jazz", 1959),
        ("Étude", "Chopin", "Études", "Pollini", "Classical", 1972),
        ("Rain", "Beatles", "Revolver", nil, "Rock", 1966),
    ]

    init() async throws {
        f = try Fixture()
        catalog = CatalogStore(db: f.db, clock: f.clock)
        library = LibraryStore(db: f.db, clock: f.clock)
        ann = try await f.users.add(name: "ann", password: "password1", role: .user)
        bob = try await f.users.add(name: "bob", password: "password1", role: .user)
        let files = Self.files.enumerated().map { i, t in
            SongFile(
                id: nil, path: "/music/\(i).flac", size: 1000, mtimeMs: 1, title: t.title, artist: t.artist, album: t.album, albumArtist: t.albumArtist,
                track: i + 1, disc: 1, year: t.year, genre: t.genre, durationMs: Int64(60_000 * (i + 1)), bitrate: 900, sampleRate: 44_100, channels: 2,
                format: "flac", hasArt: i == 1)
        }
        try await catalog.apply(inserts: files, updates: [], removed: [])
        songs = try await catalog.songs(ids: Array(1...5)).map(\.id)
    }

    func song(_ title: String) async throws -> Song {
        try #require(try await catalog.songs(query: nil, title: title, artist: nil, album: nil, exact: true, limit: 1, offset: 0).songs.first)
    }
}

@Suite struct PlaylistStoreTests {
    @Test func playlistsKeepOrderAndDuplicatesAndEditByPosition() async throws {
        let l = try await LibraryFixture()
        let s = l.songs
        var p = try await l.library.createPlaylist(owner: l.ann.id, name: " Evening ", comment: "for later", isPublic: false, songs: [s[0], s[1], s[0]])
        #expect(p.name == "Evening" && p.songCount == 3 && p.owner == "ann" && p.durationMs == 60_000 + 120_000 + 60_000)
        p = try await l.library.addToPlaylist(id: p.id, owner: l.ann.id, songs: [s[4]], at: 1)
        #expect(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id)?.map(\.id) == [s[0], s[4], s[1], s[0]])
        p = try await l.library.removeFromPlaylist(id: p.id, owner: l.ann.id, positions: [3, 0])
        #expect(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id)?.map(\.id) == [s[4], s[1]])
        p = try await l.library.moveInPlaylist(id: p.id, owner: l.ann.id, from: 1, to: 0)
        #expect(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id)?.map(\.id) == [s[1], s[4]])
        p = try await l.library.editPlaylist(id: p.id, owner: l.ann.id, name: "Night", comment: nil, isPublic: true)
        #expect(p.name == "Night" && p.comment == "for later" && p.isPublic)
        // Bad positions and unknown songs are refused, and change nothing.
        await #expect(throws: RepriseError.self) { try await l.library.removeFromPlaylist(id: p.id, owner: l.ann.id, positions: [2]) }
        await #expect(throws: RepriseError.self) { try await l.library.removeFromPlaylist(id: p.id, owner: l.ann.id, positions: [-1]) }
        await #expect(throws: RepriseError.self) { try await l.library.addToPlaylist(id: p.id, owner: l.ann.id, songs: [s[0], 999], at: nil) }
        await #expect(throws: RepriseError.self) { try await l.library.moveInPlaylist(id: p.id, owner: l.ann.id, from: 0, to: Int.max) }
        await #expect(throws: RepriseError.self) { try await l.library.editPlaylist(id: p.id, owner: l.ann.id, name: "", comment: nil, isPublic: nil) }
        #expect(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id)?.map(\.id) == [s[1], s[4]])
    }

    @Test func othersReadPublicPlaylistsAndChangeNone() async throws {
        let l = try await LibraryFixture()
        let open = try await l.library.createPlaylist(owner: l.ann.id, name: "Open", comment: "", isPublic: true, songs: [l.songs[0]])
        let mine = try await l.library.createPlaylist(owner: l.ann.id, name: "Mine", comment: "", isPublic: false, songs: [l.songs[1]])
        #expect(try await l.library.playlists(viewer: l.bob.id).map(\.name) == ["Open"])
        #expect(try await l.library.playlists(viewer: l.ann.id).map(\.name) == ["Mine", "Open"])
        #expect(try await l.library.playlistSongs(id: open.id, viewer: l.bob.id)?.count == 1)
        #expect(try await l.library.playlistSongs(id: mine.id, viewer: l.bob.id) == nil)
        do {
            _ = try await l.library.addToPlaylist(id: open.id, owner: l.bob.id, songs: [l.songs[2]], at: nil)
            Issue.record("bob changed ann's playlist")
        } catch let e as RepriseError { #expect(e.code == .forbidden) }
        do {
            try await l.library.deletePlaylist(id: mine.id, owner: l.bob.id)
            Issue.record("bob deleted ann's playlist")
        } catch let e as RepriseError { #expect(e.code == .notFound) }
        try await l.library.deletePlaylist(id: mine.id, owner: l.ann.id)
        #expect(try await l.library.playlists(viewer: l.ann.id).map(\.name) == ["Open"])
    }

    @Test func concurrentAddsAreAllKept() async throws {
        let l = try await LibraryFixture()
        let p = try await l.library.createPlaylist(owner: l.ann.id, name: "Busy", comment: "", isPublic: false, songs: [])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<24 {
                group.addTask { _ = try await l.library.addToPlaylist(id: p.id, owner: l.ann.id, songs: [l.songs[i % 5]], at: 0) }
            }
            try await group.waitForAll()
        }
        let songs = try #require(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id))
        #expect(songs.count == 24)
        #expect(Dictionary(grouping: songs, by: \.id).values.map(\.count).sorted() == [4, 5, 5, 5, 5])
    }

    @Test func aSongRemovedFromTheCatalogLeavesPlaylistsStarsAndPlays() async throws {
        let l = try await LibraryFixture()
        let gone = l.songs[2]
        let p = try await l.library.createPlaylist(owner: l.ann.id, name: "P", comment: "", isPublic: false, songs: [l.songs[0], gone, l.songs[1], gone])
        try await l.library.star(user: l.ann.id, kind: .song, ids: [gone], on: true)
        try await l.library.rate(user: l.ann.id, kind: .song, id: gone, rating: 4)
        try await l.library.recordPlay(user: l.ann.id, song: gone, at: 1_000, source: .client, client: "t", windowMs: 0)
        try await l.catalog.apply(inserts: [], updates: [], removed: [gone])
        #expect(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id)?.map(\.id) == [l.songs[0], l.songs[1]])
        #expect(try await l.library.playlist(id: p.id, viewer: l.ann.id)?.songCount == 2)
        // Positions stay dense: the entry after the removed one is entry 1 now.
        _ = try await l.library.removeFromPlaylist(id: p.id, owner: l.ann.id, positions: [1])
        #expect(try await l.library.playlistSongs(id: p.id, viewer: l.ann.id)?.map(\.id) == [l.songs[0]])
        #expect(try await l.library.list(.flagged, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids.isEmpty)
        #expect(try await l.library.list(.highest, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids.isEmpty)
        #expect(try await l.library.list(.recent, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids.isEmpty)
    }
}

@Suite struct AnnotationStoreTests {
    @Test func starsRatingsAndPlaysArePerUser() async throws {
        let l = try await LibraryFixture()
        let s = l.songs
        l.f.clock.set(ms: 10_000)
        try await l.library.star(user: l.ann.id, kind: .song, ids: [s[0], s[3]], on: true)
        try await l.library.rate(user: l.ann.id, kind: .song, id: s[3], rating: 5)
        try await l.library.rate(user: l.ann.id, kind: .song, id: s[0], rating: 2)
        let album = try await l.song("So What").albumId
        try await l.library.star(user: l.ann.id, kind: .album, ids: [album], on: true)
        var marks = try await l.library.annotations(user: l.ann.id, kind: .song, ids: [s[0], s[1], s[3]])
        #expect(marks[s[0]] == Annotation(starredAt: 10_000, rating: 2))
        #expect(marks[s[1]] == Annotation())
        #expect(marks[s[3]]?.rating == 5)
        #expect(try await l.library.annotations(user: l.bob.id, kind: .song, ids: [s[0]])[s[0]] == Annotation())
        #expect(try await l.library.list(.highest, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids == [s[3], s[0]])
        #expect(try await l.library.list(.flagged, kind: .album, user: l.ann.id, limit: 10, offset: 0).ids == [album])
        // 0 removes a rating; out of range and unknown ids are errors.
        try await l.library.rate(user: l.ann.id, kind: .song, id: s[0], rating: 0)
        marks = try await l.library.annotations(user: l.ann.id, kind: .song, ids: [s[0]])
        #expect(marks[s[0]]?.rating == 0)
        await #expect(throws: RepriseError.self) { try await l.library.rate(user: l.ann.id, kind: .song, id: s[0], rating: 6) }
        await #expect(throws: RepriseError.self) { try await l.library.rate(user: l.ann.id, kind: .song, id: s[0], rating: Int.min) }
        await #expect(throws: RepriseError.self) { try await l.library.star(user: l.ann.id, kind: .artist, ids: [424_242], on: true) }
        try await l.library.star(user: l.ann.id, kind: .song, ids: [s[0]], on: false)
        #expect(try await l.library.list(.flagged, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids == [s[3]])
    }

    @Test func aPlayCountsOnceWithinItsWindowAndFeedsTheLists() async throws {
        let l = try await LibraryFixture()
        let s = l.songs
        #expect(try await l.library.recordPlay(user: l.ann.id, song: s[1], at: 100_000, source: .stream, client: "living", windowMs: 60_000))
        #expect(try await l.library.recordPlay(user: l.ann.id, song: s[1], at: 130_000, source: .client, client: "phone", windowMs: 60_000) == false)
        #expect(try await l.library.recordPlay(user: l.ann.id, song: s[1], at: 200_000, source: .client, client: "phone", windowMs: 60_000))
        #expect(try await l.library.recordPlay(user: l.ann.id, song: s[4], at: 300_000, source: .client, client: "phone", windowMs: 60_000))
        #expect(try await l.library.recordPlay(user: l.bob.id, song: s[0], at: 300_000, source: .client, client: nil, windowMs: 60_000))
        await #expect(throws: RepriseError.self) { try await l.library.recordPlay(user: l.ann.id, song: 9_999, at: 1, source: .client, client: nil, windowMs: 0) }
        let marks = try await l.library.annotations(user: l.ann.id, kind: .song, ids: [s[1]])
        #expect(marks[s[1]]?.playCount == 2 && marks[s[1]]?.lastPlayedAt == 200_000)
        #expect(try await l.library.list(.frequent, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids == [s[1], s[4]])
        #expect(try await l.library.list(.recent, kind: .song, user: l.ann.id, limit: 10, offset: 0).ids == [s[4], s[1]])
        let albums = try await l.library.list(.frequent, kind: .album, user: l.ann.id, limit: 10, offset: 0)
        #expect(albums.total == 2)
        let kind = try await l.song("Blue in Green").albumId
        #expect(albums.ids.first == kind)
        #expect(try await l.library.annotations(user: l.ann.id, kind: .album, ids: [kind])[kind]?.playCount == 2)
    }
}

@Suite struct SearchStoreTests {
    @Test func searchFoldsCaseAndAccentsAndMatchesPrefixes() async throws {
        let l = try await LibraryFixture()
        let cafe = try await l.song("Café Noir").id
        for q in ["cafe", "CAFÉ", "caf", "cafe noi", "emile", "paris nuit", "nuit a"] {
            #expect(try await l.library.search(q, kind: .song, limit: 10, offset: 0).ids == [cafe], "\(q)")
        }
        #expect(try await l.library.search("cafe jazz-free", kind: .song, limit: 10, offset: 0).ids.isEmpty)
        // Album artist counts: Pollini's album, Chopin's song.
        let etude = try await l.song("Étude")
        #expect(try await l.library.search("pollini", kind: .song, limit: 10, offset: 0).ids == [etude.id])
        #expect(try await l.library.search("etudes", kind: .album, limit: 10, offset: 0).ids == [etude.albumId])
        #expect(try await l.library.search("pollini", kind: .artist, limit: 10, offset: 0).total == 1)
        #expect(try await l.library.search("chopin", kind: .artist, limit: 10, offset: 0).ids == [etude.artistId])
        // Quotes and FTS syntax are words, not syntax.
        for hostile in ["\"", "* OR title:x", "NEAR(", "{title}:a", String(repeating: "a ", count: 5_000)] {
            _ = try await l.library.search(hostile, kind: .song, limit: 10, offset: 0)
        }
        // No words: everything, paged.
        let all = try await l.library.search("", kind: .song, limit: 2, offset: 1)
        #expect(all.total == 5 && all.ids.count == 2)
    }

    @Test func aRescanReindexesTitlesAndForgetsRemovedSongs() async throws {
        let l = try await LibraryFixture()
        var rain = try await l.song("Rain")
        var file = SongFile(
            id: rain.id, path: rain.path, size: 1000, mtimeMs: 2, title: "Rainé Day", artist: rain.artist, album: rain.album, albumArtist: nil,
            track: 1, disc: 1, year: 1966, genre: "Rock", durationMs: 1_000, bitrate: 1, sampleRate: 1, channels: 2, format: "flac")
        try await l.catalog.apply(inserts: [], updates: [file], removed: [])
        #expect(try await l.library.search("raine day", kind: .song, limit: 10, offset: 0).ids == [rain.id])
        rain = try await l.song("Rainé Day")
        file.title = "x"
        try await l.catalog.apply(inserts: [], updates: [], removed: [rain.id])
        #expect(try await l.library.search("raine", kind: .song, limit: 10, offset: 0).ids.isEmpty)
        #expect(try await l.library.genres().map(\.name).contains("Rock") == false)
    }

    @Test func genresAreATableWithCountsAndLists() async throws {
        let l = try await LibraryFixture()
        let genres = try await l.library.genres()
        #expect(genres.map(\.name) == ["Classical", "Jazz", "Rock"])
        let jazz = try #require(genres.first { $0.name == "Jazz" })
        #expect(jazz.songCount == 3 && jazz.albumCount == 2 && jazz.artistCount == 2)
        #expect(try await l.library.genre(id: jazz.id) == jazz)
        #expect(try await l.library.ids(kind: .song, genre: "JAZZ", limit: 10, offset: 0).total == 3)
        #expect(try await l.library.ids(kind: .album, genre: "jazz", limit: 10, offset: 0).total == 2)
        #expect(try await l.library.ids(kind: .album, years: 1955...1962, limit: 10, offset: 0).total == 2)
        let counts = try await l.library.counts()
        #expect(counts.genres == 3 && counts.playlists == 0)
        let similar = try await l.library.similar(song: try await l.song("So What").id, limit: 5)
        #expect(similar.first == (try await l.song("Blue in Green").id) && similar.count == 2)
    }

    @Test func advancedSearchCombinesRulesOnTextNumbersAndTheUsersMarks() async throws {
        let l = try await LibraryFixture()
        let what = try await l.song("So What"), blue = try await l.song("Blue in Green"), rain = try await l.song("Rain")
        func ids(_ rules: [SearchRule], all: Bool = true, kind: ItemKind = .song) async throws -> [Int64] {
            try await l.library.search(rules: rules, matchAll: all, kind: kind, user: l.ann.id, random: false, limit: 50, offset: 0).ids
        }
        #expect(try await ids([SearchRule(field: .artist, match: .equals, value: "miles")]) == [blue.id, what.id])
        #expect(try await ids([SearchRule(field: .artist, match: .equals, value: "miles"), SearchRule(field: .title, match: .startsWith, value: "so")]) == [what.id])
        #expect(try await ids([SearchRule(field: .year, match: .less, value: "1960"), SearchRule(field: .genre, match: .equals, value: "rock")], all: false).count == 3)
        #expect(try await ids([SearchRule(field: .title, match: .contains, value: "%")]).isEmpty, "LIKE wildcards are text")
        try await l.library.rate(user: l.ann.id, kind: .song, id: rain.id, rating: 4)
        try await l.library.star(user: l.ann.id, kind: .song, ids: [blue.id], on: true)
        try await l.library.recordPlay(user: l.ann.id, song: what.id, at: 1, source: .client, client: nil, windowMs: 0)
        try await l.library.recordPlay(user: l.ann.id, song: what.id, at: 2, source: .client, client: nil, windowMs: 0)
        #expect(try await ids([SearchRule(field: .rating, match: .atLeast, value: "4")]) == [rain.id])
        #expect(try await ids([SearchRule(field: .favorite, match: .contains, value: "")]) == [blue.id])
        #expect(try await ids([SearchRule(field: .playedTimes, match: .greater, value: "1")]) == [what.id])
        #expect(try await ids([SearchRule(field: .playedTimes, match: .greater, value: "1")], kind: .album) == [what.albumId])
        await #expect(throws: RepriseError.self) { try await ids([SearchRule(field: .year, match: .atLeast, value: "recent")]) }
        await #expect(throws: RepriseError.self) { try await ids([]) }
        // Art: a song with its own picture, its album-mate through the album, the artist through an album.
        #expect(try await l.library.withArt(kind: .song, ids: [blue.id, what.id, rain.id]) == [blue.id, what.id])
        #expect(try await l.library.withArt(kind: .artist, ids: [what.artistId, rain.artistId]) == [what.artistId])
    }

    @Test func artIsTheSongsOwnThenItsAlbumsThenTheArtistsFirstAlbum() async throws {
        let l = try await LibraryFixture()
        let blue = try await l.song("Blue in Green"), what = try await l.song("So What"), rain = try await l.song("Rain")
        #expect(try await l.library.art(kind: .song, id: blue.id) == .embedded(songPath: blue.path))
        #expect(try await l.library.art(kind: .song, id: what.id) == .embedded(songPath: blue.path))
        #expect(try await l.library.art(kind: .album, id: what.albumId) == .embedded(songPath: blue.path))
        #expect(try await l.library.art(kind: .artist, id: what.artistId) == .embedded(songPath: blue.path))
        #expect(try await l.library.art(kind: .song, id: rain.id) == nil)
        try await l.catalog.setArt(album: rain.albumId, path: "/music/cover.jpg")
        #expect(try await l.library.art(kind: .song, id: rain.id) == .file("/music/cover.jpg"))
        #expect(try await l.library.art(kind: .album, id: 9_999) == nil)
    }
}
