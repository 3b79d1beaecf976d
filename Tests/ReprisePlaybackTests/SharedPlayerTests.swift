import Foundation
@testable import ReprisePlayback
import RepriseCore
import RepriseStorage
import Testing

/// A player shared with other clients, deterministic: every external action of the playback issue is
/// adopted (never undone), recorded with source `client`, and Reprise's own commands work after it.
@Suite struct SharedPlayerTests {
    /// A stage playing its four songs from the first.
    static func playing(_ stage: FakeStage) async throws {
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.command("play")
        await stage.tick()
    }

    /// The player's queue as the supervisor's entries (Reprise's songs by id, other URLs as they are).
    static func playerEntries(_ stage: FakeStage) async -> [PlayerState.Entry] {
        await stage.player.items.map { $0.songId > 0 ? .song($0.songId) : .foreign($0.url) }
    }

    @Test func anAddedForeignEntryIsKeptPlayedThroughAndRestored() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        try await Self.playing(stage)
        await stage.player.clientAdd("http://radio.example/live.mp3", at: 2)
        await stage.tick()
        let s1 = await stage.supervisor.state
        #expect(s1.entries == [.song(stage.songs[0]), .song(stage.songs[1]), .foreign("http://radio.example/live.mp3"), .song(stage.songs[2]), .song(stage.songs[3])])
        #expect(try await stage.clientEvents() == ["add"])
        // The player reaches it and plays it: followed, nothing removed or re-added.
        await stage.player.clearCalls()
        await stage.player.play(for: 29_000)
        await stage.tick(after: 29_000)
        await stage.player.endSong()
        await stage.tick()
        await stage.player.endSong()
        await stage.tick()
        #expect(await stage.supervisor.state.position == 2)
        let calls = await stage.player.calls
        #expect(calls.isEmpty, "\(calls)")
        // A restart of the player restores the foreign entry with Reprise's.
        await stage.player.crash()
        await stage.tick(); await stage.tick()
        await stage.player.comeBack()
        for _ in 0..<6 { await stage.tick() }
        #expect(await stage.player.urls[2] == "http://radio.example/live.mp3")
        #expect(await Self.playerEntries(stage) == s1.entries)
        // Persisted with the queue.
        #expect(try await stage.env.states.load("fake")?.entries == s1.entries)
    }

    @Test func deleteMoveNextSeekAndPauseAreAdoptedNotUndone() async throws {
        let stage = try await FakeStage(songs: 6)
        defer { stage.remove() }
        try await Self.playing(stage)
        await stage.player.clientDelete(3)
        await stage.tick()
        #expect(await stage.supervisor.state.queue == [stage.songs[0], stage.songs[1], stage.songs[2], stage.songs[4], stage.songs[5]])
        await stage.player.clientMove(from: 4, to: 1)
        await stage.tick()
        #expect(await stage.supervisor.state.queue == [stage.songs[0], stage.songs[5], stage.songs[1], stage.songs[2], stage.songs[4]])
        await stage.player.play(for: 3_000)
        await stage.tick(after: 3_000)
        await stage.player.clientNext()
        await stage.tick()
        #expect(await stage.supervisor.state.position == 1)
        await stage.player.play(for: 1_000)
        await stage.tick(after: 1_000)
        await stage.player.clientSeek(20_000)
        await stage.tick()
        #expect(await stage.supervisor.state.elapsedMs == 20_000)
        await stage.player.clientPause()
        await stage.player.clearCalls()
        for _ in 0..<8 { await stage.tick(after: 1_000) }
        #expect(await stage.player.state == .pause, "Reprise undid the pause")
        let calls = await stage.player.calls
        #expect(calls.isEmpty, "\(calls)")
        #expect(await stage.supervisor.state.state == .pause)
        #expect(try await stage.clientEvents() == ["delete", "move", "next", "seek", "pause"])
        #expect(await stage.supervisor.report().lastError == nil, "another client's action is not an error")
        #expect(stage.env.counters.total("move", source: .client) == 1)
        // Reprise's own commands work on the adopted queue.
        try await stage.supervisor.command("next")
        #expect(await stage.player.position == 2)
        #expect(await stage.player.state == .play)
        let adopted = await stage.supervisor.state.entries
        #expect(await Self.playerEntries(stage) == adopted)
    }

    /// A backend without a queue version is compared by length: an addition is still adopted.
    @Test func aBackendWithoutAVersionIsReadWhenItsLengthChanges() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.player.setVersioned(false)
        try await Self.playing(stage)
        await stage.player.clientAdd("file:///music/other.flac")
        await stage.tick()
        #expect(await stage.supervisor.state.foreign == ["file:///music/other.flac"])
        #expect(try await stage.clientEvents() == ["add"])
    }

    /// `keep_played` played entries stay; older ones leave the player's queue; a restore brings back only those and what is ahead.
    @Test func playedEntriesAreTrimmedAndARestoreBringsBackOnlyTheKeptOnes() async throws {
        let stage = try await FakeStage(songs: 8, rules: QueueRules(keepPlayed: 2))
        defer { stage.remove() }
        try await Self.playing(stage)
        for _ in 0..<5 {
            await stage.player.play(for: 29_500)
            await stage.tick(after: 29_500)
            await stage.player.endSong()
            await stage.tick()
            #expect(await stage.player.items.count <= 2 + 1 + 8)
        }
        #expect(await stage.player.items.map(\.songId) == Array(stage.songs[3...]))
        #expect(await stage.supervisor.state.position == 2)
        #expect(await stage.player.position == 2)
        #expect(try await stage.clientEvents().isEmpty, "Reprise's own trimming is not another client's delete")
        await stage.player.crash()
        await stage.tick(); await stage.tick()
        await stage.player.comeBack()
        for _ in 0..<6 { await stage.tick() }
        #expect(await stage.player.items.map(\.songId) == Array(stage.songs[3...]))
        #expect(await stage.player.position == 2)
    }

    /// Autoplay with `keep_played` 3 and 2 ahead: the player's queue never holds more than 3 + 2 + 1 entries.
    @Test func autoplayKeepsTheQueueBounded() async throws {
        let stage = try await FakeStage(songs: 30, rules: QueueRules(keepPlayed: 3, shuffleWindow: 20))
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        var longest = 0
        var played: [Int64] = []
        for _ in 0..<60 {
            await stage.tick()
            if let p = await stage.player.position { played.append(await stage.player.items[p].songId) }
            await stage.player.play(for: 29_500)
            await stage.tick(after: 29_500)
            await stage.player.endSong()
            longest = max(longest, await stage.player.items.count)
        }
        #expect(longest <= 3 + 2 + 1)
        #expect(played.count == 60)
        for i in played.indices {
            let window = played[max(0, i - 19)..<i]
            #expect(!window.contains(played[i]), "song \(played[i]) repeated within 20 at \(i)")
        }
    }
}

