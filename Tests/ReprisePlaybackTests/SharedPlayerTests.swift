import Foundation
@testable import ReprisePlayback
import RepriseCore
import RepriseStorage
import Logging
import RepriseSync
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

    /// Removing entries and shuffling what is ahead keep the player and Reprise's view the same, and the current song playing.
    @Test func removeAndShuffleKeepTheCurrentSong() async throws {
        let stage = try await FakeStage(songs: 6)
        defer { stage.remove() }
        try await Self.playing(stage)
        await stage.player.endSong()
        await stage.tick()
        #expect(await stage.supervisor.state.position == 1)
        try await stage.supervisor.remove(at: 0)
        let after = await stage.supervisor.state
        #expect(after.position == 0 && after.queue == Array(stage.songs.dropFirst()))
        #expect(await SharedPlayerTests.playerEntries(stage) == after.entries)
        try await stage.supervisor.shuffleUpcoming()
        let state = await stage.supervisor.state
        #expect(state.queue.first == stage.songs[1] && Set(state.queue) == Set(stage.songs.dropFirst()) && state.queue.count == 5)
        #expect(await SharedPlayerTests.playerEntries(stage) == state.entries)
        // Removing the current entry plays the next one.
        try await stage.supervisor.remove(at: 0)
        let count = await stage.supervisor.state.queue.count
        let (mode, at) = (await stage.player.state, await stage.player.position)
        #expect(count == 4 && mode == .play && at == 0)
        await #expect(throws: RepriseError.self) { try await stage.supervisor.remove(at: 9) }
        // A jump with a start time seeks once the player plays that entry.
        try await stage.supervisor.jump(to: 2, startMs: 30_000)
        await stage.tick()
        let (p, ms) = (await stage.player.position, await stage.player.elapsedMs)
        #expect(p == 2 && ms == 30_000, "\(String(describing: p)) \(ms)")
        await stage.player.clearCalls()
        for _ in 0..<4 { await stage.tick(after: 1_000) }
        #expect(await stage.player.calls.filter { $0.hasPrefix("enqueue") || $0.hasPrefix("delete") }.isEmpty, "the next rounds undo nothing")
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

    /// A player stopped mid-song closes a stream it had read only in part (a long song): the ledger
    /// records it aborted by the client, and that is a person's stop, not a failure to retry.
    @Test func aStopThatClosesAPartReadStreamIsAStop() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        try await Self.playing(stage)
        let tokenId = try #require(await stage.supervisor.token?.info.id)
        let stream = stage.ledger.start(songId: stage.songs[0], userId: stage.owner.id, sessionId: nil, tokenId: tokenId, player: "fake", range: 0...39_999_999, bytesExpected: 40_000_000)
        stage.ledger.progress(stream, bytes: 6_000_000)
        await stage.player.play(for: 8_000)
        await stage.tick(after: 8_000)
        await stage.player.clientStop()
        stage.ledger.finish(stream)
        await stage.player.clearCalls()
        for _ in 0..<6 { await stage.tick() }
        let calls = await stage.player.calls
        #expect(calls.isEmpty, "\(calls)")
        #expect(await stage.supervisor.state.state == .stop)
        #expect(try await stage.clientEvents() == ["stop"])
        // The same stream ended by the server (the file changed) is a failure: retried.
        let again = try await FakeStage()
        defer { again.remove() }
        try await Self.playing(again)
        let id2 = try #require(await again.supervisor.token?.info.id)
        let s2 = again.ledger.start(songId: again.songs[0], userId: again.owner.id, sessionId: nil, tokenId: id2, player: "fake", range: 0...39_999_999, bytesExpected: 40_000_000)
        await again.player.play(for: 8_000)
        await again.tick(after: 8_000)
        await again.player.clientStop()
        again.ledger.finish(s2, reason: "the file of song \(again.songs[0]) shrank while streaming")
        await again.tick()
        #expect(try await again.events().contains("retry"))
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
        let (played, longest) = await LongRunTests.play(stage, songs: 60)
        #expect(longest <= 3 + 2 + 1)
        #expect(played.count == 60)
        for i in played.indices {
            let window = played[max(0, i - 19)..<i]
            #expect(!window.contains(played[i]), "song \(played[i]) repeated within 20 at \(i)")
        }
    }
}

/// `autoplay_next` chooses before the built-in modes; unknown ids or no answer fall back to them.
@Suite struct AutoplayChooserTests {
    /// Answers `ids` and remembers what it was asked.
    final class Fixed: AutoplayChooser, @unchecked Sendable {
        let ids: [Int64]?
        let asked = Locked<[AutoplayContext]>([])
        init(_ ids: [Int64]?) { self.ids = ids }
        func autoplayNext(_ ctx: AutoplayContext) -> [Int64]? { asked.withLock { $0.append(ctx) }; return ids }
    }

    @Test func aPluginsChoiceIsQueuedAndAnUnknownOneFallsBack() async throws {
        // A fresh catalog numbers its songs from 1.
        let chosen: Int64 = 5
        let chooser = Fixed([chosen])
        let stage = try await FakeStage(songs: 6, chooser: chooser)
        defer { stage.remove() }
        #expect(stage.songs.contains(chosen))
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        // One id answered: one song queued per refill, until two are ahead.
        #expect(await stage.supervisor.state.queue == [chosen])
        await stage.tick()
        #expect(await stage.supervisor.state.queue == [chosen, chosen])
        let ctx = try #require(chooser.asked.withLock { $0.first })
        #expect(ctx.player == "fake" && ctx.owner == "ann" && ctx.mode == "random" && ctx.want == 2 && ctx.queue.isEmpty)

        let lost = try await FakeStage(songs: 6, chooser: Fixed([999_999]))
        defer { lost.remove() }
        await lost.tick()
        try await lost.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        let queue = await lost.supervisor.state.queue
        #expect(queue.count == 2 && queue.allSatisfy(lost.songs.contains), "the built-in mode chose: \(queue)")
        #expect(try await lost.events().contains("autoplay"))
    }
}

