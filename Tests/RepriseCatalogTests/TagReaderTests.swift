import RepriseSync
import Foundation
import TestSupport
import Synchronization
import Testing
@testable import RepriseCatalog

@Suite(.enabled(if: audioToolsAvailable, "needs sox, metaflac and vorbiscomment"))
struct TagReaderTests {
    @Test func taggedFLAC() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.sub("a.flac")
        try Tone.writeBlocking(path, seconds: 1, rate: 44100, channels: 2)
        try run("/usr/bin/metaflac", [
            "--set-tag=TITLE=Café – 日本", "--set-tag=ARTIST=The Artist", "--set-tag=ALBUM=The Album",
            "--set-tag=ALBUMARTIST=Various Artists", "--set-tag=TRACKNUMBER=3", "--set-tag=DISCNUMBER=2/3",
            "--set-tag=DATE=2021", "--set-tag=GENRE=Jazz", path,
        ])
        let info = try TagReader.read(path: path)
        #expect(info.title == "Café – 日本")
        #expect(info.artist == "The Artist")
        #expect(info.album == "The Album")
        #expect(info.albumArtist == "Various Artists")
        #expect(info.track == 3)
        #expect(info.disc == 2)
        #expect(info.year == 2021)
        #expect(info.genre == "Jazz")
        #expect(abs(info.durationMs - 1000) <= 50)
        #expect(info.sampleRate == 44100)
        #expect(info.channels == 2)
        #expect(info.format == .flac)
        #expect(info.bitrate > 0)
    }

    @Test func taggedOggVorbis() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.sub("b.ogg")
        try Tone.writeBlocking(path, seconds: 1.5, rate: 48000, channels: 1)
        try run("/usr/bin/vorbiscomment", [
            "-w", "-t", "TITLE=Ogg Song", "-t", "ARTIST=Ogg Artist", "-t", "ALBUM=Ogg Album",
            "-t", "ALBUMARTIST=Ogg Album Artist", "-t", "TRACKNUMBER=7", "-t", "DISCNUMBER=1",
            "-t", "DATE=1999", "-t", "GENRE=Ambient", path,
        ])
        let info = try TagReader.read(path: path)
        #expect(info.title == "Ogg Song")
        #expect(info.artist == "Ogg Artist")
        #expect(info.album == "Ogg Album")
        #expect(info.albumArtist == "Ogg Album Artist")
        #expect(info.track == 7)
        #expect(info.disc == 1)
        #expect(info.year == 1999)
        #expect(info.genre == "Ambient")
        #expect(abs(info.durationMs - 1500) <= 50)
        #expect(info.sampleRate == 48000)
        #expect(info.channels == 1)
        #expect(info.format == .ogg)
    }

    @Test func untaggedMP3() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.sub("c.mp3")
        try Tone.writeBlocking(path, seconds: 2, rate: 44100, channels: 2)
        let info = try TagReader.read(path: path)
        #expect(info.title == nil)
        #expect(info.artist == nil)
        #expect(info.album == nil)
        #expect(info.albumArtist == nil)
        #expect(info.track == nil)
        #expect(info.disc == nil)
        #expect(info.year == nil)
        #expect(info.genre == nil)
        #expect(abs(info.durationMs - 2000) <= 50)
        #expect(info.sampleRate == 44100)
        #expect(info.channels == 2)
        #expect(info.format == .mp3)
        #expect(info.bitrate > 0)
    }

    @Test func wav() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.sub("d.WAV")
        try Tone.writeBlocking(path, seconds: 0.5, rate: 22050, channels: 1)
        let info = try TagReader.read(path: path)
        #expect(abs(info.durationMs - 500) <= 50)
        #expect(info.sampleRate == 22050)
        #expect(info.channels == 1)
        #expect(info.format == .wav)
    }

    @Test func errors() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        #expect(throws: CatalogError.self) { try TagReader.read(path: dir.sub("missing.flac")) }
        do {
            _ = try TagReader.read(path: dir.sub("missing.flac"))
        } catch {
            #expect(error.code == .fileUnreadable)
        }
        try dir.write("notes.txt", "hello")
        do {
            _ = try TagReader.read(path: dir.sub("notes.txt"))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unsupportedFormat)
        }
        try dir.write("garbage.flac", String(repeating: "not audio ", count: 100))
        do {
            _ = try TagReader.read(path: dir.sub("garbage.flac"))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidFile)
        }
    }

    @Test func concurrentReadsOfDifferentFiles() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var written: [String] = []
        for i in 0..<4 {
            let path = dir.sub("t\(i).flac")
            try Tone.writeBlocking(path, seconds: 0.2 + Double(i) * 0.1)
            try run("/usr/bin/metaflac", ["--set-tag=TITLE=Track \(i)", "--set-tag=ALBUMARTIST=AA \(i)", path])
            written.append(path)
        }
        let paths = written
        let expected = try paths.map { try TagReader.read(path: $0) }
        let results = Locked(Array(repeating: [TagInfo](), count: paths.count))
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let info = try? TagReader.read(path: paths[i % paths.count])
            results.withLock { $0[i % paths.count].append(info ?? TagInfo(format: .wav)) }
        }
        let gathered = results.withLock { $0 }
        for (index, infos) in gathered.enumerated() {
            #expect(infos.count == 16)
            #expect(infos.allSatisfy { $0 == expected[index] })
            #expect(expected[index].title == "Track \(index)")
        }
    }
}

@Suite struct FallbackTests {
    @Test func untaggedFileGetsFallbacks() {
        let info = TagInfo(format: .mp3).withFallbacks(path: "/music/Live at Home/01 Intro.mp3")
        #expect(info.title == "01 Intro")
        #expect(info.album == "Live at Home")
        #expect(info.artist == "Unknown Artist")
        #expect(info.albumArtist == nil)
    }

    @Test func tagsWin() {
        let tagged = TagInfo(title: "T", artist: "A", album: "B", format: .flac)
        #expect(tagged.withFallbacks(path: "/x/y/z.flac") == tagged)
    }

    @Test func oddNames() {
        #expect(TagInfo(format: .mp3).withFallbacks(path: "/m/a.b.c.mp3").title == "a.b.c")
        #expect(TagInfo(format: .mp3).withFallbacks(path: "/m/.hidden").title == ".hidden")
        #expect(TagInfo(format: .mp3).withFallbacks(path: "/m/noext").title == "noext")
        #expect(TagInfo(format: .mp3).withFallbacks(path: "/song.mp3").album == nil)
    }

    @Test func formatFromExtension() {
        #expect(AudioFormat(fileExtension: "MP3") == .mp3)
        #expect(AudioFormat(fileExtension: "oga") == .ogg)
        #expect(AudioFormat(fileExtension: "Opus") == .opus)
        #expect(AudioFormat(fileExtension: "mp4") == .m4a)
        #expect(AudioFormat(fileExtension: "txt") == nil)
    }
}

/// LRC parsing: stamps, several per line, offset; plain text is no LRC.
@Suite struct LyricsParsingTests {
    @Test func lrcLinesAreTimedAndSorted() throws {
        let parsed = try #require(SongLyrics.parseLRC("[ar:Someone]\n[offset:-250]\n[00:12.50]second\n[00:01.00][01:02.3]first and again\nno stamp\n[99:99]bad"))
        #expect(parsed.synced && parsed.offsetMs == -250)
        #expect(parsed.lines.map(\.startMs) == [1_000, 12_500, 62_300])
        #expect(parsed.lines.map(\.text) == ["first and again", "second", "first and again"])
        #expect(SongLyrics.parseLRC("just words\nno stamps") == nil)
    }
}
