import Foundation
import Logging
import RepriseCatalog
import RepriseCore
import RepriseSQLite
import TestSupport
import Testing
@testable import RepriseArt

/// Real files with real pictures: a PNG drawn by sox, embedded with metaflac, vorbiscomment and an
/// ID3v2 APIC frame, then found, read, scaled with libvips and cached.
@Suite struct ArtTests {
    /// A 444 x 278 PNG (a spectrogram of a tone).
    static func png(_ dir: TempDir) async throws -> (path: String, bytes: [UInt8]) {
        let wav = dir.file("t.wav").path, png = dir.file("spec.png").path
        try await Tone.write(wav, seconds: 1, rate: 8_000, channels: 1)
        let r = try await Child.run("/usr/bin/sox", [wav, "-n", "spectrogram", "-o", png, "-x", "300", "-y", "200"])
        guard r.status == 0 else { throw ChildError("sox spectrogram: \(r.errors)") }
        return (png, [UInt8](try Data(contentsOf: URL(fileURLWithPath: png))))
    }

    /// An ID3v2.3 tag holding one APIC (front cover) frame.
    static func id3(picture: [UInt8], mime: String) -> [UInt8] {
        let body: [UInt8] = [0] + Array(mime.utf8) + [0, 3, 0] + picture
        func be32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
        let frame = Array("APIC".utf8) + be32(body.count) + [0, 0] + body
        let size = frame.count
        let syncsafe: [UInt8] = [UInt8(size >> 21 & 0x7F), UInt8(size >> 14 & 0x7F), UInt8(size >> 7 & 0x7F), UInt8(size & 0x7F)]
        return Array("ID3".utf8) + [3, 0, 0] + syncsafe + frame
    }

    /// A FLAC picture block, base64: what Vorbis comments carry as METADATA_BLOCK_PICTURE.
    static func flacPictureBlock(picture: [UInt8], mime: String) -> String {
        func be32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
        let block = be32(3) + be32(mime.utf8.count) + Array(mime.utf8) + be32(0) + be32(0) + be32(0) + be32(0) + be32(0) + be32(picture.count) + picture
        return Data(block).base64EncodedString()
    }

