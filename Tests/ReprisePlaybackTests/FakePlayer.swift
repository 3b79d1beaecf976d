import Foundation
import TestSupport
import Logging
@testable import ReprisePlayback
import RepriseCore
import RepriseSQLite
import RepriseStorage

/// A player in memory, for deterministic tests of the supervisor's decisions: a queue of URLs, a
/// transport state, and controls a test uses to crash it, fail a song or end one.
actor FakePlayer: PlayerBackend {
    private(set) var items: [PlayItem] = []
    private(set) var state: BackendStatus.State = .stop
    private(set) var position: Int?
    private(set) var elapsedMs: Int64 = 0
    private(set) var error: String?
    private(set) var volume: Int? = 100
    /// Whether the player process is reachable.
    private var up = true
    private var connected = false
    /// Every command, in order (`connect`, `enqueue 3`, `play 1`, `seek 1 4000`...).
    private(set) var calls: [String] = []
    /// The queue's version, bumped by every change to it (as MPD's playlist version).
    private(set) var version: Int64 = 1
    /// Whether status reports the version (MPD does; a backend without one is compared by length).
    var versioned = true
    func setVersioned(_ v: Bool) { versioned = v }
    /// Changes the queue and bumps its version.
    private func edit(_ change: (inout [PlayItem]) -> Void) { change(&items); version += 1 }

    private func live() throws {
        guard up, connected else {
            connected = false
            throw PlayerError("connection lost")
        }
    }

    func connect() throws {
        calls.append("connect")
        guard up else { throw PlayerError("connection refused") }
        connected = true
    }

    func enqueue(_ items: [PlayItem]) throws {
        try live()
        if clearBeforeEnqueue { clearBeforeEnqueue = false; clientClear() }
        calls.append("enqueue \(items.count)")
        edit { $0 += items }
    }

    func play(position: Int?) throws {
        try live()
        calls.append("play \(position.map(String.init) ?? "-")")
        if let position {
            guard items.indices.contains(position) else { throw PlayerError("Bad song index", refused: true) }
            self.position = position
            elapsedMs = 0
        }
        guard self.position != nil else { throw PlayerError("nothing to play", refused: true) }
        state = .play
        error = nil
    }

    func pause() throws { try live(); calls.append("pause"); if state == .play { state = .pause } }
    func stop() throws { try live(); calls.append("stop"); state = .stop; elapsedMs = 0 }
    func next() throws { try live(); calls.append("next"); try play(position: (position ?? -1) + 1) }
    func previous() throws { try live(); calls.append("previous"); try play(position: max(0, (position ?? 1) - 1)) }

    func clear() throws {
        try live()
        calls.append("clear")
        edit { $0 = [] }
        position = nil
        state = .stop
        error = nil
    }

    func delete(position p: Int) throws {
        try live()
        calls.append("delete \(p)")
        guard items.indices.contains(p) else { throw PlayerError("Bad song index", refused: true) }
        edit { _ = $0.remove(at: p) }
        if let current = position, p < current { position = current - 1 }
    }

    /// Whether the player moves entries (MPD does; the fake, like VLC, does not unless told).
    var movable = false
    func setMovable(_ v: Bool) { movable = v }

    func move(from: Int, to: Int) throws -> Bool {
        guard movable else { return false }
        try live()
        calls.append("move \(from) \(to)")
        guard items.indices.contains(from), items.indices.contains(to) else { throw PlayerError("Bad song index", refused: true) }
        edit { $0.insert($0.remove(at: from), at: to) }
        // The current entry travels with its move; the others shift around it.
        if let current = position {
            if current == from { position = to } else if from < current, to >= current { position = current - 1 } else if from > current, to <= current { position = current + 1 }
        }
        return true
    }

    func seek(position p: Int, ms: Int64) throws {
        try live()
        calls.append("seek \(p) \(ms)")
        guard state == .play, position == p else { throw PlayerError("not playing that entry", refused: true) }
        elapsedMs = ms
    }

    func setVolume(_ v: Int) throws { try live(); calls.append("volume \(v)"); volume = v }

    func status() throws -> BackendStatus {
        try live()
        let duration = position.flatMap { items.indices.contains($0) ? items[$0].durationMs : nil } ?? 0
        return BackendStatus(
            state: state, position: position, elapsedMs: elapsedMs, durationMs: duration, volume: volume, error: error, queueLength: items.count,
            queueVersion: versioned ? version : nil)
    }

    func queue() throws -> [BackendQueueEntry] {
        try live()
        return items.enumerated().map { BackendQueueEntry(position: $0.offset, url: $0.element.url) }
    }

    func disconnect() { connected = false }

    // MARK: What a test makes happen

    /// The player process goes away (every call fails until `comeBack`).
    func crash() { up = false; connected = false; state = .stop }
    /// The process is back, empty, as a restarted MPD would be.
    func comeBack() { up = true; edit { $0 = [] }; position = nil; elapsedMs = 0; error = nil }
    /// The current song fails to open, as MPD reports a stream that answered 403 or 404.
    func fail(_ text: String) { state = .stop; error = text }
    /// Plays on for `ms`.
    func play(for ms: Int64) { if state == .play { elapsedMs += ms } }
    /// The current song ends: the next one starts, or the player stops after the last.
    func endSong() {
        guard let p = position, state == .play else { return }
        elapsedMs = 0
        if p + 1 < items.count { position = p + 1 } else { state = .stop }
    }
    /// Someone else's client stops the player (MPD keeps the current entry and forgets the time).
    func clientStop() { state = .stop; elapsedMs = 0 }
    /// Someone else's client empties the queue.
    func clientClear() { edit { $0 = [] }; position = nil; state = .stop; elapsedMs = 0 }

    private var clearBeforeEnqueue = false
    /// Another client's clear lands just before Reprise's next add: the add was on its way when the person cleared.
    func clientClearsBeforeNextEnqueue() { clearBeforeEnqueue = true }
    /// Someone else's client adds a URL at the end (or at `at`).
    func clientAdd(_ url: String, at: Int? = nil) {
        let item = PlayItem(url: url, songId: 0, title: "", durationMs: 0)
        let at = min(at ?? items.count, items.count)
        edit { $0.insert(item, at: at) }
        if let p = position, at <= p { position = p + 1 }
    }
    /// Someone else's client deletes an entry (MPD plays the next one if it was the current).
    func clientDelete(_ p: Int) {
        guard items.indices.contains(p) else { return }
        edit { _ = $0.remove(at: p) }
        if let c = position {
            if p < c { position = c - 1 } else if p == c {
                elapsedMs = 0
                if p >= items.count { position = nil; state = .stop }
            }
        }
    }
    /// Someone else's client moves an entry (the current one keeps playing wherever it goes).
    func clientMove(from: Int, to: Int) {
        guard items.indices.contains(from), items.indices.contains(to) else { return }
        let currentIndex = position
        edit { let e = $0.remove(at: from); $0.insert(e, at: to) }
        if let c = currentIndex {
            if c == from { position = to } else {
                var p = c
                if from < c { p -= 1 }
                if to <= p { p += 1 }
                position = p
            }
        }
    }
    /// Someone else's client pauses.
    func clientPause() { if state == .play { state = .pause } }
    /// Someone else's client seeks within the current entry.
    func clientSeek(_ ms: Int64) { if position != nil { elapsedMs = ms } }
    /// Someone else's client skips to the next entry.
    func clientNext() { if let p = position, p + 1 < items.count { position = p + 1; elapsedMs = 0; state = .play } }
    /// The URLs in the player's queue.
    var urls: [String] { items.map(\.url) }
    /// Someone else's client plays the current entry.
    func clientPlay() { if position != nil { state = .play; error = nil } }
    /// Someone else's client changes the current entry.
    func jump(to p: Int) { position = p; elapsedMs = 0; state = .play }
    func clearCalls() { calls = [] }
}

