import RepriseSync
import Foundation
import TestSupport
import Synchronization
import RepriseCore
import Testing
@testable import RepriseCatalog

/// The scanner's clock from the one manual clock: `step` ms pass at each read.
func stepping(_ step: Int64) -> @Sendable () -> Int64 {
    let clock = ManualWallClock(0)
    return { clock.advance(ms: step); return clock.nowMs() }
}

@Suite struct CatalogScannerTests {
    @Test func scanWithInjectedReader() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.mkdir("Album")
        try dir.write("Album/new.mp3")
        try dir.write("Album/same.mp3")
        try dir.write("Album/bad.mp3")
        try dir.symlink("Album/broken.mp3", to: dir.sub("nowhere"))
        let files = FileWalker(roots: [dir.path]).collect().files
        let same = try #require(files.first { $0.path.hasSuffix("same.mp3") })
        let existing: [String: IndexedFile] = [
            same.path: IndexedFile(id: 1, size: same.size, mtimeMs: same.mtimeMs),
            dir.sub("Album/bad.mp3"): IndexedFile(id: 2, size: 999, mtimeMs: 0),  // changed, then fails to read
            dir.sub("Album/old.mp3"): IndexedFile(id: 3, size: 1, mtimeMs: 1),
        ]
        let scanner = CatalogScanner(roots: [dir.path], clock: stepping(250)) { path throws(CatalogError) in
            if path.hasSuffix("bad.mp3") { throw CatalogError(code: .invalidFile, path: path, detail: "test") }
            return TagInfo(artist: "Someone", format: .mp3)
        }
        let result = scanner.scan(existing: existing)
        let newFile = try #require(files.first { $0.path.hasSuffix("new.mp3") })
        #expect(result.inserts == [SongRecord(
            id: nil, path: newFile.path, size: newFile.size, mtimeMs: newFile.mtimeMs,
            tags: TagInfo(title: "new", artist: "Someone", album: "Album", format: .mp3)
        )])
        #expect(result.updates.isEmpty)
        #expect(result.removedIDs == [3])
        #expect(result.failures.map(\.path) == [dir.sub("Album/bad.mp3")])
        #expect(result.failures.first?.error.code == .invalidFile)
        #expect(result.skipped == [SkippedEntry(path: dir.sub("Album/broken.mp3"), reason: .brokenSymlink)])
        var stats = ScanStats()
        stats.added = 1
        stats.removed = 1
        stats.unchanged = 1
        stats.skipped = 1
        stats.errors = 1
        stats.filesFound = 3
        stats.elapsedMs = 250
        #expect(result.stats == stats)
        #expect(result.stats.filesPerSecond == 12)
    }

    @Test(.enabled(if: audioToolsAvailable, "needs sox and metaflac"))
    func scanRealFilesKeepsIds() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.mkdir("Band/Record")
        try Tone.writeBlocking(dir.sub("Band/Record/01 One.flac"), seconds: 0.3)
        try run("/usr/bin/metaflac", ["--set-tag=TITLE=One", "--set-tag=ARTIST=Band", dir.sub("Band/Record/01 One.flac")])
        try Tone.writeBlocking(dir.sub("Band/Record/02 Two.mp3"), seconds: 0.3)
        let scanner = CatalogScanner(roots: [dir.path], clock: stepping(1))

        let first = scanner.scan(existing: [:])
        #expect(first.stats.added == 2)
        #expect(first.failures.isEmpty)
        let byPath = Dictionary(uniqueKeysWithValues: first.inserts.map { ($0.path, $0) })
        let flac = try #require(byPath[dir.sub("Band/Record/01 One.flac")])
        #expect(flac.tags.title == "One")
        #expect(flac.tags.artist == "Band")
        #expect(flac.tags.album == "Record")  // fallback
        let mp3 = try #require(byPath[dir.sub("Band/Record/02 Two.mp3")])
        #expect(mp3.tags.title == "02 Two")
        #expect(mp3.tags.artist == "Unknown Artist")
        #expect(mp3.tags.album == "Record")
        #expect(mp3.tags.format == .mp3)

        // The store assigns ids; rescan after retagging the flac.
        var index: [String: IndexedFile] = [
            flac.path: IndexedFile(id: 10, size: flac.size, mtimeMs: flac.mtimeMs),
            mp3.path: IndexedFile(id: 11, size: mp3.size, mtimeMs: mp3.mtimeMs),
        ]
        try run("/usr/bin/metaflac", ["--remove-tag=TITLE", "--set-tag=TITLE=Uno", flac.path])
        try run("/usr/bin/touch", ["-d", "2001-01-01", flac.path])
        let second = scanner.scan(existing: index)
        #expect(second.inserts.isEmpty)
        #expect(second.updates.map(\.id) == [10])
        #expect(second.updates.first?.tags.title == "Uno")
        #expect(second.stats.unchanged == 1)

        // Rename the mp3: remove + add.
        try FileManager.default.moveItem(atPath: mp3.path, toPath: dir.sub("Band/Record/02 Deux.mp3"))
        index[flac.path] = IndexedFile(id: 10, size: second.updates[0].size, mtimeMs: second.updates[0].mtimeMs)
        let third = scanner.scan(existing: index)
        #expect(third.removedIDs == [11])
        #expect(third.inserts.map(\.tags.title) == ["02 Deux"])
        #expect(third.stats.unchanged == 1)
    }
}
