import Foundation
import TestSupport
import Testing
@testable import RepriseCatalog

@Suite struct PathIndexTests {
    @Test func findsEveryPathAndNothingElse() {
        var index = PathIndex()
        // Enough paths to grow past the first table, sharing directories and prefixes.
        for i in 0..<3000 { index.add(path: "/m/artist\(i % 7)/album\(i % 31)/\(i).flac", IndexedFile(id: Int64(i), size: Int64(i), mtimeMs: 1)) }
        #expect(index.count == 3000)
        for i in stride(from: 0, to: 3000, by: 37) {
            #expect(index.find("/m/artist\(i % 7)/album\(i % 31)/\(i).flac")?.id == Int64(i))
        }
        #expect(index.find("/m/artist0/album0/0.flac.bak") == nil)
        #expect(index.find("/m/artist0/album0/0.fla") == nil)
        #expect(index.find("/m/artist1/album0/0.flac") == nil)
        #expect(index.find("") == nil)
        // A path added after the first lookup is found too.
        index.add(path: "/late.mp3", IndexedFile(id: 9999, size: 1, mtimeMs: 1))
        #expect(index.find("/late.mp3")?.id == 9999)
        #expect(PathIndex().count == 0)
        var empty = PathIndex()
        #expect(empty.find("/a.mp3") == nil)
    }

    @Test func aPathHashesTheSameWholeOrSplitAtItsDirectory() {
        func hash(_ s: String) -> UInt64 { var s = s; return s.withUTF8 { PathHash.of($0) } }
        let dir = Array("/music/Some Artist/".utf8)
        let name = Array("01 - Track.flac".utf8)
        let split = dir.withUnsafeBufferPointer { d in name.withUnsafeBufferPointer { PathHash.join(PathHash.bytes(d), $0) } }
        #expect(split == hash("/music/Some Artist/01 - Track.flac"))
        #expect(hash("/a/b") != hash("/a/c"))
        #expect(hash("/a/bc") != hash("/ab/c"))
        #expect(hash("noslash.mp3") != hash("/noslash.mp3"))
    }

    @Test func plansTheSameInAnyOrder() {
        let files = (0..<200).map { FoundFile(path: "/m/d\($0 % 9)/\($0).mp3", size: 10, mtimeMs: 100) }
        var existing: [String: IndexedFile] = [:]
        for (i, f) in files.enumerated() where i % 10 != 0 { existing[f.path] = IndexedFile(id: Int64(i), size: i % 5 == 0 ? 11 : 10, mtimeMs: 100) }
        existing["/m/gone.mp3"] = IndexedFile(id: 5000, size: 1, mtimeMs: 1)
        // The index in one order, the files found in another: the guess of the next entry fails often.
        for found in [files, files.reversed(), files.shuffled()] {
            let plan = planScan(existing: existing, found: found)
            #expect(Set(plan.added.map(\.path)) == Set(files.enumerated().filter { $0.offset % 10 == 0 }.map(\.element.path)))
            #expect(plan.added.count == 20)
            #expect(Set(plan.changed.map(\.id)) == Set((0..<200).filter { $0 % 10 != 0 && $0 % 5 == 0 }.map(Int64.init)))
            #expect(plan.unchangedCount == 200 - 20 - 20)
            #expect(plan.removed == [5000])
        }
    }

    @Test func aFileFoundTwiceInIndexOrderCountsOnce() {
        let existing = ["/a.mp3": IndexedFile(id: 1, size: 10, mtimeMs: 100), "/b.mp3": IndexedFile(id: 2, size: 10, mtimeMs: 100)]
        let a = FoundFile(path: "/a.mp3", size: 10, mtimeMs: 100)
        let b = FoundFile(path: "/b.mp3", size: 10, mtimeMs: 100)
        for found in [[a, a, b], [a, b, a, b], [b, a, b]] {
            let plan = planScan(existing: existing, found: found)
            #expect(plan.unchangedCount == 2 && plan.added.isEmpty && plan.removed.isEmpty)
        }
    }
}

@Suite struct WalkPlanTests {
    /// `plan(against:)` gives what collecting every file and planning afterwards gives.
    @Test func walkingAgainstTheIndexMatchesPlanningAfterTheWalk() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for a in ["Alpha", "Beta", "Ünïcode ✓"] {
            try dir.mkdir("\(a)/Disc 1")
            for t in 1...5 { try dir.write("\(a)/Disc 1/\(t).flac", String(repeating: "x", count: t)) }
            try dir.write("\(a)/cover.jpg")
        }
        try dir.write("top.mp3")
        let walker = FileWalker(roots: [dir.path])
        let all = walker.collect().files
        #expect(all.count == 16)

        var existing: [String: IndexedFile] = [:]
        for (i, f) in all.enumerated() {
            switch i % 4 {
            case 0: continue  // new on disk
            case 1: existing[f.path] = IndexedFile(id: Int64(i), size: f.size + 1, mtimeMs: f.mtimeMs)  // changed
            default: existing[f.path] = IndexedFile(id: Int64(i), size: f.size, mtimeMs: f.mtimeMs)
            }
        }
        existing[dir.sub("Alpha/Disc 1/removed.flac")] = IndexedFile(id: 100, size: 1, mtimeMs: 1)
        existing[dir.sub("Alpha")] = IndexedFile(id: 101, size: 1, mtimeMs: 1)  // a directory's path is not a file

        // The index in walk order (as the catalog adds them), and in some other order.
        var inOrder = PathIndex()
        for f in all { if let e = existing[f.path] { inOrder.add(path: f.path, e) } }
        for path in existing.keys.sorted() where !all.contains(where: { $0.path == path }) { inOrder.add(path: path, existing[path]!) }
        let expected = planScan(existing: existing, found: all)
        #expect(expected.added.count == 4 && expected.changed.count == 4 && expected.unchangedCount == 8 && expected.removed == [100, 101])
        for index in [inOrder, PathIndex(existing)] {
            let walk = walker.plan(against: index)
            #expect(walk.plan == expected)
            #expect(walk.filesFound == 16)
            #expect(walk.skipped.isEmpty)
        }
    }

    @Test func aNameThatIsNotUTF8MatchesItsRepairedPath() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // "café.mp3" in Latin-1, as old collections hold them: its string repairs the byte.
        let raw = Array(dir.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".mp3".utf8) + [0]
        let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(fd >= 0)
        close(fd)
        let walker = FileWalker(roots: [dir.path])
        let found = walker.collect().files
        #expect(found.map(\.path) == [dir.sub("caf\u{FFFD}.mp3")])
        let existing = [found[0].path: IndexedFile(id: 7, size: found[0].size, mtimeMs: found[0].mtimeMs)]
        let walk = walker.plan(against: PathIndex(existing))
        #expect(walk.plan.unchangedCount == 1 && walk.plan.added.isEmpty && walk.plan.removed.isEmpty)
        let first = walker.plan(against: PathIndex())
        #expect(first.plan.added.map(\.path) == [dir.sub("caf\u{FFFD}.mp3")])
    }

    @Test func unreadableEntriesAreSkippedAsInACollectingWalk() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("ok.flac")
        try dir.symlink("dangling.flac", to: "/nonexistent/x.flac")
        let walk = FileWalker(roots: [dir.path, dir.sub("missing")]).plan(against: PathIndex())
        #expect(walk.plan.added.map(\.path) == [dir.sub("ok.flac")])
        #expect(walk.skipped == FileWalker(roots: [dir.path, dir.sub("missing")]).collect().skipped)
        #expect(walk.skipped.map(\.path) == [dir.sub("dangling.flac"), dir.sub("missing")])
    }
}