/// An hour of autoplay, accelerated (30 s songs, a manual clock): the queue stays within
/// `keep_played + ahead + 1`, `album` plays whole albums in track order, `random` repeats no song
/// within its window.
@Suite struct LongRunTests {
    /// Plays `count` songs to their end; returns the song ids played and the longest queue seen.
    static func play(_ stage: FakeStage, songs count: Int) async -> (played: [Int64], longest: Int) {
        var played: [Int64] = []
        var longest = 0
        for _ in 0..<count {
            await stage.tick()
            if let p = await stage.player.position { played.append(await stage.player.items[p].songId) }
            await stage.player.play(for: 29_500)
            await stage.tick(after: 29_500)
            await stage.player.endSong()
            longest = max(longest, await stage.player.items.count)
        }
        return (played, longest)
    }

    @Test func anHourOfAlbumThenRandomAutoplay() async throws {
        // Eight albums of five songs (ids in album and track order).
        let stage = try await FakeStage(songs: 40, albums: 8, rules: QueueRules(keepPlayed: 10, shuffleWindow: 40))
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .album, filter: nil, ahead: 3))
        let album = await Self.play(stage, songs: 60)
        #expect(album.longest <= 10 + 3 + 1)
        // Whole albums, each in track order: every run of five starts at a track 1.
        let songs = try await stage.env.catalog.songs(ids: stage.songs)
        let place = Dictionary(uniqueKeysWithValues: songs.map { ($0.id, ($0.albumId, $0.track ?? 0)) })
        let tracks = album.played.map { place[$0]!.1 }
        #expect(tracks == Array(repeating: [1, 2, 3, 4, 5], count: 12).flatMap { $0 }, "\(tracks)")
        let albums = stride(from: 0, to: 60, by: 5).map { place[album.played[$0]]!.0 }
        #expect(zip(albums, albums.dropFirst()).allSatisfy { $0 != $1 }, "an album twice in a row: \(albums)")
        #expect(Set(albums.prefix(8)).count == 8, "every album before any again: \(albums)")
        // Then random for the second half hour.
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 3))
        let random = await Self.play(stage, songs: 60)
        #expect(random.longest <= 10 + 3 + 1)
        // The window: 40 songs, less the 3 queued at once, of 40: no song twice within 36.
        let fresh = Array(random.played.dropFirst(4))
        for (i, id) in fresh.enumerated() {
            #expect(!fresh[..<i].suffix(36).contains(id), "song \(id) again within 36 at \(i)")
        }
    }
}

/// Random interleavings of other clients' commands and stream outcomes (seeded, so a failure
/// replays): every round makes a bounded number of player commands, a quiet player gets none (no
/// loop), and the supervisor's queue and position end up matching the player's.
@Suite(.serialized) struct SharedPlayerPropertyTests {
    @Test(arguments: 0..<16)
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

/// Revocation reaches playback: `StreamWatch` cuts a revoked token's or disabled user's streams,
/// never a stream whose token merely expired; a disabled owner's player stops and says why.
@Suite struct RevocationTests {
    @Test func theWatchCutsRevokedNotExpired() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        let (_, info) = try await stage.tokens.issue(user: stage.owner, label: "phone", requestedTTLSeconds: 1, policy: DefaultTokenPolicy())
        let watch = StreamWatch(ledger: stage.ledger, tokens: stage.tokens, users: stage.env.users, clock: ContinuousClock(), logger: Logger(label: "test"))
        let id = stage.ledger.start(songId: stage.songs[0], userId: stage.owner.id, sessionId: nil, tokenId: info.id, player: nil, range: 0...99, bytesExpected: 100)
        let closed = Locked(false)
        stage.ledger.onCut(id) { closed.withLock { $0 = true } }
        stage.clock.advance(ms: 5_000)
        #expect(try await watch.check() == 0, "an expired token's stream plays on")
        try await stage.tokens.revoke(id: info.id)
        #expect(try await watch.check() == 1)
        #expect(closed.withLock { $0 })
        #expect(try await watch.check() == 0, "cut once")
        stage.ledger.finish(id, reason: "client went away")
        let record = try #require(stage.ledger.recent().last)
        #expect(record.status == .aborted && record.reason == "the stream token was revoked")
    }

    @Test func aDisabledOwnersPlayerStopsAndResumesOnceEnabled() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        try await SharedPlayerTests.playing(stage)
        try await stage.env.users.setDisabled(name: "ann", true)
        // The token store looks at the row again after a second.
        await stage.tick(after: 1_500)
        #expect(await stage.player.state == .stop)
        let report = await stage.supervisor.report()
        #expect(report.state == "stop")
        #expect(report.lastError?.contains("disabled") == true, "\(String(describing: report.lastError))")
        try await stage.env.users.setDisabled(name: "ann", false)
        await stage.tick()
        try await stage.supervisor.command("play")
        #expect(await stage.player.state == .play)
        await stage.tick()
        #expect(await stage.supervisor.report().lastError == nil)
    }
}
