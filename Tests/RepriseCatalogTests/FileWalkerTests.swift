import Foundation
import TestSupport
import Testing
@testable import RepriseCatalog

@Suite struct FileWalkerTests {
    @Test func nestedDirectoriesAndExtensions() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.mkdir("Artist/Album/CD1")
        try dir.write("Artist/Album/CD1/01.flac")
        try dir.write("Artist/Album/02.MP3")
        try dir.write("Artist/Album/cover.jpg")
        try dir.write("Artist/notes.txt")
        try dir.write("top.Ogg")
        try dir.write("noext")
        try dir.write("a.opus")
        try dir.write("b.oga")
        try dir.write("c.m4a")
        try dir.write("d.mp4")
        try dir.write("e.aac")
        try dir.write("f.wav")
        let result = FileWalker(roots: [dir.path]).collect()
        #expect(result.skipped.isEmpty)
        #expect(result.files.map(\.path) == [
            "Artist/Album/02.MP3", "Artist/Album/CD1/01.flac",
            "a.opus", "b.oga", "c.m4a", "d.mp4", "e.aac", "f.wav", "top.Ogg",
        ].map(dir.sub))
        let file = try #require(result.files.first)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect(file.size == 1)
        let mtime = try #require(attributes[.modificationDate] as? Date)
        #expect(abs(Double(file.mtimeMs) - mtime.timeIntervalSince1970 * 1000) < 1)
    }

    @Test func symlinksBrokenLinksAndLoops() throws {
        let dir = try TempDir()
        let outside = try TempDir()
        defer { dir.cleanup(); outside.cleanup() }
        try dir.mkdir("music/sub")
        try dir.write("music/sub/real.flac")
        try dir.symlink("music/link.flac", to: dir.sub("music/sub/real.flac"))       // link to a file
        try dir.symlink("music/broken.mp3", to: dir.sub("music/nowhere.mp3"))        // broken link
        try dir.symlink("music/sub/up", to: "..")                                    // loop: dir -> parent
        try dir.symlink("music/self.mp3", to: "self.mp3")                            // link to itself
        try outside.write("elsewhere.ogg")
        try dir.symlink("music/ext", to: outside.path)                               // link to a dir outside
        let result = FileWalker(roots: [dir.sub("music")]).collect()
        #expect(result.files.map(\.path) == [
            dir.sub("music/ext/elsewhere.ogg"), dir.sub("music/link.flac"), dir.sub("music/sub/real.flac"),
        ])
        #expect(result.skipped == [
            SkippedEntry(path: dir.sub("music/broken.mp3"), reason: .brokenSymlink),
            SkippedEntry(path: dir.sub("music/self.mp3"), reason: .symlinkLoop),
            SkippedEntry(path: dir.sub("music/sub/up"), reason: .symlinkLoop),
        ])
    }

    @Test func directoryReachedTwiceIsWalkedOnce() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.mkdir("b")
        try dir.write("b/x.mp3")
        try dir.symlink("c", to: dir.sub("b"))
        let result = FileWalker(roots: [dir.path, dir.sub("b")]).collect()
        #expect(result.files.map(\.path) == [dir.sub("b/x.mp3")])
        #expect(result.skipped == [
            SkippedEntry(path: dir.sub("c"), reason: .alreadyVisited),
            SkippedEntry(path: dir.sub("b"), reason: .alreadyVisited),
        ])
    }

    @Test func unreadableEntries() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.mkdir("locked")
        try dir.write("locked/in.mp3")
        try dir.write("secret.flac")
        try dir.write("ok.flac")
        chmod(dir.sub("locked"), 0)
        chmod(dir.sub("secret.flac"), 0)
        let result = FileWalker(roots: [dir.path]).collect()
        if geteuid() == 0 {
            // root ignores permission bits, so nothing is unreadable here.
            #expect(result.files.map(\.path) == ["locked/in.mp3", "ok.flac", "secret.flac"].map(dir.sub))
            #expect(result.skipped.isEmpty)
        } else {
            #expect(result.files.map(\.path) == [dir.sub("ok.flac")])
            #expect(result.skipped.map(\.path) == [dir.sub("locked"), dir.sub("secret.flac")])
            #expect(result.skipped.allSatisfy { if case .unreadable = $0.reason { true } else { false } })
        }
    }

    @Test func modeBitsAnswerWithoutTheKernelOnlyWhenTheyGrant() {
        let me = ReadAccess(uid: 1000, gids: [100, 200])
        func file(uid: uid_t, gid: gid_t, mode: mode_t) -> stat {
            var s = stat()
            (s.st_uid, s.st_gid, s.st_mode) = (uid, gid, S_IFREG | mode)
            return s
        }
        #expect(me.permits(file(uid: 1000, gid: 1, mode: 0o400)))
        #expect(!me.permits(file(uid: 1000, gid: 1, mode: 0o044)))  // the owner's bits decide for the owner
        #expect(me.permits(file(uid: 1, gid: 200, mode: 0o040)))
        #expect(!me.permits(file(uid: 1, gid: 200, mode: 0o404)))  // and the group's for a member
        #expect(me.permits(file(uid: 1, gid: 1, mode: 0o004)))
        #expect(!me.permits(file(uid: 1, gid: 1, mode: 0o440)))
    }

    @Test func extensionsMatchWhateverTheirCaseOrLength() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for name in ["a.MP3", "b.Mp3", "c.mp", "d.mp33", "e.Longextension", "f.longextensio", ".mp3"] { try dir.write(name) }
        #expect(FileWalker.pack("MP3".utf8) == FileWalker.pack("mp3".utf8))
        #expect(FileWalker.pack("longext".utf8) != nil && FileWalker.pack("longextension".utf8) == nil)
        let short = FileWalker(roots: [dir.path], extensions: ["mp3"]).collect()
        #expect(short.files.map(\.path) == ["a.MP3", "b.Mp3"].map(dir.sub))
        // An extension too long to pack takes the slower comparison, with the same answers.
        let long = FileWalker(roots: [dir.path], extensions: ["mp3", "longextension"]).collect()
        #expect(long.files.map(\.path) == ["a.MP3", "b.Mp3", "e.Longextension"].map(dir.sub))
    }

    @Test func invalidRootsDoNotStopTheWalk() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("file.mp3")
        try dir.mkdir("ok")
        try dir.write("ok/a.mp3")
        let result = FileWalker(roots: [dir.sub("missing"), dir.sub("file.mp3"), dir.sub("ok")]).collect()
        #expect(result.files.map(\.path) == [dir.sub("ok/a.mp3")])
        #expect(result.skipped.map(\.path) == [dir.sub("missing"), dir.sub("file.mp3")])
        #expect(result.skipped.allSatisfy { if case .invalidRoot = $0.reason { true } else { false } })
    }

    @Test func rootsAreStandardized() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.mkdir("a/b")
        try dir.write("a/b/s.flac")
        let result = FileWalker(roots: [dir.path + "//a/./b/../b/"]).collect()
        #expect(result.files.map(\.path) == [dir.sub("a/b/s.flac")])
        #expect(standardizePath("/music/./a//b/../c") == "/music/a/c")
        #expect(standardizePath("/..") == "/")
        #expect(standardizePath("rel").hasPrefix("/"))
    }
}

