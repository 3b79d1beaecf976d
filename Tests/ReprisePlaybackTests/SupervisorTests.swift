import Foundation
@testable import ReprisePlayback
import RepriseCore
import RepriseStorage
import Testing

/// The supervisor's decisions, deterministic: a `FakePlayer`, real SQLite stores, a manual clock,
/// and rounds driven one by one (`FakeStage.tick`), so no test waits for time to pass.
@Suite struct SupervisorTests {
    /// A player that cannot be reached is tried again after 0.5 s, 1 s, 2 s...; once it answers, the supervisor connects.
    @Test func reconnectBacksOffAndDoubles() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.player.crash()
        var attempts: [Int64] = []
        let start = stage.clock.nowMs()
        for _ in 0..<16 {
            let before = await stage.player.calls.filter { $0 == "connect" }.count
            await stage.tick()
            if await stage.player.calls.filter({ $0 == "connect" }).count > before { attempts.append(stage.clock.nowMs() - start) }
        }
        #expect(attempts == [250, 750, 1_750, 3_750])
        await stage.player.comeBack()
        for _ in 0..<20 { await stage.tick() }
        #expect(await stage.supervisor.report().connected)
    }

    /// A player lost mid-song is restored when it comes back: queue with fresh URLs, the song, the position.
    @Test func lostPlayerIsRestoredWhereItWas() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.jump(to: 1)
        await stage.player.play(for: 5_000)
        await stage.tick(after: 5_000)
        #expect(await stage.supervisor.report().elapsedMs == 5_000)
        await stage.player.crash()
        await stage.tick()
        await stage.tick()
        #expect(await stage.supervisor.report().connected == false)
        await stage.player.comeBack()
        await stage.player.clearCalls()
        for _ in 0..<8 { await stage.tick() }
        let calls = await stage.player.calls
        #expect(calls.starts(with: ["connect", "clear", "enqueue 4", "volume 100", "play 1"]), "\(calls)")
        #expect(calls.contains("seek 1 5000"), "\(calls)")
        let report = await stage.supervisor.report()
        #expect(report.connected && report.position == 1 && report.state == "play" && report.recoveries == 1)
        #expect(await stage.player.items.map(\.songId) == stage.songs)
        #expect(try await stage.events().contains("recovery"))
    }

    /// A song that fails is retried once from where it was; failing again, it is skipped.
    @Test func failedSongIsRetriedOnceThenSkipped() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.command("play")
        await stage.player.play(for: 3_000)
        await stage.tick(after: 3_000)
        await stage.player.fail("403 Forbidden")
        await stage.player.clearCalls()
        await stage.tick()
        #expect(await stage.player.calls.contains("play 0"))
        await stage.tick()
        #expect(await stage.player.calls.contains("seek 0 3000"))
        #expect(await stage.supervisor.report().skips == 0)
        await stage.player.fail("403 Forbidden")
        await stage.tick()
        let report = await stage.supervisor.report()
        #expect(report.skips == 1 && report.position == 1 && report.state == "play")
        #expect(report.lastError?.contains("403 Forbidden") == true)
        #expect(await stage.player.position == 1)
        #expect(try await stage.events().filter { $0 == "retry" || $0 == "skip" } == ["retry", "skip"])
    }

    /// Songs that end advance the position; after the last one the player stays stopped (no autoplay).
    @Test func endedSongsAdvanceAndTheQueueEnds() async throws {
        let stage = try await FakeStage(songs: 2)
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.command("play")
        await stage.player.play(for: 29_500)
        await stage.tick(after: 29_500)
        await stage.player.endSong()
        await stage.tick(after: 500)
        #expect(await stage.supervisor.report().position == 1)
        await stage.player.play(for: 29_500)
        await stage.tick(after: 29_500)
        await stage.player.endSong()
        await stage.player.clearCalls()
        await stage.tick(after: 500)
        await stage.tick()
        let report = await stage.supervisor.report()
        #expect(report.state == "stop" && report.position == 1)
        #expect(await stage.player.calls.filter { $0.hasPrefix("play") } == [], "the supervisor restarted a finished queue")
        #expect(try await !stage.events().contains("stop"), "a queue that ended was taken for a person's stop")
    }

    /// A person stops the player with another client mid-song: it stays stopped, even with autoplay on;
    /// their play (or Reprise's) resumes, and autoplay goes on.
    @Test func aClientsStopStaysStoppedAndTheirPlayResumes() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        #expect(await stage.supervisor.report().state == "play")
        await stage.player.play(for: 10_000)
        await stage.tick(after: 10_000)
        await stage.player.clientStop()
        await stage.player.clearCalls()
        for _ in 0..<20 { await stage.tick(after: 1_000) }
        #expect(await stage.player.calls.filter { $0.hasPrefix("play") } == [], "a person's stop was overruled")
        let stopped = await stage.supervisor.report()
        #expect(stopped.state == "stop" && stopped.autoplay != nil && stopped.lastError == nil)
        #expect(try await stage.events().contains("stop"))
        await stage.player.clientPlay()
        await stage.tick()
        #expect(await stage.supervisor.report().state == "play")
        await stage.player.play(for: 29_500)
        await stage.tick(after: 29_500)
        await stage.player.endSong()
        await stage.tick(after: 500)
        let resumed = await stage.supervisor.report()
        #expect(resumed.position == 1 && resumed.state == "play")
    }

    /// Jukebox `set` on a player that moves entries: the playing entry is moved, never re-added or restarted.
    @Test func replacingTheQueueKeepsTheSongPlaying() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.player.setMovable(true)
        await stage.tick()
        let s = stage.songs
        try await stage.supervisor.enqueue(Array(s[0...2]), clear: false)
        try await stage.supervisor.jump(to: 2)
        await stage.player.play(for: 4_000)
        await stage.tick(after: 4_000)
        let playingURL = await stage.player.items[2].url
        await stage.player.clearCalls()
        try await stage.supervisor.replaceQueue([s[3], s[1], s[2], s[0]])
        let calls = await stage.player.calls
        #expect(!calls.contains { $0.hasPrefix("play") || $0 == "clear" || $0.hasPrefix("seek") }, "\(calls)")
        #expect(await stage.player.items.map(\.songId) == [s[3], s[1], s[2], s[0]])
        #expect(await stage.player.items[2].url == playingURL)
        #expect(await stage.player.position == 2)
        for _ in 0..<3 { await stage.tick(after: 500) }
        let report = await stage.supervisor.report()
        #expect(report.queue == [s[3], s[1], s[2], s[0]] && report.position == 2 && report.state == "play" && report.elapsedMs >= 4_000, "\(report)")
        #expect(!(try await stage.events().contains("jump")))
        // A list without the song playing replaces the queue as it is.
        try await stage.supervisor.replaceQueue([s[0]])
        #expect(await stage.player.items.map(\.songId) == [s[0]])
    }

    /// On a player that cannot move entries, `set` re-queues and plays the song from where it was.
    @Test func replacingTheQueueWithoutMovesResumesTheSong() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        let s = stage.songs
        try await stage.supervisor.enqueue(Array(s[0...2]), clear: false)
        try await stage.supervisor.jump(to: 1)
        await stage.player.play(for: 6_000)
        await stage.tick(after: 6_000)
        await stage.player.clearCalls()
        try await stage.supervisor.replaceQueue([s[2], s[1]])
        for _ in 0..<3 { await stage.tick(after: 250) }
        let calls = await stage.player.calls
        #expect(calls.starts(with: ["clear", "enqueue 2", "play 1"]) && calls.contains("seek 1 6000"), "\(calls)")
        let report = await stage.supervisor.report()
        #expect(report.queue == [s[2], s[1]] && report.position == 1 && report.state == "play")
    }

    /// A player token near its expiry is replaced: later entries get URLs with the new token; the current song plays on.
    @Test func expiringTokenIsRotatedAndLaterURLsSwapped() async throws {
        struct Minute: TokenPolicy {
            func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { .issue(ttlSeconds: 60) }
            func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
        }
        let stage = try await FakeStage(policy: Minute())
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.command("play")
        let before = await stage.player.items.map(\.url)
        await stage.player.clearCalls()
        await stage.tick(after: 58_000)
        let after = await stage.player.items.map(\.url)
        #expect(after.count == 4 && after[0] == before[0], "the current entry was touched")
        #expect(Set(after.dropFirst()).isDisjoint(with: before), "later entries kept the old token")
        #expect(await !stage.player.calls.contains { $0.hasPrefix("play") })
        let live = try await stage.tokens.list(userId: stage.owner.id).filter { $0.label == "player:fake" && $0.revokedAt == nil }
        #expect(live.count == 2)  // the old one expires by itself: the current song's stream is never cut
        #expect(try await stage.events().contains("rotate"))
        #expect(await stage.supervisor.report().lastError == nil, "a routine rotation was reported as an error")
    }

    /// Reprise restarts while the player plays on: the new supervisor adopts where the player is now
    /// (no clear, no seek back) and gives the later entries URLs with its token.
    @Test func restartAdoptsWhereThePlayerIsNow() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.command("play")
        await stage.player.play(for: 4_000)
        await stage.tick(after: 4_000)  // persisted: position 0 at 4 s
        // Reprise stops; the player moves on to the third song meanwhile.
        await stage.player.endSong()
        await stage.player.endSong()
        await stage.player.play(for: 7_000)
        let old = await stage.player.items.map(\.url)
        let restarted = try await stage.restarted()
        await stage.player.clearCalls()
        stage.clock.advance(ms: 250)
        await restarted.tick()
        let calls = await stage.player.calls
        #expect(!calls.contains("clear") && !calls.contains { $0.hasPrefix("seek") || $0.hasPrefix("play") }, "\(calls)")
        let report = await restarted.report()
        #expect(report.position == 2 && report.elapsedMs == 7_000 && report.state == "play" && report.recoveries == 0)
        let urls = await stage.player.items.map(\.url)
        #expect(urls.count == 4 && urls[0...2] == old[0...2] && urls[3] != old[3], "later entries keep a revoked token")
        #expect(try await stage.events().contains("adopt"))
    }

    /// A player found stopped at start while it should play (Reprise's restart cut its stream) plays on
    /// where it was: a stop Reprise did not see is not taken for a person's.
    @Test func restartResumesAPlayerItsRestartStopped() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.jump(to: 1)
        await stage.tick()
        await stage.player.play(for: 6_000)
        await stage.tick(after: 6_000)  // persisted: entry 2 at 6 s
        await stage.player.clientStop()  // the stream cut: MPD stops without an error
        let restarted = try await stage.restarted()
        await stage.player.clearCalls()
        stage.clock.advance(ms: 250)
        await restarted.tick()
        #expect(await stage.player.calls.contains("play 1"))
        stage.clock.advance(ms: 250)
        await restarted.tick()
        let calls = await stage.player.calls
        #expect(calls.contains("seek 1 6000"), "\(calls)")
        #expect(await restarted.report().state == "play")
    }

    /// A player that lost the queue while Reprise was down (both restarted) is restored from the saved state.
    @Test func restartRestoresAPlayerThatLostItsQueue() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.jump(to: 1)
        await stage.player.play(for: 3_000)
        await stage.tick(after: 3_000)
        await stage.player.crash()
        await stage.player.comeBack()
        let restarted = try await stage.restarted()
        await stage.player.clearCalls()
        stage.clock.advance(ms: 250)
        await restarted.tick()
        #expect(await stage.player.calls.starts(with: ["connect", "clear", "enqueue 4"]))
        #expect(await stage.player.position == 1)
    }

    /// Song ids are read back from Reprise's own URLs only.
    @Test func songIdsComeFromReprisesURLs() {
        #expect(PlayerSupervisor.songId(inURL: "http://h:8460/stream/42?token=rt_x") == 42)
        #expect(PlayerSupervisor.songId(inURL: "http://h/stream/42") == nil)
        #expect(PlayerSupervisor.songId(inURL: "http://radio.example/stream/live?x=1") == nil)
        #expect(PlayerSupervisor.songId(inURL: "file:///music/a.flac") == nil)
    }

    /// Another client clears the queue during autoplay: the programme ends (queue empty, autoplay off), recorded; nothing is re-added.
    @Test func aClientsClearEndsTheProgramme() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        await stage.player.play(for: 5_000)
        await stage.tick(after: 5_000)
        await stage.player.clientClear()
        await stage.player.clearCalls()
        for _ in 0..<20 { await stage.tick(after: 1_000) }
        #expect(await stage.player.calls.filter { $0.hasPrefix("enqueue") || $0.hasPrefix("play") } == [])
        let report = await stage.supervisor.report()
        #expect(report.queue.isEmpty && report.autoplay == nil && report.state == "stop" && report.lastError == nil)
        #expect(try await stage.events().contains("clear"))
    }

    /// A clear that crosses autoplay's refill (the add reaches the player after the clear) still ends the
    /// programme: Reprise takes its add back instead of reading the clear as a delete and playing on.
    @Test func aClearThatCrossesARefillEndsTheProgramme() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.setAutoplay(AutoplaySettings(mode: .random, filter: nil, ahead: 2))
        await stage.tick()
        await stage.player.play(for: 29_000)
        await stage.tick(after: 29_000)
        await stage.player.endSong()
        await stage.player.clientClearsBeforeNextEnqueue()
        await stage.tick()
        #expect(await stage.player.items.count == 1, "the add reached the player after the clear")
        for _ in 0..<10 { await stage.tick(after: 1_000) }
        #expect(await stage.player.items.isEmpty)
        let report = await stage.supervisor.report()
        #expect(report.queue.isEmpty && report.autoplay == nil && report.state == "stop" && report.lastError == nil, "\(report)")
        let events = try await stage.clientEvents()
        #expect(events == ["clear"], "\(events)")
    }

    /// Another client moving the player to another entry is followed, not undone.
    @Test func anotherClientsJumpIsFollowed() async throws {
        let stage = try await FakeStage()
        defer { stage.remove() }
        await stage.tick()
        try await stage.supervisor.enqueue(stage.songs, clear: false)
        try await stage.supervisor.command("play")
        await stage.player.jump(to: 2)
        await stage.player.clearCalls()
        await stage.tick()
        #expect(await stage.supervisor.report().position == 2)
        #expect(await stage.player.calls.filter { $0.hasPrefix("play") } == [])
    }
}

