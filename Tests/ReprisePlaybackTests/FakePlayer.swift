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
        calls.append("enqueue \(items.count)")
        self.items += items
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
        items = []
        position = nil
        state = .stop
        error = nil
    }

    func delete(position p: Int) throws {
        try live()
        calls.append("delete \(p)")
        guard items.indices.contains(p) else { throw PlayerError("Bad song index", refused: true) }
        items.remove(at: p)
        if let current = position, p < current { position = current - 1 }
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
        return BackendStatus(state: state, position: position, elapsedMs: elapsedMs, durationMs: 0, volume: volume, error: error, queueLength: items.count)
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
    func comeBack() { up = true; items = []; position = nil; elapsedMs = 0; error = nil }
    /// The current song fails to open, as MPD reports a stream that answered 403 or 404.
    func fail(_ text: String) { state = .stop; error = text }
    /// Plays on for `ms`.
    func play(for ms: Int64) { if state == .play { elapsedMs += ms } }
    /// The current song ends: the next one starts, or the player stops after the last.
    func endSong() {
        guard let p = position else { return }
        elapsedMs = 0
        if p + 1 < items.count { position = p + 1 } else { state = .stop }
    }
    /// Someone else's client stops the player (MPD keeps the current entry and forgets the time).
    func clientStop() { state = .stop; elapsedMs = 0 }
    /// Someone else's client empties the queue.
    func clientClear() { items = []; position = nil; state = .stop; elapsedMs = 0 }
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

    init(songs count: Int = 4, policy: any TokenPolicy = DefaultTokenPolicy(), timing: SupervisorTiming = SupervisorTiming()) async throws {
        dir = try TempDir("reprise-fake").url
        let db = try RepriseDatabase.open(path: dir.appendingPathComponent("db.sqlite").path)
        let users = UserStore(db: db, clock: clock, bcryptCost: 4)
        owner = try await users.add(name: "ann", password: "password1", role: .user)
        let catalog = CatalogStore(db: db, clock: clock)
        let files = (0..<count).map { i in
            SongFile(id: nil, path: "/music/song\(i).flac", size: 1_000_000, mtimeMs: 1, title: "Song \(i)", artist: "Artist", album: "Album",
                     albumArtist: nil, track: i + 1, disc: 1, year: nil, genre: nil, durationMs: 30_000, bitrate: 900, sampleRate: 44_100, channels: 2, format: "flac")
        }
        try await catalog.apply(inserts: files, updates: [], removed: [])
        songs = try await catalog.index().values.map(\.id).sorted()
        tokens = StreamTokenStore(db: db, clock: clock)
        ledger = StreamLedger(db: db, clock: clock)
        env = PlaybackEnvironment(clock: clock, catalog: catalog, tokens: tokens, users: users, ledger: ledger,
                                  states: PlayerStateStore(db: db, clock: clock), tokenPolicy: policy, publicURL: "http://reprise.test")
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

    func remove() { try? FileManager.default.removeItem(at: dir) }
}
