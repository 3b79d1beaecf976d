import Foundation
import RepriseCore
import Testing
@testable import RepriseServer

@Suite struct ScanTests {
    @Test func scanReadsTagsAndFallsBack() async throws {
        let lib = try Library()
        try lib.tone("Alpha/one.flac", seconds: 2, tags: ["TITLE": "One", "ARTIST": "Alpha", "ALBUM": "First", "ALBUMARTIST": "Various", "TRACKNUMBER": "3", "DISCNUMBER": "2", "DATE": "1999", "GENRE": "Test"])
        try lib.tone("Beta Album/untitled track.mp3", seconds: 1.5)
        let stats = try await lib.core.scanner.scan()
        #expect(stats.added == 2 && stats.errors == 0 && stats.skipped == 0)
        let page = try await lib.core.catalog.songs(query: nil, artist: nil, album: nil, limit: 10, offset: 0)
        #expect(page.total == 2)
        let one = try #require(page.songs.first { $0.format == "flac" })
        #expect(one.title == "One" && one.artist == "Alpha" && one.album == "First" && one.albumArtist == "Various")
        #expect(one.track == 3 && one.disc == 2 && one.year == 1999 && one.genre == "Test")
        #expect(abs(one.durationMs - 2000) <= 50)
        #expect(one.sampleRate == 44100 && one.channels == 2)
        let mp3 = try #require(page.songs.first { $0.format == "mp3" })
        #expect(mp3.title == "untitled track")
        #expect(mp3.album == "Beta Album")
        #expect(mp3.artist == "Unknown Artist")
        #expect(abs(mp3.durationMs - 1500) <= 80)
        let counts = try await lib.core.catalog.counts()
        #expect(counts.songs == 2 && counts.albums == 2)
    }

    @Test func rescansAreIncrementalAndKeepIds() async throws {
        let lib = try Library()
        let a = try lib.tone("A/a.flac", tags: ["TITLE": "A"])
        let b = try lib.tone("A/b.flac", tags: ["TITLE": "B"])
        let c = try lib.tone("A/c.flac", tags: ["TITLE": "C"])
        _ = try await lib.core.scanner.scan()
        let before = try await lib.core.catalog.index()
        let again = try await lib.core.scanner.scan()
        #expect(again.added == 0 && again.updated == 0 && again.removed == 0 && again.unchanged == 3)

        try sh("metaflac", ["--remove-tag=TITLE", "--set-tag=TITLE=A2", a])
        try FileManager.default.removeItem(atPath: b)
        try FileManager.default.moveItem(atPath: c, toPath: lib.music.appendingPathComponent("A/c-renamed.flac").path)
        try lib.tone("A/d.flac", tags: ["TITLE": "D"])
        // Make sure the edit changes the mtime even on coarse clocks.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: a)
        let stats = try await lib.core.scanner.scan()
        #expect(stats.updated == 1)
        #expect(stats.removed == 2)  // b, and c's old path
        #expect(stats.added == 2)  // d, and c's new path
        let after = try await lib.core.catalog.index()
        #expect(after[a]?.id == before[a]?.id)
        let song = try #require(try await lib.core.catalog.song(id: after[a]!.id))
        #expect(song.title == "A2")
        #expect(after[b] == nil)
        #expect(after.count == 3)
    }

    @Test func theRawIndexReadsEverySongInIdOrder() async throws {
        let lib = try Library()
        for name in ["b.flac", "a.flac", "Ünï/c.flac"] { try lib.tone(name) }
        _ = try await lib.core.scanner.scan()
        let rows = try await lib.core.catalog.index({ _ in [(path: String, id: Int64, size: Int64, mtimeMs: Int64)]() }) {
            $0.append((String(decoding: $1, as: UTF8.self), $2, $3, $4))
        }
        let dict = try await lib.core.catalog.index()
        #expect(rows.count == 3)
        #expect(rows.map(\.id) == rows.map(\.id).sorted())
        for r in rows { #expect(dict[r.path]?.id == r.id && dict[r.path]?.size == r.size && dict[r.path]?.mtimeMs == r.mtimeMs) }
        #expect(Set(rows.map(\.path)) == Set(dict.keys))
    }

    @Test func badFilesAreSkippedNotFatal() async throws {
        let lib = try Library()
        try lib.tone("ok.flac")
        try Data("not audio at all".utf8).write(to: lib.music.appendingPathComponent("broken.mp3"))
        try FileManager.default.createSymbolicLink(atPath: lib.music.appendingPathComponent("dangling.flac").path, withDestinationPath: "/nonexistent/x.flac")
        try FileManager.default.createSymbolicLink(atPath: lib.music.appendingPathComponent("loop").path, withDestinationPath: lib.music.path)
        let stats = try await lib.core.scanner.scan()
        #expect(stats.added == 1)
        #expect(stats.errors + stats.skipped >= 3)
    }

    @Test func concurrentScansAreRefused() async throws {
        let lib = try Library()
        for i in 0..<20 { try lib.tone("many/\(i).wav", seconds: 0.2) }
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<2 { group.addTask { (try? await lib.core.scanner.scan()) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.contains(true))
        #expect(try await lib.core.catalog.counts().songs == 20)
    }
}