/// Random interleavings of other clients' commands and stream outcomes (seeded, so a failure
/// replays): every round makes a bounded number of player commands, a quiet player gets none (no
/// loop), and the supervisor's queue and position end up matching the player's.
@Suite struct SharedPlayerPropertyTests {
    @Test(arguments: 0..<24)
    func randomInterleavingsConvergeWithoutLoops(seed: UInt64) async throws {
        let stage = try await FakeStage(songs: 8, rules: QueueRules(keepPlayed: 3, shuffleWindow: 5))
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        var rng = AutoplayPlannerTests.Seeded(state: seed)
        var script: [String] = []
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(max(1, n))) }
        for _ in 0..<80 {
            let count = await stage.player.items.count
            switch pick(26) {
            case 0: await stage.player.clientAdd("http://radio.example/\(pick(3)).mp3", at: pick(count + 1)); script.append("add")
            case 1: await stage.player.clientDelete(pick(count)); script.append("delete")
            case 2: await stage.player.clientMove(from: pick(count), to: pick(count)); script.append("move")
            case 3: await stage.player.clientNext(); script.append("next")
            case 4: await stage.player.clientSeek(Int64(pick(30)) * 1_000); script.append("seek")
            case 5: await stage.player.clientPause(); script.append("pause")
            case 6, 7: await stage.player.clientPlay(); script.append("play")
            case 8: await stage.player.clientStop(); script.append("stop")
            case 9: await stage.player.fail("404 Not Found"); script.append("fail")
            case 10: await stage.player.clientClear(); script.append("clear")
            case 11: try? await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2)); script.append("autoplay")
            case 12...17: await stage.player.endSong(); script.append("end")
            default: await stage.player.play(for: Int64(pick(30_000))); script.append("time")
            }
            let before = await stage.player.calls.count
            await stage.tick(after: Int64(pick(3_000)))
            let made = await stage.player.calls.count - before
            #expect(made <= 16, "seed \(seed): \(made) commands in one round after \(script.suffix(5))")
        }
        // Settle: time passes with no one touching the player.
        for _ in 0..<12 { await stage.tick(after: 1_000) }
        let before = await stage.player.calls
        for _ in 0..<8 { await stage.tick(after: 1_000) }
        let quiet = await stage.player.calls.dropFirst(before.count)
        #expect(quiet.isEmpty, "seed \(seed): a quiet player got \(Array(quiet)) after \(script.suffix(8))")
        let state = await stage.supervisor.state
        let entries = await SharedPlayerTests.playerEntries(stage)
        #expect(state.entries == entries, "seed \(seed): \(script.suffix(8))")
        if let p = await stage.player.position, !entries.isEmpty {
            let mode = await stage.player.state
            let events = try await stage.events().suffix(8)
            #expect(state.position == p, "seed \(seed): position \(state.position) (\(state.state)), player \(p) (\(mode)) after \(script.suffix(12)); \(events)")
        }
        let report = await stage.supervisor.report()
        #expect(report.connected)
    }
}