@Suite struct PlanScanTests {
    func found(_ path: String, _ size: Int64 = 10, _ mtime: Int64 = 100) -> FoundFile {
        FoundFile(path: path, size: size, mtimeMs: mtime)
    }

    @Test func addChangeRemoveUnchanged() {
        let existing: [String: IndexedFile] = [
            "/m/same.mp3": IndexedFile(id: 1, size: 10, mtimeMs: 100),
            "/m/size.mp3": IndexedFile(id: 2, size: 10, mtimeMs: 100),
            "/m/mtime.mp3": IndexedFile(id: 3, size: 10, mtimeMs: 100),
            "/m/gone.mp3": IndexedFile(id: 4, size: 10, mtimeMs: 100),
            "/m/gone2.mp3": IndexedFile(id: 9, size: 10, mtimeMs: 100),
        ]
        let plan = planScan(existing: existing, found: [
            found("/m/same.mp3"), found("/m/size.mp3", 11), found("/m/mtime.mp3", 10, 101), found("/m/new.mp3"),
        ])
        #expect(plan.added == [found("/m/new.mp3")])
        #expect(plan.changed == [
            ChangedFile(id: 2, file: found("/m/size.mp3", 11)), ChangedFile(id: 3, file: found("/m/mtime.mp3", 10, 101)),
        ])
        #expect(plan.unchangedCount == 1)
        #expect(plan.removed == [4, 9])
    }

    @Test func renameIsRemovePlusAdd() {
        let plan = planScan(existing: ["/m/a.mp3": IndexedFile(id: 1, size: 10, mtimeMs: 100)], found: [found("/m/b.mp3")])
        #expect(plan == ScanPlan(added: [found("/m/b.mp3")], changed: [], unchangedCount: 0, removed: [1]))
    }

    @Test func emptyCases() {
        #expect(planScan(existing: [:], found: []) == ScanPlan())
        #expect(planScan(existing: [:], found: [found("/a.mp3")]).added == [found("/a.mp3")])
        #expect(planScan(existing: ["/a.mp3": IndexedFile(id: 5, size: 1, mtimeMs: 1)], found: []).removed == [5])
    }

    @Test func duplicatePathsCountOnce() {
        let plan = planScan(existing: [:], found: [found("/a.mp3"), found("/a.mp3", 99)])
        #expect(plan.added == [found("/a.mp3")])
    }
}
