import Foundation
import Logging
import RepriseCore
import RepriseStorage

/// A configured player.
public struct PlayerConfig: Sendable, Equatable {
    public var name: String
    /// The backend plugin (`mpd`, `vlc_http`, or a user plugin's registered backend).
    public var backend: String
    /// The user whose stream token the player's URLs carry.
    public var owner: String
    /// Backend settings (host, port, password...), passed to `connect(cfg)`.
    public var settings: [String: String]
    public init(name: String, backend: String, owner: String, settings: [String: String]) {
        self.name = name
        self.backend = backend
        self.owner = owner
        self.settings = settings
    }
}

/// Timing of the supervisor; short in tests.
public struct SupervisorTiming: Sendable {
    /// How often the player is polled, ms.
    public var pollMs: Int64 = 250
    /// First reconnect delay, ms; doubles up to `maxBackoffMs`.
    public var initialBackoffMs: Int64 = 500
    public var maxBackoffMs: Int64 = 30_000
    /// A token expiring within this many ms is rotated.
    public var rotateBeforeMs: Int64 = 2_500
    /// How often progress is persisted while playing, ms.
    public var persistEveryMs: Int64 = 2_000
    public init() {}
}

/// Watches one player and keeps it doing what its state says: reconnects, restores, retries, refills.
public actor PlayerSupervisor {
    public nonisolated let config: PlayerConfig
    let backend: any PlayerBackend
    let env: PlaybackEnvironment
    let timing: SupervisorTiming
    let logger: Logger
    /// What the run loop waits on between rounds; tests drive `tick()` themselves.
    let sleeper: any Clock<Duration>

    var state = PlayerState()
    var connected = false
    var everConnected = false
    var backoffMs: Int64
    var nextAttemptAt: Int64 = 0
    /// The last failure, with any credential (a player token in a URL MPD quotes) redacted.
    var lastError: String? {
        didSet { if let e = lastError, case let r = Redactor.redact(e), r != e { lastError = r } }
    }
    var recoveries = 0
    var skips = 0
    var retried: Set<Int> = []
    var lastPersistAt: Int64 = 0
    var token: (secret: Secret, info: StreamTokenInfo)?
    /// The mint in progress, which concurrent callers of `ensureToken` wait for.
    private var minting: Task<Void, any Error>?
    /// When the current entry started playing under supervision (ms), to find its stream.
    var currentSince: Int64 = 0
    /// The position the player last reported playing.
    var lastSeenPosition: Int?
    /// Whether the queue played to its end (the current entry is done).
    var atEnd = false
    /// Status polls that failed in a row.
    var failedPolls = 0
    /// Counts API commands, so a status read before one is not acted on after it.
    var commands = 0
    /// API commands in progress (the actor is reentrant: a round may run while one awaits the player).
    var busy = 0
    /// When playback was last started by Reprise; a player may report `stop` while it opens the stream.
    var playIssuedAt: Int64 = 0
    /// A seek to apply once the player reports it is playing that entry (after a restore).
    var pendingSeek: (position: Int, ms: Int64)?
    var seekAttempts = 0
    /// The player's queue version when its queue was last read (nil: not read since connecting).
    var seenQueueVersion: Int64?
    /// The last status, and when it came: another client's seek shows as a jump in time.
    var lastStatus: (status: BackendStatus, at: Int64)?
    /// How many entries at the end of the state Reprise added by itself (autoplay, a restore) since it last read the player's queue.
    var unread = 0

    init(config: PlayerConfig, backend: any PlayerBackend, env: PlaybackEnvironment, timing: SupervisorTiming, logger: Logger, sleeper: any Clock<Duration> = ContinuousClock()) {
        self.sleeper = sleeper
        self.config = config
        self.backend = backend
        self.env = env
        self.timing = timing
        self.logger = logger
        self.backoffMs = timing.initialBackoffMs
    }

    var now: Int64 { env.clock.nowMs() }

    /// Loads the persisted state and mints the player's token (later, on a tick, if the owner does not exist yet).
    func start() async throws {
        state = try await env.states.load(config.name) ?? PlayerState()
        do {
            try await ensureToken(force: true)
        } catch let e as RepriseError where e.code == .config {
            lastError = "token: \(e)"
            logger.notice("player waits for its owner", metadata: ["player.name": "\(config.name)", "reason": "\(e)"])
        }
    }

    /// Runs until cancelled: a round, then a wait for the player to report a change (MPD's `idle`:
    /// another client's action is seen at once) or `pollMs`, whichever comes first.
    func run() async {
        while !Task.isCancelled {
            await tick()
            if connected, await backend.wait(ms: Int(timing.pollMs)) { continue }
            try? await sleeper.sleep(for: .milliseconds(timing.pollMs))
        }
        await backend.disconnect()
    }

    /// One round: connect if needed, read status, reconcile.
    func tick() async {
        do {
            try await ensureToken(force: false)
            // A token problem (the owner did not exist yet) is over once there is a token.
            if token != nil, lastError?.hasPrefix("token: ") == true { lastError = nil }
        } catch let e as RepriseError where e.code == .forbidden {
            // The owner was disabled: their URLs no longer stream, so the player stops and says why.
            token = nil
            if connected, state.state != .stop {
                try? await backend.stop()
                state.state = .stop
                await note("stop", "stopped: \(e.message); playback resumes on play once the owner is enabled again")
                try? await persist(force: true)
            }
            // Cleared once a token is minted again.
            lastError = "token: \(e)"
        } catch {
            lastError = "token: \(error)"
        }
        if !connected {
            guard now >= nextAttemptAt else { return }
            do {
                try await backend.connect()
                // Connected once the queue is back: until then API commands answer 503, not half a player.
                if everConnected {
                    try await restore()
                    recoveries += 1
                    await note("recovery", "reconnected to the player; restored the queue at \(state.position), \(state.elapsedMs) ms")
                } else {
                    try await adoptOrRestore()
                    everConnected = true
                }
                connected = true
                seenQueueVersion = nil
                lastStatus = nil
                backoffMs = timing.initialBackoffMs
            } catch {
                connected = false
                lastError = "\(error)"
                nextAttemptAt = now + backoffMs
                backoffMs = min(timing.maxBackoffMs, backoffMs * 2)
                return
            }
        }
        let generation = commands
        let status: BackendStatus
        do {
            status = try await backend.status()
            failedPolls = 0
        } catch {
            // One slow answer is not a lost player; two in a row are.
            failedPolls += 1
            if failedPolls >= 2 { await lost(error) }
            return
        }
        // A command ran while the status was on its way, or runs now: that status is stale.
        guard generation == commands, busy == 0 else { return }
        do {
            try await reconcile(status)
        } catch {
            lastError = "\(error)"
            logger.warning("player reconcile failed", metadata: ["player.name": "\(config.name)", "error": "\(error)"])
        }
    }

    func lost(_ error: any Error) async {
        connected = false
        failedPolls = 0
        lastError = "\(error)"
        nextAttemptAt = now + backoffMs
        logger.warning("player lost", metadata: ["player.name": "\(config.name)", "error": "\(error)"])
        await backend.disconnect()
        try? await persist(force: true)
    }

    /// At start: a player that still holds Reprise's queue (Reprise restarted, the player did not) is
    /// adopted where it is now, since it may have moved on; its later entries get URLs with the
    /// current token. A player that lost the queue, or stopped while it should play, is restored.
    func adoptOrRestore() async throws {
        let entries = try await backend.queue()
        guard !state.queue.isEmpty, entries.map({ entry(forURL: $0.url) }) == state.entries else {
            return try await restore()
        }
        let status = try await backend.status()
        if let p = status.position, state.queue.indices.contains(p), p != state.position {
            state.position = p
            state.elapsedMs = 0
        }
        // Stopped while it should play: the stop happened while Reprise was down, most likely its own
        // restart cutting the stream (the ledger that would tell has not seen it). Resume, not adopt.
        if status.state == .stop, state.state == .play { return try await restore() }
        state.elapsedMs = status.elapsedMs
        lastSeenPosition = status.position
        currentSince = now; playIssuedAt = now
        switch status.state {
        case .play: state.state = .play
        case .pause: if state.state == .play { state.state = .pause }
        case .stop: break
        }
        await note("adopt", "the player kept its queue across Reprise's restart; playing on at \(state.position), \(state.elapsedMs) ms")
        try await replaceQueuedURLs()
        try await persist(force: true)
    }

    /// The song id of a URL Reprise queued (`.../stream/<id>?token=...`), nil for anything else.
    static func songId(inURL url: String) -> Int64? {
        guard let r = url.range(of: "/stream/") else { return nil }
        let digits = url[r.upperBound...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, url[r.upperBound...].dropFirst(digits.count).first == "?" else { return nil }
        return Int64(digits)
    }

    /// A queue entry by its URL: Reprise's own (`<public URL>/stream/<id>?token=`), or another client's.
    func entry(forURL url: String) -> PlayerState.Entry {
        if url.hasPrefix(env.publicURL + "/stream/"), let id = Self.songId(inURL: url), id > 0 { return .song(id) }
        return .foreign(url)
    }

    /// Rebuilds the player's queue from the state, with fresh URLs, and resumes.
    ///
    /// Only the kept history (`keepPlayed` entries before the current one) and what is ahead come back.
    func restore() async throws {
        let extra = state.position - env.rules.keepPlayed
        if extra > 0 { dropPlayed(extra) }
        try await backend.clear()
        let items = try await items(for: state.entries)
        if !items.isEmpty { try await backend.enqueue(items) }
        unread = items.count
        if let v = state.volume { try? await backend.setVolume(v) }
        guard !state.queue.isEmpty, state.position < state.queue.count else { return }
        if state.state == .play || state.state == .pause {
            try await backend.play(position: state.position)
            currentSince = now; playIssuedAt = now
            lastSeenPosition = nil
            if state.elapsedMs > 1_000 { pendingSeek = (state.position, state.elapsedMs); seekAttempts = 0 }
            if state.state == .pause { try await backend.pause() }
        }
    }

    /// What the player is handed for `entries`: Reprise's songs with fresh URLs and tags, other clients' URLs as they were.
    func items(for entries: [PlayerState.Entry]) async throws -> [PlayItem] {
        let ids = entries.compactMap { if case .song(let id) = $0 { id } else { nil } }
        // An empty queue needs no token: a player connects before its owner exists.
        guard !ids.isEmpty else { return entries.map { PlayItem(url: $0.url ?? "", songId: 0, title: "", durationMs: 0) } }
        if token == nil { try? await ensureToken(force: false) }
        guard let token else { throw BackendError("the player has no stream token (\(lastError ?? "owner unknown"))") }
        let songs = try await env.catalog.songs(ids: ids)
        let byId = Dictionary(songs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return entries.map { e in
            guard case .song(let id) = e else { return PlayItem(url: e.url ?? "", songId: 0, title: "", durationMs: 0) }
            let s = byId[id]
            return PlayItem(
                url: "\(env.publicURL)/stream/\(id)?token=\(token.secret.plaintext)", songId: id, title: s?.title ?? "", durationMs: s?.durationMs ?? 0,
                artist: s?.artist ?? "", album: s?.album ?? "", track: s?.track)
        }
    }

    func items(for ids: [Int64]) async throws -> [PlayItem] { try await items(for: ids.map { .song($0) }) }

    /// Reads the player's queue when it changed (a new version, or a length Reprise did not expect)
    /// and adopts it: MPD is the truth about its queue. What differs from Reprise's own edits is
    /// another client's (add, delete, move), recorded with source `client`; foreign entries stay.
    ///
    /// Returns whether the programme ended (a clear by another client that crossed Reprise's add).
    func syncQueue(_ status: BackendStatus) async throws -> Bool {
        let versionChanged = status.queueVersion.map { $0 != seenQueueVersion } ?? false
        let lengthDiffers = status.queueVersion == nil && status.queueKnown && status.queueLength != state.queue.count
        guard versionChanged || lengthDiffers else { return false }
        let generation = commands
        let read = try await backend.queue()
        // An API command ran meanwhile, or runs now: read again next round.
        guard generation == commands, busy == 0 else { return false }
        seenQueueVersion = status.queueVersion
        let actual = read.map { entry(forURL: $0.url) }
        let expected = state.entries
        let added = min(unread, expected.count)
        unread = 0
        // Reprise's own edits, or a clear (StatusVerdict.cleared ends the programme).
        guard actual != expected, !actual.isEmpty else { return false }
        // All that the player held before Reprise's latest adds is gone, and only (some of) those adds
        // remain: another client's clear crossed an add already on its way. The clear wins.
        if added > 0, expected.count > added, actual.count <= added, Array(expected.suffix(actual.count)) == actual {
            try await backend.clear()
            try await clearedByClient(had: expected.count - added)
            return true
        }
        let old = (entries: expected, position: state.position)
        state.entries = actual
        retried = []
        if let p = status.position, actual.indices.contains(p) {
            state.position = p
        } else {
            state.position = min(state.position, actual.count - 1)
        }
        lastSeenPosition = status.position
        let current = actual[state.position]
        if !old.entries.indices.contains(old.position) || old.entries[old.position] != current {
            currentSince = now; playIssuedAt = now
            state.elapsedMs = status.elapsedMs
        }
        atEnd = false
        let change = QueueChange.between(old.entries, actual)
        await note(change.kind, "\(change.description) by a client; \(actual.count) entries, playing entry \(state.position + 1)", source: .client)
        try await persist(force: true)
        return false
    }

    /// A person's clear ends the programme: nothing queued, autoplay off, recorded.
    func clearedByClient(had: Int) async throws {
        state = PlayerState(volume: state.volume, autoplay: nil)
        atEnd = false
        retried = []
        lastSeenPosition = nil
        unread = 0
        await note("clear", "the queue (\(had) entries) was cleared by a client; the programme ends and autoplay is off", source: .client)
        try await persist(force: true)
    }

    /// Removes the `count` oldest entries from the state (not the player), shifting what points past them.
    func dropPlayed(_ count: Int) {
        var e = state.entries
        e.removeFirst(min(count, e.count))
        state.entries = e
        state.position = max(0, state.position - count)
        lastSeenPosition = lastSeenPosition.map { max(0, $0 - count) }
        retried = Set(retried.compactMap { $0 >= count ? $0 - count : nil })
        if let seek = pendingSeek { pendingSeek = seek.position >= count ? (seek.position - count, seek.ms) : nil }
    }

    /// Keeps at most `keepPlayed` played entries in the player's queue, removing the oldest.
    func trimPlayed() async throws {
        let extra = state.position - env.rules.keepPlayed
        guard extra > 0 else { return }
        for _ in 0..<extra { try await backend.delete(position: 0) }
        dropPlayed(extra)
        try await persist(force: true)
    }

    /// Compares what the player does with what it should do (`StatusVerdict`, `StopVerdict`), and acts.
    func reconcile(_ status: BackendStatus) async throws {
        defer { lastStatus = (status, now) }
        if try await syncQueue(status) { return }
        if let v = status.volume { state.volume = v }
        if let seek = pendingSeek, status.state == .play, status.position == seek.position {
            // A player may refuse to seek while it opens the stream; try on a few ticks, then play on.
            seekAttempts += 1
            if (try? await backend.seek(position: seek.position, ms: seek.ms)) != nil {
                pendingSeek = nil
                state.elapsedMs = seek.ms
                return
            }
            if seekAttempts >= 10 {
                pendingSeek = nil
                await note("seek", "could not seek back to \(seek.ms) ms; the song plays from its start")
            }
        }
        switch StatusVerdict.decide(expected: state.state, position: state.position, lastSeen: lastSeenPosition, status: status, queued: state.queue.count) {
        case .follow(let position, let moved, let elapsedMs, let mode):
            if moved, let p = position {
                if p != state.position {
                    retried.remove(state.position)
                    if let move = clientMove(from: state.position, to: p) { await note(move, "entry \(p + 1) played by a client (was \(state.position + 1))", source: .client) }
                }
                state.position = p
                currentSince = now; playIssuedAt = now
                lastSeenPosition = p
                try await persist(force: true)
            } else if let ms = clientSeek(status) {
                await note("seek", "a client moved entry \(state.position + 1) to \(ms / 1000) s", source: .client)
            }
            if mode != state.state {
                let entry = (position ?? state.position) + 1
                switch mode {
                case .play: await note("play", "played by a client at entry \(entry)", source: .client)
                case .pause: await note("pause", "paused by a client at entry \(entry)", source: .client)
                case .stop: await note("stop", "stopped by a client at entry \(entry) while paused; autoplay waits for play", source: .client)
                }
            }
            state.elapsedMs = elapsedMs
            state.state = mode
            try await persist(force: false)
        case .stopped:
            try await handleStop(status)
        case .paused:
            state.state = .pause
            await note("pause", "paused by a client at entry \(state.position + 1), \(status.elapsedMs / 1000) s; it stays paused until play", source: .client)
            try await persist(force: true)
        case .idle:
            break
        case .cleared:
            try await clearedByClient(had: state.queue.count)
        }
        try await trimPlayed()
        try await refill()
    }

    /// What a change of entry the supervisor did not command was (Reprise's own set the position
    /// first): nil for a song that ended by itself (last seen near its end), else another client's
    /// `next`, `previous` or `jump`.
    func clientMove(from old: Int, to new: Int) -> String? {
        if new == old + 1, let last = lastStatus?.status, last.position == old,
           last.durationMs == 0 || last.elapsedMs >= last.durationMs - StopVerdict.endMarginMs {
            return nil
        }
        return new == old + 1 ? "next" : new == old - 1 ? "previous" : "jump"
    }

    /// The new time when another client seeked within the playing entry: the player's time jumped
    /// more than `seekJumpMs` from where the last status and the time since put it.
    func clientSeek(_ status: BackendStatus) -> Int64? {
        guard pendingSeek == nil, let (last, at) = lastStatus, last.position == status.position, last.state == status.state, status.state != .stop else { return nil }
        let expected = last.elapsedMs + (status.state == .play ? now - at : 0)
        return abs(status.elapsedMs - expected) > Self.seekJumpMs ? status.elapsedMs : nil
    }

    /// A time jump (ms) taken for another client's seek rather than a slow poll.
    static let seekJumpMs: Int64 = 5_000

    /// The player stopped while it should play: the queue ended, the track finished, or it failed (`StopVerdict`).
    func handleStop(_ status: BackendStatus) async throws {
        // Reprise's song at the current entry (another client's entry has no stream or length here).
        let entry: Int64? = state.queue.isEmpty ? nil : state.queue[min(max(0, state.position), state.queue.count - 1)]
        let current = entry == 0 ? nil : entry
        let stream = current.flatMap { songId in
            env.ledger.recent().last { $0.tokenId == token?.info.id && $0.songId == songId && $0.startedAt >= currentSince - 1_000 }
        }
        var durationMs: Int64 = 0
        if let current { durationMs = try await env.catalog.song(id: current)?.durationMs ?? 0 }
        let verdict = StopVerdict.decide(
            error: status.error, sincePlayMs: now - playIssuedAt, position: state.position, queue: state.queue,
            retried: retried, stream: stream, elapsedMs: state.elapsedMs, durationMs: durationMs)
        switch verdict {
        case .wait:
            return
        case .idle:
            state.state = .stop
        case .retry(let position, let songId, let fromMs, let why):
            retried.insert(position)
            await note("retry", "song \(songId) at \(position) failed (\(why)); retrying from \(fromMs) ms with a fresh URL")
            state.position = position
            state.elapsedMs = fromMs
            try await restore()
        case .skip(let position, let songId, let why):
            skips += 1
            await note("skip", "song \(songId) at \(position) failed twice (\(why)); skipped")
            try await advance(from: position)
        case .advance(let position):
            try await advance(from: position)
        case .stoppedByClient(let position):
            // A person's stop wins: Reprise plays nothing until someone plays (here or in any client).
            state.position = position
            state.state = .stop
            await note("stop", "stopped by a client at entry \(position + 1), \(state.elapsedMs) ms; autoplay waits for play", source: .client)
            try await persist(force: true)
        }
    }

    func advance(from position: Int) async throws {
        state.elapsedMs = 0
        if position + 1 < state.queue.count {
            state.position = position + 1
            try await backend.play(position: state.position)
            currentSince = now; playIssuedAt = now
        } else if state.autoplay != nil {
            try await refill(force: true)
            if position + 1 < state.queue.count {
                state.position = position + 1
                try await backend.play(position: state.position)
                currentSince = now; playIssuedAt = now
            } else {
                state.state = .stop
            }
        } else {
            state.position = position
            state.state = .stop
            atEnd = true
        }
        try await persist(force: true)
    }

    /// Keeps `ahead` songs queued after the current one while autoplay is on.
    func refill(force: Bool = false) async throws {
        guard let a = state.autoplay, connected else { return }
        let have = state.queue.count - state.position - 1
        guard have < a.ahead || force else { return }
        let want = max(1, a.ahead - max(0, have))
        let ids = try await chooseNext(a, want: want)
        guard !ids.isEmpty else { return }
        try await backend.enqueue(try await items(for: ids))
        state.queue += ids
        unread += ids.count
        state.history = Array((state.history + ids).suffix(max(1, env.rules.shuffleWindow)))
        try await persist(force: true)
    }

    /// The next `want` songs: the plugin's `autoplay_next` if one answers with known songs, else the mode's (`AutoplayPlanner`).
    func chooseNext(_ a: AutoplaySettings, want: Int) async throws -> [Int64] {
        let songs = state.queue.filter { $0 != 0 }
        if let chooser = env.chooser {
            let ctx = AutoplayContext(
                player: config.name, owner: config.owner, mode: a.mode.rawValue, filter: a.filter, want: want, queue: songs,
                position: state.queue.prefix(state.position).filter { $0 != 0 }.count, history: Array(state.history.suffix(100)))
            // Lua runs off the cooperative pool.
            let picked = await withCheckedContinuation { done in
                DispatchQueue.global().async { done.resume(returning: chooser.autoplayNext(ctx)) }
            }
            if let picked, !picked.isEmpty {
                let known = try await env.catalog.songs(ids: picked).map(\.id)
                if !known.isEmpty { return known }
                await note("autoplay", "autoplay_next chose no song of the catalog (\(picked.prefix(5))); the \(a.mode.rawValue) mode chooses")
            }
        }
        let order = try await env.catalog.playOrder(artistId: a.mode == .artist ? a.filter : nil, albumId: nil)
        var rng = SystemRandomNumberGenerator()
        return AutoplayPlanner.next(
            mode: a.mode, filter: a.filter, order: order, last: songs.last, history: state.history, want: want, window: env.rules.shuffleWindow, using: &rng)
    }

    /// Mints the player's token at start, and rotates it before it expires.
    ///
    /// One mint at a time: the actor is reentrant, and a tick and an enqueue that both found no
    /// token would mint two, the second revoking the first while its URLs sat in the player's queue.
    func ensureToken(force: Bool) async throws {
        if let minting { return try await minting.value }
        let task = Task { try await self.mintToken(force: force) }
        minting = task
        defer { minting = nil }
        try await task.value
    }

    private func mintToken(force: Bool) async throws {
        // A token that no longer authenticates (revoked: a leaked URL cut off) is replaced at once, the current URL included.
        var revoked = false
        if !force, let t = token { revoked = try await env.tokens.authenticate(t.secret) == nil }
        if !force, !revoked, let t = token, let expires = t.info.expiresAt, expires - now > timing.rotateBeforeMs { return }
        if !force, !revoked, let t = token, t.info.expiresAt == nil { return }
        let owner = try await env.owner(config.owner)
        let label = "player:\(config.name)"
        let old = try await env.tokens.list(userId: owner.id).filter { $0.label == label && $0.revokedAt == nil }
        let fresh = try await env.tokens.issue(user: owner, label: label, requestedTTLSeconds: nil, policy: env.tokenPolicy)
        let rotating = token != nil
        token = fresh
        if revoked {
            await note("rotate", "stream token no longer valid (revoked); minted a new one and replaced the queued URLs")
            if connected { try? await replaceQueuedURLs(fromCurrent: true) }
        } else if rotating {
            await note("rotate", "stream token rotated before expiry; replacing queued URLs")
            if connected { try? await replaceQueuedURLs() }
        }
        // Older tokens of this player stay valid until they expire, so the song playing is never cut;
        // with no expiry they would live forever, so those are revoked.
        for t in old where t.expiresAt == nil && t.id != fresh.1.id {
            try await env.tokens.revoke(id: t.id)
        }
    }

    /// Swaps the URLs after the current entry for ones with the new token; the current song plays on.
    ///
    /// `fromCurrent` swaps the current entry too (its URL no longer streams) and resumes it where it was.
    func replaceQueuedURLs(fromCurrent: Bool = false) async throws {
        let first = fromCurrent ? state.position : state.position + 1
        guard first < state.queue.count else { return }
        let count = try await backend.status().queueLength
        for p in stride(from: count - 1, through: first, by: -1) { try await backend.delete(position: p) }
        try await backend.enqueue(try await items(for: Array(state.entries[first...])))
        unread = max(unread, state.entries.count - first)
        if fromCurrent, state.state == .play || state.state == .pause {
            try await backend.play(position: state.position)
            currentSince = now; playIssuedAt = now
            if state.elapsedMs > 1_000 { pendingSeek = (state.position, state.elapsedMs); seekAttempts = 0 }
            if state.state == .pause { try await backend.pause() }
        }
    }

    func persist(force: Bool) async throws {
        guard force || now - lastPersistAt >= timing.persistEveryMs else { return }
        lastPersistAt = now
        try await env.states.save(config.name, state)
    }

    /// Records an event with its source; a failure (retry, skip, a seek that failed) is also the
    /// player's `lastError`, a recovery clears it, and routine (a token rotation, another client's
    /// action) leaves it as it was.
    func note(_ kind: String, _ message: String, source: PlayerEvent.Source = .reprise) async {
        switch (kind, source) {
        case ("recovery", _): lastError = nil
        case ("rotate", _), ("adopt", _), (_, .client): break
        default: lastError = message
        }
        logger.notice("player \(kind)", metadata: ["player.name": "\(config.name)", "source": "\(source.rawValue)", "message": "\(message)"])
        try? await env.states.record(config.name, kind: kind, source: source, message: message)
        env.counters.count(kind, source)
    }

    // MARK: Commands from the API

    /// Fails with `.unavailable` and the reason when the player is down.
    func requireConnected() throws {
        guard connected else { throw RepriseError(.unavailable, "player \(config.name) is down: \(lastError ?? "not connected yet")") }
    }

    public func enqueue(_ ids: [Int64], clear: Bool) async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        let songs = try await env.catalog.songs(ids: ids)
        guard songs.count == ids.count else { throw RepriseError(.notFound, "unknown song id in \(ids)") }
        if clear {
            try await backend.clear()
            state.queue = []
            state.position = 0
            state.elapsedMs = 0
            if state.state == .play { state.state = .stop }
        }
        try await backend.enqueue(try await items(for: ids))
        state.queue += ids
        // A person's own add through Reprise stands, whatever crossed it.
        unread = 0
        if clear { atEnd = false }
        try await persist(force: true)
    }

    public func clearQueue() async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        try await backend.clear()
        state = PlayerState(volume: state.volume, autoplay: nil)
        unread = 0
        try await persist(force: true)
    }

    public func command(_ name: String) async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        try? await ensureToken(force: false)
        switch name {
        case "play":
            guard !state.queue.isEmpty else { throw RepriseError(.badRequest, "the queue is empty") }
            if atEnd { state.position = 0; atEnd = false }
            if state.state == .pause { try await backend.play(position: nil) } else { try await backend.play(position: state.position); currentSince = now; playIssuedAt = now }
            state.state = .play
        case "pause":
            try await backend.pause()
            state.state = .pause
        case "stop":
            try await backend.stop()
            state.state = .stop
            state.elapsedMs = 0
        case "next":
            guard state.position + 1 < state.queue.count else { throw RepriseError(.badRequest, "no next song") }
            state.position += 1
            state.elapsedMs = 0
            try await backend.play(position: state.position)
            currentSince = now; playIssuedAt = now
            state.state = .play
        case "previous":
            guard !state.queue.isEmpty else { throw RepriseError(.badRequest, "the queue is empty") }
            state.position = max(0, state.position - 1)
            state.elapsedMs = 0
            try await backend.play(position: state.position)
            currentSince = now; playIssuedAt = now
            state.state = .play
        default:
            throw RepriseError(.notFound, "unknown command \(name)")
        }
        try await persist(force: true)
    }

    /// Removes the entry at `index`; removing the current one plays the next (if it was playing).
    public func remove(at index: Int) async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        guard state.entries.indices.contains(index) else { throw RepriseError(.badRequest, "no queue entry \(index + 1)") }
        try await backend.delete(position: index)
        var entries = state.entries
        entries.remove(at: index)
        state.entries = entries
        retried = []
        if index < state.position {
            state.position -= 1
            lastSeenPosition = lastSeenPosition.map { max(0, $0 - 1) }
        } else if index == state.position {
            state.elapsedMs = 0
            if state.queue.isEmpty {
                state.position = 0
                state.state = .stop
            } else {
                state.position = min(state.position, state.queue.count - 1)
                if state.state == .play { try await backend.play(position: state.position); currentSince = now; playIssuedAt = now }
            }
        }
        try await persist(force: true)
    }

    /// Replaces the queue with `ids`. When the song playing (or paused) is among them it plays on
    /// uninterrupted where the backend moves entries (MPD); elsewhere the new queue plays from that
    /// song at its time. Its first occurrence in `ids` becomes the current entry.
    public func replaceQueue(_ ids: [Int64]) async throws {
        guard state.state != .stop, state.queue.indices.contains(state.position),
              let k = ids.firstIndex(of: state.queue[state.position]) else {
            if ids.isEmpty { try await clearQueue() } else { try await enqueue(ids, clear: true) }
            return
        }
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        let songs = try await env.catalog.songs(ids: Array(Set(ids)))
        guard songs.count == Set(ids).count else { throw RepriseError(.notFound, "unknown song id in \(ids)") }
        let p = state.position
        let resumeMs = state.elapsedMs
        let wasPlaying = state.state == .play
        // Current entry first; a backend that cannot move leaves the queue untouched so far.
        let first = p == 0 ? true : try await backend.move(from: p, to: 0)
        guard first else {
            try await enqueue(ids, clear: true)
            if wasPlaying { try await jump(to: k, startMs: resumeMs) }
            return
        }
        let count = try await backend.status().queueLength
        for q in stride(from: count - 1, through: 1, by: -1) { try await backend.delete(position: q) }
        var rest = ids
        rest.remove(at: k)
        if !rest.isEmpty { try await backend.enqueue(try await items(for: rest)) }
        let placed = k == 0 ? true : try await backend.move(from: 0, to: k)
        guard placed else {
            throw RepriseError(.unavailable, "player \(config.name) stopped moving entries")
        }
        state.entries = ids.map { .song($0) }
        state.position = k
        lastSeenPosition = k
        lastStatus = nil
        retried = []
        unread = 0
        atEnd = false
        await note("set", "the queue was replaced (\(ids.count) entries); entry \(k + 1) plays on")
        try await persist(force: true)
    }

    /// Shuffles the entries after the current one (re-queued with fresh URLs); the current one plays on.
    public func shuffleUpcoming() async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        let first = state.queue.isEmpty ? 0 : state.position + 1
        guard first < state.queue.count - 1 else { return }
        var upcoming = Array(state.entries[first...])
        upcoming.shuffle()
        let count = try await backend.status().queueLength
        for p in stride(from: count - 1, through: first, by: -1) { try await backend.delete(position: p) }
        try await backend.enqueue(try await items(for: upcoming))
        state.entries = Array(state.entries[..<first]) + upcoming
        try await persist(force: true)
    }

    /// Plays the entry at `index` of the queue.
    public func jump(to index: Int) async throws { try await jump(to: index, startMs: 0) }

    /// Plays the entry at `index` from `startMs` (the seek follows once the player plays that entry).
    public func jump(to index: Int, startMs: Int64) async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        try requireConnected()
        guard state.queue.indices.contains(index) else { throw RepriseError(.badRequest, "no queue entry \(index + 1)") }
        guard startMs >= 0 else { throw RepriseError(.badRequest, "a start time is not negative") }
        state.position = index
        state.elapsedMs = 0
        atEnd = false
        try await backend.play(position: index)
        currentSince = now; playIssuedAt = now
        state.state = .play
        if startMs > 0 { pendingSeek = (index, startMs); seekAttempts = 0 }
        try await persist(force: true)
    }

    public func setVolume(_ v: Int) async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        guard (0...100).contains(v) else { throw RepriseError(.badRequest, "volume must be 0 to 100") }
        try requireConnected()
        try await backend.setVolume(v)
        state.volume = v
        try await persist(force: true)
    }

    public func setAutoplay(_ a: AutoplaySettings?) async throws {
        commands += 1; busy += 1
        defer { commands += 1; busy -= 1 }
        if let a, !(1...100).contains(a.ahead) { throw RepriseError(.badRequest, "ahead must be 1 to 100") }
        state.autoplay = a
        if a != nil && state.state == .stop {
            try requireConnected()
            try await refill(force: atEnd)
            if atEnd && state.position + 1 < state.queue.count { state.position += 1 }
            atEnd = false
            if !state.queue.isEmpty {
                if state.position >= state.queue.count { state.position = state.queue.count - 1 }
                try await backend.play(position: state.position)
                currentSince = now; playIssuedAt = now
                state.state = .play
            }
        }
        try await persist(force: true)
    }

    public func report() -> PlayerReport {
        var report = PlayerReport(
            name: config.name, backend: config.backend, owner: config.owner, connected: connected, state: state.state.rawValue,
            position: state.position, elapsedMs: state.elapsedMs, volume: state.volume, queue: state.queue, autoplay: state.autoplay,
            recoveries: recoveries, skips: skips, lastError: lastError)
        report.foreign = state.entries.enumerated().compactMap { i, e in e.url.map { ForeignEntry(position: i, url: $0) } }
        return report
    }
}

extension PlayerSupervisor: PlayerControl {
    public nonisolated var name: String { config.name }
    public nonisolated var owner: String { config.owner }

    public func recentEvents(limit: Int) async throws -> [PlayerEvent] {
        try await env.states.events(config.name, limit: limit)
    }
}