/// `AutoplayPlanner`: the shuffle window, album and artist order, pure.
@Suite struct AutoplayPlannerTests {
    /// A seeded generator, so a failure replays.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Three artists, two albums each, three songs per album: ids 1...18 in play order.
    static let order: [SongPlace] = (0..<18).map { (i: Int) -> SongPlace in
        let id = Int64(i + 1), album = Int64(i / 3 + 1), artist = Int64(i / 6 + 1)
        return SongPlace(id: id, albumId: album, artistId: artist)
    }

    @Test func randomRepeatsNothingWithinTheWindow() {
        var rng = Seeded(state: 7)
        var history: [Int64] = []
        for _ in 0..<200 {
            let next = AutoplayPlanner.next(mode: .random, filter: nil, order: Self.order, last: history.last, history: history, want: 1, window: 12, using: &rng)
            #expect(next.count == 1)
            #expect(!history.suffix(12).contains(next[0]), "\(next[0]) within 12 of \(history.suffix(12))")
            history += next
        }
        // The window shrinks to what the catalog allows: 18 songs, 5 wanted, at most 13 remembered.
        let five = AutoplayPlanner.next(mode: .random, filter: nil, order: Self.order, last: nil, history: Array(1...18), want: 5, window: 100, using: &rng)
        #expect(Set(five).count == 5 && Set(five).isSubset(of: Set(1...5)))
    }

    @Test func albumModePlaysInTrackOrderThenAnotherAlbum() {
        var rng = Seeded(state: 3)
        // Mid-album: the rest of album 2 (ids 4, 5, 6), then the first song of another album.
        let next = AutoplayPlanner.next(mode: .album, filter: nil, order: Self.order, last: 4, history: [4], want: 4, window: 50, using: &rng)
        #expect(Array(next.prefix(2)) == [5, 6])
        let third = next[2]
        let firstOfAnother = (third - 1) % 3 == 0 && (third - 1) / 3 + 1 != 2
        #expect(firstOfAnother, "\(next)")
        // A filter starts that album at its first track.
        let start = AutoplayPlanner.next(mode: .album, filter: 5, order: Self.order, last: 4, history: [], want: 3, window: 50, using: &rng)
        #expect(start == [13, 14, 15])
        // Albums heard lately are not picked again while others remain.
        var history: [Int64] = []
        var last: Int64?
        for _ in 0..<6 {
            let album = AutoplayPlanner.next(mode: .album, filter: nil, order: Self.order, last: last, history: history, want: 3, window: 18, using: &rng)
            history += album
            last = album.last
        }
        #expect(Set(history).count == 18, "six albums, each once: \(history)")
    }

    @Test func artistModePlaysTheArtistsAlbumsInOrder() {
        var rng = Seeded(state: 5)
        let artist2 = Array(Self.order.filter { $0.artistId == 2 })
        let next = AutoplayPlanner.next(mode: .artist, filter: 2, order: artist2, last: nil, history: [], want: 8, window: 50, using: &rng)
        #expect(next == [7, 8, 9, 10, 11, 12, 7, 8], "the artist's albums in order, then again")
        let other = AutoplayPlanner.next(mode: .artist, filter: nil, order: Self.order, last: 12, history: Array(7...12), want: 2, window: 50, using: &rng)
        #expect([[1, 2], [13, 14]].contains(other), "\(other)")
    }
}
