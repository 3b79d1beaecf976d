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
            try PlayerStateRecord.fetchOne(db, sql: "SELECT * FROM player_states WHERE name = ?", arguments: [name])?.state
        }
    }

    /// Saves a player's state.
    public func save(_ name: String, _ s: PlayerState) async throws {
        let now = clock.nowMs()
        try await db.write { db in try PlayerStateRecord.save(db, name: name, s, now: now) }
    }

    /// Records a recovery, a skip or another client's action in the player's log.
    public func record(_ name: String, kind: String, source: PlayerEvent.Source, message: String) async throws {
        let now = clock.nowMs()
        let message = String(Redactor.redact(message).prefix(2000))
        try await db.write { db in
            try PlayerEventRecord.insert(db, player: name, at: now, kind: kind, source: source.rawValue, message: message)
            try db.execute(sql: "DELETE FROM player_events WHERE player = ? AND id <= (SELECT max(id) - 500 FROM player_events WHERE player = ?)", arguments: [name, name])
        }
    }

    /// The latest events of a player, newest first.
    public func events(_ name: String, limit: Int = 50) async throws -> [PlayerEvent] {
        try await db.read { db in
            try PlayerEventRecord.fetchAll(db, sql: "SELECT at, kind, source, message FROM player_events WHERE player = ? ORDER BY id DESC LIMIT ?", arguments: [name, limit])
                .map { PlayerEvent(at: $0.at, kind: $0.kind, source: PlayerEvent.Source(rawValue: $0.source) ?? .reprise, message: $0.message) }
        }
    }
}
