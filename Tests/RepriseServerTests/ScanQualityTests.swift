import Foundation
import RepriseCatalog
import RepriseCore
@testable import RepriseServer
import TestSupport
import Testing

/// Scans that say what went wrong: truncated copies flagged, unreadable files named, missing folders explained.
@Suite struct ScanQualityTests {
    /// `path` cut to `fraction` of its bytes, written to `to`.
    static func truncate(_ path: String, to: String, fraction: Double) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(Int(Double(data.count) * fraction)).write(to: URL(fileURLWithPath: to))
    }

    @Test func truncatedCopiesAreFlaggedNotIndexedAsWholeSongs() async throws {
        let lib = try Library()
        let flac = try lib.tone("a/full.flac", seconds: 6, tags: ["TITLE": "Song", "ARTIST": "X"])
        try Self.truncate(flac, to: lib.music.appendingPathComponent("a/cut.flac").path, fraction: 0.4)
        let wav = try lib.tone("b/full.wav", seconds: 6)
        try Self.truncate(wav, to: lib.music.appendingPathComponent("b/cut.wav").path, fraction: 0.5)
        try Data("not audio at all".utf8).write(to: lib.music.appendingPathComponent("b/junk.mp3"))
        let summary = try await lib.core.scanner.scan()
        let songs = try await lib.core.songs.songs(query: nil, artist: nil, album: nil, limit: 10, offset: 0).songs
        let byName = Dictionary(uniqueKeysWithValues: songs.map { (($0.path as NSString).lastPathComponent, $0) })
        #expect(byName["full.flac"]?.problem == nil && byName["full.wav"]?.problem == nil)
        #expect(byName["cut.flac"]?.problem?.hasPrefix("truncated: the audio ends") == true, "\(String(describing: byName["cut.flac"]?.problem))")
        // TagLib cannot read a WAV cut short at all: it is not indexed, and the scan says why.
        #expect(byName["cut.wav"] == nil)
        let reasons = Dictionary(uniqueKeysWithValues: summary.problems.map { (($0.path as NSString).lastPathComponent, $0.reason) })
        #expect(reasons["cut.flac"]?.hasPrefix("truncated") == true)
        #expect(reasons["cut.wav"] == "invalidFile: truncated: the audio ends 3 s before the 6 s its header claims", "\(summary.problems)")
        #expect(reasons["junk.mp3"] == "invalidFile: no audio stream found" && summary.errors == 2, "\(summary.problems)")
        #expect(reasons["full.flac"] == nil)
    }

    @Test func aMissingCatalogFolderIsNamedWithHowToSetIt() async throws {
        let lib = try Library(extraYAML: "")
        try FileManager.default.removeItem(at: lib.music)
        let summary = try await lib.core.scanner.scan()
        let problem = try #require(summary.problems.first)
        #expect(problem.path == lib.music.path)
        #expect(problem.reason.contains("catalog.paths") && problem.reason.contains("cannot be scanned"), "\(problem.reason)")
    }
}