/// `StopVerdict`, the supervisor's answer to a player that stopped while it should play.
@Suite struct StopVerdictTests {
    func record(_ status: StreamRecord.Status, reason: String? = nil) -> StreamRecord {
        StreamRecord(id: 1, songId: 8, userId: 1, sessionId: nil, tokenId: 1, player: nil, rangeStart: 0, rangeEnd: 99, bytesExpected: 100,
                     bytesSent: status == .completed ? 100 : 10, startedAt: 0, finishedAt: 1, status: status, reason: reason)
    }

    @Test func decisions() {
        let q: [Int64] = [7, 8, 9]
        // Opening a stream: a stop without an error is not yet a verdict.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 500, position: 0, queue: q, retried: [], stream: nil, elapsedMs: 0) == .wait)
        // An error is a verdict at once.
        #expect(StopVerdict.decide(error: "404", sincePlayMs: 500, position: 1, queue: q, retried: [], stream: nil, elapsedMs: 900)
                == .retry(position: 1, songId: 8, fromMs: 900, why: "404"))
        #expect(StopVerdict.decide(error: "404", sincePlayMs: 500, position: 1, queue: q, retried: [1], stream: nil, elapsedMs: 900)
                == .skip(position: 1, songId: 8, why: "404"))
        // No error, but the server ended the stream (the file changed, a revocation): a failure too.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: record(.aborted, reason: "the file of song 8 shrank while streaming"), elapsedMs: 4_000)
                == .retry(position: 1, songId: 8, fromMs: 4_000, why: "the file of song 8 shrank while streaming"))
        // The player closed a stream it had read in part (a long song, a person's stop): mid-song, a stop.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: record(.aborted, reason: "client went away"), elapsedMs: 4_000, durationMs: 240_000)
                == .stoppedByClient(position: 1))
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: record(.aborted, reason: nil), elapsedMs: 4_000, durationMs: 240_000)
                == .stoppedByClient(position: 1))
        // A completed stream and no error: the song ended.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: record(.completed), elapsedMs: 29_000) == .advance(from: 1))
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 2, queue: q, retried: [], stream: nil, elapsedMs: 0) == .advance(from: 2))
        // A stopped player may report a position past the queue; the last entry is taken.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 7, queue: q, retried: [], stream: nil, elapsedMs: 0) == .advance(from: 2))
        #expect(StopVerdict.decide(error: "x", sincePlayMs: 9_000, position: 0, queue: [], retried: [], stream: nil, elapsedMs: 0) == .idle)
        // No error, the stream whole, but last seen in the middle of a 30 s song: a person stopped it.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: record(.completed), elapsedMs: 12_000, durationMs: 30_000) == .stoppedByClient(position: 1))
        // Last seen within the margin of its end: it ended.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: record(.completed), elapsedMs: 28_500, durationMs: 30_000) == .advance(from: 1))
        // Length unknown: taken as ended, as before.
        #expect(StopVerdict.decide(error: nil, sincePlayMs: 9_000, position: 1, queue: q, retried: [], stream: nil, elapsedMs: 1_000, durationMs: 0) == .advance(from: 1))
    }
}

