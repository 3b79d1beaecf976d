import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// Player states and their event log in SQLite.
public struct PlayerStateStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock

    public init(db: DatabasePool, clock: any WallClock) {
        self.db = db
        self.clock = clock
    }

    /// The saved state of a player, if any.
    public func load(_ name: String) async throws -> PlayerState? {
        try await db.read { db -> PlayerState? in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM player_states WHERE name = ?", arguments: [name]) else { return nil }
            let queue = (try? JSONDecoder().decode([Int64].self, from: Data((r["queue"] as String).utf8))) ?? []
            let autoplay = (r["autoplay"] as String?).flatMap { try? JSONDecoder().decode(AutoplaySettings.self, from: Data($0.utf8)) }
            return PlayerState(queue: queue, position: r["position"], elapsedMs: r["elapsed_ms"], state: PlayerState.Mode(rawValue: r["state"]) ?? .stop, volume: r["volume"], autoplay: autoplay)
        }
    }

    /// Saves a player's state.
    public func save(_ name: String, _ s: PlayerState) async throws {
        let queue = String(decoding: try JSONEncoder().encode(s.queue), as: UTF8.self)
        let autoplay = try s.autoplay.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let now = clock.nowMs()
        try await db.write { db in
            try db.execute(
                sql: """
                    INSERT INTO player_states (name, queue, position, elapsed_ms, state, volume, autoplay, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, position = excluded.position, elapsed_ms = excluded.elapsed_ms,
                      state = excluded.state, volume = excluded.volume, autoplay = excluded.autoplay, updated_at = excluded.updated_at
                    """,
                arguments: [name, queue, max(0, s.position), max(0, s.elapsedMs), s.state.rawValue, s.volume, autoplay, now])
        }
    }

    /// Records a recovery or skip in the player's log.
    public func record(_ name: String, kind: String, message: String) async throws {
        let now = clock.nowMs()
        let message = String(Redactor.redact(message).prefix(2000))
        try await db.write { db in
            try db.execute(sql: "INSERT INTO player_events (player, at, kind, message) VALUES (?, ?, ?, ?)", arguments: [name, now, kind, message])
            try db.execute(sql: "DELETE FROM player_events WHERE player = ? AND id <= (SELECT max(id) - 500 FROM player_events WHERE player = ?)", arguments: [name, name])
        }
    }

    /// The latest events of a player, newest first.
    public func events(_ name: String, limit: Int = 50) async throws -> [(at: Int64, kind: String, message: String)] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT at, kind, message FROM player_events WHERE player = ? ORDER BY id DESC LIMIT ?", arguments: [name, limit])
                .map { (at: $0["at"] as Int64, kind: $0["kind"] as String, message: $0["message"] as String) }
        }
    }
}