/// A supervisor over a `FakePlayer`, with real SQLite stores in a temporary folder and a manual clock.
struct FakeStage {
    let dir: URL
    let clock = ManualWallClock()
    let player = FakePlayer()
    let supervisor: PlayerSupervisor
    let env: PlaybackEnvironment
    let songs: [Int64]
    let owner: User
    let tokens: StreamTokenStore
    let ledger: StreamLedger

    /// `count` songs over `albums` albums (in order, tracks numbered per album) by `artists` artists.
    init(
        songs count: Int = 4, albums: Int = 1, artists: Int = 1, policy: any TokenPolicy = DefaultTokenPolicy(), timing: SupervisorTiming = SupervisorTiming(),
        rules: QueueRules = QueueRules(), chooser: (any AutoplayChooser)? = nil
    ) async throws {
        dir = try TempDir("reprise-fake").url
        let db = try RepriseDatabase.open(path: dir.appendingPathComponent("db.sqlite").path, readers: 2)
        let users = UserStore(db: db, clock: clock, bcryptCost: 4)
        owner = try await users.add(name: "ann", password: "password1", role: .user)
        let catalog = CatalogStore(db: db, clock: clock)
        let perAlbum = max(1, (count + albums - 1) / albums)
        let files = (0..<count).map { i in
            let album = i / perAlbum
            return SongFile(
                id: nil, path: "/music/song\(i).flac", size: 1_000_000, mtimeMs: 1, title: "Song \(i)", artist: artists == 1 ? "Artist" : "Artist \(album % artists)",
                album: albums == 1 ? "Album" : "Album \(album)", albumArtist: nil, track: i % perAlbum + 1, disc: 1, year: nil, genre: nil, durationMs: 30_000,
                bitrate: 900, sampleRate: 44_100, channels: 2, format: "flac")
        }
        try await catalog.apply(inserts: files, updates: [], removed: [])
        songs = try await catalog.index().values.map(\.id).sorted()
        tokens = StreamTokenStore(db: db, clock: clock)
        ledger = StreamLedger(db: db, clock: clock)
        var env = PlaybackEnvironment(clock: clock, catalog: catalog, tokens: tokens, users: users, ledger: ledger,
                                      states: PlayerStateStore(db: db, clock: clock), tokenPolicy: policy, publicURL: "http://reprise.test")
        env.rules = rules
        env.chooser = chooser
        self.env = env
        var logger = Logger(label: "fake")
        logger.logLevel = .critical
        supervisor = PlayerSupervisor(config: PlayerConfig(name: "fake", backend: "fake", owner: "ann", settings: [:]), backend: player, env: env, timing: timing, logger: logger)
        try await supervisor.start()
    }

    /// A new supervisor over the same player and stores, as after a restart of `reprise serve`; started.
    func restarted() async throws -> PlayerSupervisor {
        var logger = Logger(label: "restarted")
        logger.logLevel = .critical
        let s = PlayerSupervisor(config: supervisor.config, backend: player, env: env, timing: SupervisorTiming(), logger: logger)
        try await s.start()
        return s
    }

    /// Moves the clock on by `ms` and runs one supervisor round.
    func tick(after ms: Int64 = 250) async {
        clock.advance(ms: ms)
        await supervisor.tick()
    }

    func events() async throws -> [String] { try await supervisor.recentEvents(limit: 100).reversed().map(\.kind) }
    /// Events another client caused, oldest first.
    func clientEvents() async throws -> [String] { try await supervisor.recentEvents(limit: 100).reversed().filter { $0.source == .client }.map(\.kind) }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}