    @Test func embeddedPicturesAreFoundInFLACOggMP3AndMP4() async throws {
        let dir = try TempDir("reprise-art")
        defer { dir.remove() }
        let (png, bytes) = try await Self.png(dir)
        let flac = dir.file("a.flac").path, ogg = dir.file("b.ogg").path, mp3 = dir.file("c.mp3").path, bare = dir.file("d.flac").path
        for path in [flac, ogg, mp3, bare] { try await Tone.write(path, seconds: 1) }
        var r = try await Child.run("/usr/bin/metaflac", ["--import-picture-from=3|image/png|||\(png)", flac])
        #expect(r.status == 0, "\(r.errors)")
        r = try await Child.run("/usr/bin/vorbiscomment", ["-a", "-t", "METADATA_BLOCK_PICTURE=\(Self.flacPictureBlock(picture: bytes, mime: "image/png"))", ogg])
        #expect(r.status == 0, "\(r.errors)")
        let audio = try Data(contentsOf: URL(fileURLWithPath: mp3))
        try Data(Self.id3(picture: bytes, mime: "image/png") + [UInt8](audio)).write(to: URL(fileURLWithPath: mp3))
        // MP4: ffmpeg stores an attached picture as the `covr` atom (the PNG copied as it is).
        let m4a = dir.file("e.m4a").path
        r = try await Child.run("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", mp3, "-i", png, "-map", "0:a", "-map", "1", "-c:a", "aac", "-c:v", "copy", "-disposition:v:0", "attached_pic", m4a])
        #expect(r.status == 0, "\(r.errors)")
        for path in [flac, ogg, mp3, m4a] {
            #expect(try TagReader.read(path: path).hasArt, "\(path)")
            let picture = try #require(try TagReader.picture(path: path), "\(path)")
            #expect(picture.bytes == bytes && picture.mime == "image/png", "\(path)")
        }
        #expect(try TagReader.read(path: bare).hasArt == false)
        #expect(try TagReader.picture(path: bare) == nil)
        #expect(ImageScaler.dimensions(bytes)! == (444, 278))
    }

    @Test func folderImagesArePickedByNameAndDiscFoldersLookUp() throws {
        let dir = try TempDir("reprise-folder-art")
        defer { dir.remove() }
        let fm = FileManager.default
        let album = dir.file("Album").path, disc = dir.file("Box/CD1").path, none = dir.file("None").path
        for d in [album, disc, none] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        for name in ["Album/front.png", "Album/Folder.JPG", "Album/cover.txt", "Album/covers.jpg", "Box/cover.webp", "None/back.jpg"] {
            fm.createFile(atPath: dir.file(name).path, contents: Data([1]))
        }
        // The walk notes each folder's best cover as it lists the folder.
        let images = FileWalker(roots: [dir.url.path]).plan(against: PathIndex()).folderImages
        #expect(images[album] == album + "/Folder.JPG")
        #expect(images[none] == nil && images.count == 2, "\(images)")
        #expect(FolderArt.choose(folders: [album], images: images) == album + "/Folder.JPG")
        #expect(FolderArt.choose(folders: [disc], images: images) == dir.file("Box").path + "/cover.webp")
        #expect(FolderArt.choose(folders: [none], images: images) == nil)
        #expect(FolderArt.choose(folders: [none, album], images: images) == album + "/Folder.JPG")
    }

    @Test func artIsScaledWithinItsSizeCachedOnDiskAndCapped() async throws {
        let dir = try TempDir("reprise-art-store")
        defer { dir.remove() }
        let (png, bytes) = try await Self.png(dir)
        let flac = dir.file("a.flac").path
        try await Tone.write(flac, seconds: 1)
        _ = try await Child.run("/usr/bin/metaflac", ["--import-picture-from=3|image/png|||\(png)", flac])
        let db = try RepriseDatabase.open(path: dir.file("r.sqlite").path, readers: 2)
        let clock = ManualWallClock()
        let catalog = CatalogStore(db: db, clock: clock)
        let broken = dir.file("broken").path
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: broken + "/cover.jpg", contents: Data("not an image".utf8))
        try await catalog.apply(inserts: [
            SongFile(id: nil, path: flac, size: 1, mtimeMs: 1, title: "A", artist: "X", album: "Y", albumArtist: nil, track: 1, disc: 1, year: nil, genre: nil,
                     durationMs: 1_000, bitrate: 1, sampleRate: 1, channels: 2, format: "flac", hasArt: true),
            SongFile(id: nil, path: broken + "/b.flac", size: 1, mtimeMs: 1, title: "B", artist: "Z", album: "W", albumArtist: nil, track: 1, disc: 1, year: nil, genre: nil,
                     durationMs: 1_000, bitrate: 1, sampleRate: 1, channels: 2, format: "flac"),
        ], updates: [], removed: [])
        let songs = try await catalog.songs(query: nil, artist: nil, album: nil, limit: 10, offset: 0).songs
        let a = try #require(songs.first { $0.title == "A" }), b = try #require(songs.first { $0.title == "B" })
        try await catalog.setArt(album: b.albumId, path: broken + "/cover.jpg")
        let cache = dir.file("cache").path
        let store = ArtStore(library: LibraryStore(db: db, clock: clock), cacheDir: cache, capBytes: 1 << 20, logger: Logger(label: "art"))
        let original = try #require(try await store.image(kind: .album, id: a.albumId, size: nil))
        #expect(original.bytes == bytes && original.mime == "image/png")
        let small = try #require(try await store.image(kind: .artist, id: a.artistId, size: 100))
        let d = try #require(ImageScaler.dimensions(small.bytes))
        #expect(max(d.width, d.height) == 100 && small.mime == "image/jpeg", "\(d)")
        #expect(small.etag != original.etag)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).count == 1)
        // From the disk cache (a new store has nothing in memory): the same bytes and ETag.
        let again = try #require(try await ArtStore(library: LibraryStore(db: db, clock: clock), cacheDir: cache, logger: Logger(label: "art")).image(kind: .song, id: a.id, size: 100))
        #expect(again.bytes == small.bytes && again.etag == small.etag)
        // Never scaled up.
        let big = try #require(try await store.image(kind: .song, id: a.id, size: 2_000))
        #expect(ImageScaler.dimensions(big.bytes)! == (444, 278))
        // A broken image is no art, not an error; unknown ids have none.
        #expect(try await store.image(kind: .album, id: b.albumId, size: 100) == nil)
        #expect(try await store.image(kind: .album, id: 424_242, size: 100) == nil)
        // Over its cap the disk cache drops its oldest copies.
        let tiny = ArtStore(library: LibraryStore(db: db, clock: clock), cacheDir: cache, capBytes: Int64(small.bytes.count + 10), logger: Logger(label: "art"))
        for size in [50, 60, 70] { _ = try await tiny.image(kind: .song, id: a.id, size: size) }
        let left = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(left.count <= 1, "\(left)")
    }
}
