import Foundation
import MPDClient
import RepriseCore
import RepriseSQLite
import TestSupport
import Testing

@Suite(.serialized) struct PlaybackAcceptanceTests {
    /// The seed scenario: the web session expires and is collected mid-way; every song still plays to the end.
    @Test func autoplaySurvivesSessionGC() async throws {
        let stage = try await Stage(songs: 8, seconds: 2, extraYAML: Stage.quickSessionGC)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let up = try await stage.eventually(10) { await stage.report()?.connected == true }
        let seen = await stage.report()
        #expect(up, "player never connected: \(String(describing: seen))")
        let (status, body) = try await stage.call("POST", "/api/v1/players/living/autoplay", bearer: session, json: #"{"mode":"random","ahead":3}"#)
        #expect(status == 200, "\(body)")
        // The session is never pinged again: GC collects it while the music plays on.
        let collected = try await stage.eventually(10) { try await stage.core.sessions.list().isEmpty }
        #expect(collected, "the idle web session was not collected")
        let played = try await stage.eventually(25) {
            stage.core.ledger.recent().filter { $0.status == .completed && $0.player == "living" }.count >= 6
        }
        #expect(played, "fewer than 6 songs completed")
        let streams = stage.core.ledger.recent().filter { $0.player == "living" }
        #expect(streams.allSatisfy { $0.status == .completed }, "a stream was aborted: \(streams.filter { $0.status != .completed })")
        #expect(stage.core.ledger.totals().refused == 0, "a stream request got 401/403")
        let report = try #require(await stage.report())
        #expect(report.state == "play")
        #expect(report.queue.count - report.position - 1 >= 2, "autoplay stopped refilling")
        // Each song the player streamed through its end is a play of the player's owner (and only one).
        let owner = try #require(try await stage.core.users.find(name: report.owner))
        let completed = Set(streams.filter { $0.status == .completed }.map(\.songId))
        let counted = try await stage.eventually(5) {
            let marks = try await stage.core.library.annotations(user: owner.id, kind: .song, ids: Array(completed))
            return completed.allSatisfy { marks[$0]?.playCount == 1 }
        }
        let marks = try await stage.core.library.annotations(user: owner.id, kind: .song, ids: Array(completed))
        #expect(counted, "plays: \(marks.mapValues(\.playCount))")
    }

    /// MPD dies mid-song and comes back 3 s later on the same port: playback resumes at that song.
    @Test func recoversWhenMPDRestarts() async throws {
        let stage = try await Stage(songs: 3, seconds: 8)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        try await stage.enqueue(ids, session: session)
        _ = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        #expect(try await stage.eventually(10) { let r = await stage.report(); return r?.position == 0 && (r?.elapsedMs ?? 0) > 1_500 })
        await stage.mpd.kill9()
        #expect(try await stage.eventually(5) { (await stage.report())?.connected == false })
        try await Task.sleep(for: .seconds(3))  // the scenario: MPD stays away 3 s
        try await stage.mpd.restart()
        let back = Date()
        let resumed = try await stage.eventually(10) {
            let r = await stage.report()
            return r?.connected == true && (r?.recoveries ?? 0) >= 1 && r?.state == "play" && r?.position == 0 && (r?.elapsedMs ?? 0) > 1_000
        }
        let after = await stage.report()
        let events = try await stage.core.playback!.env.states.events("living")
        #expect(resumed, "playback did not resume at the interrupted song within 10 s: \(String(describing: after)) \(events)")
        #expect(Date().timeIntervalSince(back) < 10)
        #expect(try await stage.eventKinds(session: session).contains("recovery"))
    }

    /// `reprise serve` restarts during playback: queue and position come back.
    @Test func restoresAfterServerRestart() async throws {
        let stage = try await Stage(songs: 3, seconds: 6)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        try await stage.enqueue(ids, session: session)
        _ = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        _ = try await stage.call("POST", "/api/v1/players/living/next", bearer: session)
        #expect(try await stage.eventually(10) { let r = await stage.report(); return r?.position == 1 && (r?.elapsedMs ?? 0) > 2_000 })
        await stage.stop()
        let saved = try #require(try await PlayerStateStore(db: stage.core.db, clock: SystemWallClock()).load("living"))
        #expect(saved.queue == ids)
        #expect(saved.position == 1)
        try stage.start()
        let restored = try await stage.eventually(10) {
            let r = await stage.report()
            return r?.connected == true && r?.queue == ids && r?.position == 1 && r?.state == "play" && (r?.elapsedMs ?? 0) > 1_000
        }
        let final = await stage.report()
        #expect(restored, "queue and position were not restored: \(String(describing: final))")
    }

    /// Every MPD client sees Reprise's entries by their tags (addtagid), not as `?token=` URLs.
    @Test func queuedEntriesCarryTags() async throws {
        let stage = try await Stage(songs: 2, seconds: 2)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        try await stage.enqueue(ids, session: session)
        let songs = try await stage.core.catalog.songs(ids: ids)
        // Another client of the same MPD.
        let other = try await MPDConnection.connect(host: "127.0.0.1", port: stage.mpd.port)
        defer { other.close() }
        let queue = try await other.queue()
        #expect(queue.count == 2)
        #expect(queue.map(\.title) == songs.map(\.title))
        #expect(queue.map(\.artist) == songs.map(\.artist))
        #expect(queue.map(\.album) == songs.map(\.album))
        #expect(queue.allSatisfy { $0.uri.contains("token=") })  // the URL is still what MPD plays
    }

    /// A person stops MPD from another client while Reprise autoplays: it stays stopped (MPD is not
    /// told to play again); their play resumes, and Reprise follows.
    @Test func anotherClientsStopIsNotOverruled() async throws {
        let stage = try await Stage(songs: 3, seconds: 8)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let other = try await stage.autoplayWithAnotherClient(session: session)
        defer { other.close() }
        let playing = try await stage.eventually(10) {
            let mpdState = try await other.status().state
            let elapsed = await stage.report()?.elapsedMs ?? 0
            return mpdState == .play && elapsed > 1_500
        }
        #expect(playing)
        try await other.stop()
        #expect(try await stage.eventually(5) { await stage.report()?.state == "stop" })
        // Three seconds later MPD is still stopped: nothing played it again.
        try await Task.sleep(for: .seconds(3))  // watching a real player for what does not happen
        let still = try await other.status().state
        #expect(still == .stop)
        #expect(try await stage.eventKinds(session: session).contains("stop"))
        try await other.play()
        #expect(try await stage.eventually(5) { await stage.report()?.state == "play" })
    }

    /// A person clears MPD's queue from another client during autoplay: the programme ends; Reprise
    /// adds nothing back, and its player says so.
    @Test func anotherClientsClearEndsTheProgramme() async throws {
        let stage = try await Stage(songs: 3, seconds: 8)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let other = try await stage.autoplayWithAnotherClient(session: session)
        defer { other.close() }
        let playing = try await stage.eventually(10) { try await other.status().state == .play }
        #expect(playing)
        try await other.clear()
        let ended = try await stage.eventually(5) {
            let r = await stage.report()
            return r?.queue.isEmpty == true && r?.autoplay == nil
        }
        let (_, detail) = try await stage.call("GET", "/api/v1/players/living", bearer: session)
        #expect(ended, "\(detail)")
        try await Task.sleep(for: .seconds(3))  // watching a real player for what does not happen
        let length = try await other.status().queueLength
        #expect(length == 0)
        #expect(try await stage.eventKinds(session: session).contains("clear"))
    }

    /// A person edits MPD's queue from another client while Reprise autoplays: their add (a URL of
    /// their own), delete, move, next and pause are adopted, not undone, and recorded as theirs; then
    /// Reprise's own play and autoplay carry on.
    @Test func anotherClientsEditsAreAdoptedAndAutoplayGoesOn() async throws {
        let stage = try await Stage(songs: 6, seconds: 8)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let other = try await stage.autoplayWithAnotherClient(session: session)
        defer { other.close() }
        #expect(try await stage.eventually(10) { try await other.status().state == .play })
        // Their own URL: a stream token of theirs, on another spelling of the server's address.
        let (_, minted) = try await stage.call("POST", "/api/v1/tokens", bearer: session, json: #"{"label": "phone"}"#)
        let token = try #require(minted["token"] as? String)
        let song = try #require(try await stage.core.songs.songs(query: nil, artist: nil, album: nil, limit: 1, offset: 0).songs.first)
        let theirs = "http://localhost:\(stage.port)/stream/\(song.id)?token=\(token)"
        _ = try await other.add(uri: theirs)
        #expect(try await stage.eventually(5) { await stage.report()?.foreign.count == 1 })
        let length = try await other.status().queueLength
        try await other.delete(position: length - 2)
        #expect(try await stage.eventually(5) { try await stage.clientEventKinds(session: session).contains("delete") })
        try await other.move(from: length - 2, to: 0)
        #expect(try await stage.eventually(5) { try await stage.clientEventKinds(session: session).contains("move") })
        // Reprise's view is MPD's queue, foreign entry included (once autoplay's refill settles).
        let same = try await stage.eventually(5) {
            let mpdQueue = try await other.queue().map(\.uri)
            let queue = await stage.report()?.queue ?? []
            return queue.count == mpdQueue.count && zip(queue, mpdQueue).allSatisfy { id, uri in id == 0 ? uri == theirs : uri.contains("/stream/\(id)?") }
        }
        #expect(same)
        try await other.next()
        #expect(try await stage.eventually(5) { try await stage.clientEventKinds(session: session).contains("next") })
        let mpdPosition = try await other.status().songPosition
        #expect(try await stage.eventually(5) { await stage.report()?.position == mpdPosition })
        try await other.pause(true)
        #expect(try await stage.eventually(5) { await stage.report()?.state == "pause" })
        try await Task.sleep(for: .seconds(2))  // watching a real player for what does not happen
        let paused = try await other.status().state
        #expect(paused == .pause, "Reprise undid the pause")
        let kinds = try await stage.clientEventKinds(session: session)
        #expect(["add", "delete", "move", "next", "pause"].allSatisfy(kinds.contains), "\(kinds)")
        // And counted in /metrics by kind and source.
        let metrics = String(decoding: try await Child.http("GET", stage.base + "/metrics").body, as: UTF8.self)
        for kind in ["add", "delete", "move", "next", "pause"] {
            #expect(metrics.contains("reprise_player_events_total{kind=\"\(kind)\",source=\"client\"}"), "\(kind) in /metrics")
        }
        let lastError = await stage.report()?.lastError
        let allKinds = try await stage.eventKinds(session: session)
        #expect(lastError == nil, "\(String(describing: lastError)); \(allKinds)")
        // Reprise's own play resumes; autoplay keeps two songs ahead of whatever plays.
        let (played, _) = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        #expect(played == 200)
        #expect(try await stage.eventually(5) { try await other.status().state == .play })
        let ahead = try await stage.eventually(10) {
            let s = try await other.status()
            return (s.songPosition ?? 0) + 2 < s.queueLength
        }
        #expect(ahead)
    }

    /// Songs of real size (a minute of noise: about 5.5 MB of FLAC each): a person's stop in the middle stays
    /// a stop (no retry); a song that plays out goes on to the next one with no retry or skip.
    @Test func realLengthSongsStopAndFinishAreToldApart() async throws {
        let stage = try await Stage(songs: 2, seconds: 60, noise: true)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let ids = try await stage.core.songs.songs(query: nil, artist: nil, album: nil, limit: 10, offset: 0).songs.map(\.id).sorted()
        #expect(try await stage.core.songs.song(id: ids[0])?.size ?? 0 > 5_000_000)
        try await stage.enqueue(ids, session: session)
        #expect(try await stage.call("POST", "/api/v1/players/living/play", bearer: session).0 == 200)
        let other = try await MPDConnection.connect(host: "127.0.0.1", port: stage.mpd.port)
        defer { other.close() }
        #expect(try await stage.eventually(10) { (await stage.report()?.elapsedMs ?? 0) > 2_000 })
        try await other.stop()
        #expect(try await stage.eventually(5) { await stage.report()?.state == "stop" })
        // MPD 0.23 on one machine reads even these files whole within seconds (the ledger's stream is
        // complete); a player that had read a part closes the stream instead, which
        // `aStopThatClosesAPartReadStreamIsAStop` covers. Either way the stop holds.
        try await Task.sleep(for: .seconds(3))  // watching a real player for what does not happen
        let still = try await other.status().state
        #expect(still == .stop, "the person's stop was overruled")
        // Played on, then near its end: the song plays out and the next one follows, no retry.
        #expect(try await stage.call("POST", "/api/v1/players/living/play", bearer: session).0 == 200)
        #expect(try await stage.eventually(5) { try await other.status().state == .play })
        try await other.seek(position: 0, ms: 56_000)
        let next = try await stage.eventually(15) {
            let r = await stage.report()
            return r?.position == 1 && r?.state == "play"
        }
        #expect(next)
        let kinds = try await stage.eventKinds(session: session)
        #expect(!kinds.contains("retry") && !kinds.contains("skip"), "\(kinds)")
    }

    /// Player tokens that expire every 5 s are rotated; 20 s of music play without a gap.
    @Test func shortLivedPlayerTokensRotateWithoutAGap() async throws {
        struct FiveSeconds: TokenPolicy {
            func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { .issue(ttlSeconds: ctx.label.hasPrefix("player:") ? 5 : ctx.requestedTTLSeconds) }
            func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
        }
        let stage = try await Stage(songs: 6, seconds: 4, tokenPolicy: FiveSeconds())
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        try await stage.enqueue(ids, session: session)
        _ = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        // Streams finish ahead of playback (the player buffers); follow the player's own position instead.
        let done = try await stage.eventually(40) {
            let r = await stage.report()
            return (r?.position ?? 0) >= 5 && r?.state == "play"
        }
        let seen = await stage.report()
        let events = done ? [] : ((try await stage.call("GET", "/api/v1/players/living", bearer: session).1["events"] as? [[String: Any]]) ?? [])
        #expect(done, "20 s of music did not play: \(String(describing: seen)) \(events)")
        #expect(stage.core.ledger.totals().refused == 0, "an expired player token was refused")
        #expect(stage.core.ledger.recent().allSatisfy { $0.status == .completed })
        let rotations = stage.core.playback?.counters.total("rotate") ?? 0
        #expect(rotations >= 3)
        let r = try #require(await stage.report())
        #expect(r.skips == 0)
    }

    /// The owner revokes the player's token (a leaked URL cut off): the player mints a new one at once,
    /// swaps every queued URL, the current one included, and plays on. Found by Schemathesis (a 503 on play).
    @Test func revokedPlayerTokenIsReplacedAndPlaybackGoesOn() async throws {
        let stage = try await Stage(songs: 3, seconds: 3)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let up = try await stage.eventually(10) { await stage.report()?.connected == true }
        #expect(up)
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        try await stage.enqueue(ids, session: session)
        let (tokens, _) = try await stage.call("GET", "/api/v1/tokens", bearer: session)
        #expect(tokens == 200)
        let ann = try #require(try await stage.core.users.find(name: "ann"))
        let old = try #require(try await stage.core.tokens.list(userId: ann.id).first { $0.label == "player:living" && $0.revokedAt == nil })
        let (revoked, _) = try await stage.call("DELETE", "/api/v1/tokens/\(old.id)", bearer: session)
        #expect(revoked == 204)
        let (play, body) = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        #expect(play == 200, "\(body)")
        let played = try await stage.eventually(20) {
            stage.core.ledger.recent().filter { $0.player == "living" && $0.status == .completed }.count >= 2
        }
        let seen = await stage.report()
        #expect(played, "playback did not go on: \(String(describing: seen))")
        let streams = stage.core.ledger.recent().filter { $0.player == "living" }
        #expect(!streams.isEmpty && streams.allSatisfy { $0.tokenId != old.id }, "a stream used the revoked token")
        #expect((stage.core.playback?.counters.total("rotate") ?? 0) >= 1)
    }

    /// A command the player refuses is a 409 naming MPD's reason; one it cannot take for lack of a queue is a 400.
    @Test func refusalsAreConflictsNotOutages() async throws {
        let stage = try await Stage(songs: 1, seconds: 1, mixer: false)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let (volume, body) = try await stage.call("PUT", "/api/v1/players/living/volume", bearer: session, json: #"{"volume": 40}"#)
        #expect(volume == 409, "\(body)")
        let error = body["error"] as? [String: Any]
        #expect(error?["code"] as? String == "player_refused")
        let message = error?["message"] as? String ?? ""
        #expect(message.contains("mixer"), "\(body)")
        let (previous, _) = try await stage.call("POST", "/api/v1/players/living/previous", bearer: session)
        #expect(previous == 400)
        #expect(await stage.report()?.connected == true)
    }

    /// Queue, play, pause, next, volume and recovery on VLC's HTTP interface.
    @Test func vlcFlow() async throws {
        let stage = try await Stage(songs: 3, seconds: 6, useVLC: true)
        defer { Task { await stage.tearDown() } }
        let session = try await stage.login()
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        let (queued, qbody) = try await stage.call("POST", "/api/v1/players/living/queue", bearer: session, json: "{\"song_ids\": [\(ids.map(String.init).joined(separator: ","))]}")
        #expect(queued == 200, "\(qbody)")
        _ = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        #expect(try await stage.eventually(10) { let r = await stage.report(); return r?.state == "play" && (r?.elapsedMs ?? 0) > 500 })
        _ = try await stage.call("POST", "/api/v1/players/living/pause", bearer: session)
        #expect(try await stage.eventually(5) { await stage.report()?.state == "pause" })
        _ = try await stage.call("POST", "/api/v1/players/living/play", bearer: session)
        #expect(try await stage.eventually(5) { await stage.report()?.state == "play" })
        _ = try await stage.call("POST", "/api/v1/players/living/next", bearer: session)
        #expect(try await stage.eventually(8) { let r = await stage.report(); return r?.position == 1 && (r?.elapsedMs ?? 0) > 300 })
        let (volume, _) = try await stage.call("PUT", "/api/v1/players/living/volume", bearer: session, json: #"{"volume": 40}"#)
        #expect(volume == 200)
        #expect(try await stage.eventually(5) { await stage.report()?.volume == 40 })
        // VLC dies and comes back: the supervisor reconnects and restores the queue at the song it was on.
        await stage.vlc?.kill9()
        #expect(try await stage.eventually(5) { await stage.report()?.connected == false })
        try await stage.vlc?.launch()
        let resumed = try await stage.eventually(12) {
            let r = await stage.report()
            return r?.connected == true && (r?.recoveries ?? 0) >= 1 && r?.state == "play" && r?.position == 1
        }
        let seen = await stage.report()
        #expect(resumed, "VLC playback did not resume: \(String(describing: seen))")
        #expect(stage.core.ledger.totals().refused == 0)
    }

    /// Ampache's localplay drives the user's MPD: add, play, status, volume, skip, songs.
    /// Subsonic's `jukeboxControl` drives the user's supervised MPD: add (one batch), start, status,
    /// skip, setGain, get, stop, clear; then the web session of the same user is collected while the
    /// jukebox plays on (its URLs carry the player's token, not the user's credentials).
    @Test func subsonicJukeboxOnMPD() async throws {
        let stage = try await Stage(songs: 3, seconds: 5, extraYAML: Stage.quickSessionGC)
        defer { Task { await stage.tearDown() } }
        _ = try await stage.login()
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        func jukebox(_ query: String) async throws -> [String: Any] {
            let (status, body) = try await stage.call("GET", "/rest/jukeboxControl?u=ann&p=password1&f=json&c=test&\(query)")
            #expect(status == 200)
            return body["subsonic-response"] as? [String: Any] ?? [:]
        }
        var r = try await jukebox("action=add&" + ids.map { "id=\($0)" }.joined(separator: "&"))
        #expect(r["status"] as? String == "ok", "\(r)")
        _ = try await jukebox("action=start")
        #expect(try await stage.eventually(8) { let r = await stage.report(); return r?.state == "play" && (r?.elapsedMs ?? 0) > 300 })
        r = try await jukebox("action=status")
        #expect((r["jukeboxStatus"] as? [String: Any])?["playing"] as? Bool == true)
        _ = try await jukebox("action=skip&index=2")
        #expect(try await stage.eventually(8) { await stage.report()?.position == 2 })
        _ = try await jukebox("action=setGain&gain=0.5")
        #expect(try await stage.eventually(5) { await stage.report()?.volume == 50 })
        r = try await jukebox("action=get")
        let list = r["jukeboxPlaylist"] as? [String: Any]
        #expect((list?["entry"] as? [Any])?.count == 3 && list?["currentIndex"] as? Int == 2 && list?["gain"] as? Double == 0.5)
        // set replaces the queue; the song playing is in the new one, so it plays on, uninterrupted, at its new place.
        #expect(try await stage.eventually(8) { let r = await stage.report(); return r?.position == 2 && (r?.elapsedMs ?? 0) >= 1_500 })
        let mpd = try await MPDConnection.connect(host: "127.0.0.1", port: stage.mpd.port)
        defer { Task { await mpd.close() } }
        let playing = try await mpd.status().songID
        let reordered = [ids[1], ids[2], ids[0]]
        #expect(try await jukebox("action=set&" + reordered.map { "id=\($0)" }.joined(separator: "&"))["status"] as? String == "ok")
        let after = await stage.report()
        #expect(after?.queue == reordered && after?.position == 1 && after?.state == "play", "\(String(describing: after))")
        #expect(try await stage.eventually(5) { let r = await stage.report(); return r?.position == 1 && (r?.elapsedMs ?? 0) >= 1_500 && r?.state == "play" })
        // MPD still plays the very entry it played (same song id: moved, not re-added).
        let seen = try await mpd.status()
        #expect(seen.songID == playing && seen.songPosition == 1 && seen.queueLength == 3, "\(seen)")
        _ = try await jukebox("action=skip&index=2&offset=2")
        #expect(try await stage.eventually(8) { let r = await stage.report(); return r?.position == 2 && r?.state == "play" && (r?.elapsedMs ?? 0) >= 2_000 })
        // The user's web session expires and is collected; the jukebox plays on.
        let collected = try await stage.eventually(10) { try await stage.core.sessions.list().isEmpty }
        #expect(collected)
        #expect(await stage.report()?.state == "play")
        // remove an earlier entry: the song playing plays on, one place earlier; nothing after it to shuffle.
        #expect(try await jukebox("action=remove&index=0")["status"] as? String == "ok")
        #expect(try await stage.eventually(5) { let r = await stage.report(); return r?.queue.count == 2 && r?.position == 1 && r?.state == "play" })
        #expect(try await jukebox("action=shuffle")["status"] as? String == "ok")
        #expect(try await jukebox("action=remove&index=7")["status"] as? String == "failed")
        _ = try await jukebox("action=stop")
        #expect(try await stage.eventually(5) { await stage.report()?.state == "pause" })
        _ = try await jukebox("action=clear")
        #expect(try await stage.eventually(5) { await stage.report()?.queue.isEmpty == true })
        let user = try await stage.call("GET", "/rest/getUser?u=ann&p=password1&f=json&username=ann").1["subsonic-response"] as? [String: Any]
        #expect((user?["user"] as? [String: Any])?["jukeboxRole"] as? Bool == true)
    }

    @Test func ampacheLocalplayOnMPD() async throws {
        let stage = try await Stage(songs: 3, seconds: 5)
        defer { Task { await stage.tearDown() } }
        _ = try await stage.login()
        let ann = try #require(try await stage.core.users.find(name: "ann"))
        let key = try await ApiKeyStore(db: stage.core.db, clock: stage.core.clock).rotate(userId: ann.id)
        let ids = try await stage.core.catalog.index().values.map(\.id).sorted()
        let api = "/server/json.server.php?action=localplay"
        for (i, id) in ids.enumerated() {
            let (status, body) = try await stage.call("GET", "\(api)&command=add&type=song&oid=\(id)&clear=\(i == 0 ? 1 : 0)", bearer: key)
            #expect(status == 200 && body["error"] == nil, "\(body)")
        }
        _ = try await stage.call("GET", "\(api)&command=play", bearer: key)
        #expect(try await stage.eventually(8) { let r = await stage.report(); return r?.state == "play" && (r?.elapsedMs ?? 0) > 300 })
        let (_, status) = try await stage.call("GET", "\(api)&command=status", bearer: key)
        let inner = ((status["localplay"] as? [String: Any])?["command"] as? [String: Any])?["status"] as? [String: Any]
        #expect(inner?["state"] as? String == "play")
        #expect(inner?["track"] as? Int == 1)
        _ = try await stage.call("GET", "\(api)&command=skip&track=3", bearer: key)
        #expect(try await stage.eventually(8) { await stage.report()?.position == 2 })
        _ = try await stage.call("GET", "\(api)&command=volume_down", bearer: key)
        #expect(try await stage.eventually(5) { await stage.report()?.volume == 90 })
        let (_, songs) = try await stage.call("GET", "/server/json.server.php?action=localplay_songs", bearer: key)
        #expect((songs["localplay_songs"] as? [Any])?.count == 3)
        let (_, bad) = try await stage.call("GET", "\(api)&command=frobnicate", bearer: key)
        #expect((bad["error"] as? [String: Any])?["errorCode"] as? String == "4710")
    }
}