/// `StatusVerdict`, the supervisor's reading of one status report.
@Suite struct StatusVerdictTests {
    func status(_ state: BackendStatus.State, _ position: Int?, _ elapsed: Int64 = 1_000) -> BackendStatus {
        BackendStatus(state: state, position: position, elapsedMs: elapsed, durationMs: 0, volume: nil, error: nil, queueLength: 3)
    }

    @Test func decisions() {
        // Playing where it was: time only.
        #expect(StatusVerdict.decide(expected: .play, position: 1, lastSeen: 1, status: status(.play, 1)) == .follow(position: 1, moved: false, elapsedMs: 1_000, mode: .play))
        // Another entry (a song ended, or another client jumped): followed.
        #expect(StatusVerdict.decide(expected: .play, position: 1, lastSeen: 1, status: status(.play, 2)) == .follow(position: 2, moved: true, elapsedMs: 1_000, mode: .play))
        // The first report after a play command counts as a move, so the entry's start is recorded.
        #expect(StatusVerdict.decide(expected: .play, position: 1, lastSeen: nil, status: status(.play, 1)) == .follow(position: 1, moved: true, elapsedMs: 1_000, mode: .play))
        // Resumed by another client while paused: playing again; paused as expected: stays paused.
        #expect(StatusVerdict.decide(expected: .pause, position: 0, lastSeen: 0, status: status(.play, 0)) == .follow(position: 0, moved: false, elapsedMs: 1_000, mode: .play))
        #expect(StatusVerdict.decide(expected: .pause, position: 0, lastSeen: 0, status: status(.pause, 0)) == .follow(position: 0, moved: false, elapsedMs: 1_000, mode: .pause))
        #expect(StatusVerdict.decide(expected: .play, position: 0, lastSeen: 0, status: status(.pause, 0)) == .paused)
        #expect(StatusVerdict.decide(expected: .play, position: 0, lastSeen: 0, status: status(.stop, nil)) == .stopped)
        // Started by another client while stopped: playing again.
        #expect(StatusVerdict.decide(expected: .stop, position: 0, lastSeen: 0, status: status(.play, 0)) == .follow(position: 0, moved: false, elapsedMs: 1_000, mode: .play))
        // Paused by another client while stopped, stopped by one while paused: taken as they are.
        #expect(StatusVerdict.decide(expected: .stop, position: 0, lastSeen: 0, status: status(.pause, 0)) == .follow(position: 0, moved: false, elapsedMs: 1_000, mode: .pause))
        #expect(StatusVerdict.decide(expected: .pause, position: 2, lastSeen: 2, status: status(.stop, 2)) == .follow(position: 2, moved: false, elapsedMs: 1_000, mode: .stop))
        #expect(StatusVerdict.decide(expected: .stop, position: 0, lastSeen: 0, status: status(.stop, 0)) == .idle)
        // An empty player queue while Reprise's holds songs: cleared by someone; unknown lengths prove nothing.
        var empty = status(.stop, nil)
        empty.queueLength = 0
        #expect(StatusVerdict.decide(expected: .play, position: 1, lastSeen: 1, status: empty, queued: 3) == .cleared)
        #expect(StatusVerdict.decide(expected: .play, position: 0, lastSeen: 0, status: empty, queued: 0) == .stopped)
        empty.queueKnown = false
        #expect(StatusVerdict.decide(expected: .play, position: 1, lastSeen: 1, status: empty, queued: 3) == .stopped)
    }
}
