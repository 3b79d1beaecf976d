import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// A row of `player_states`: one supervised player's persisted state (queue and autoplay as JSON).
struct PlayerStateRecord: FetchableRecord {
    var state: PlayerState

    init(row r: Row) {
        let queue = (try? JSONDecoder().decode([Int64].self, from: Data((r["queue"] as String).utf8))) ?? []
        let autoplay = (r["autoplay"] as String?).flatMap { try? JSONDecoder().decode(AutoplaySettings.self, from: Data($0.utf8)) }
        state = PlayerState(queue: queue, position: r["position"], elapsedMs: r["elapsed_ms"], state: PlayerState.Mode(rawValue: r["state"]) ?? .stop, volume: r["volume"], autoplay: autoplay)
    }

    /// Writes `state` as player `name`'s row.
    static func save(_ db: Database, name: String, _ s: PlayerState, now: Int64) throws {
        let queue = String(decoding: try JSONEncoder().encode(s.queue), as: UTF8.self)
        let autoplay = try s.autoplay.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try db.execute(
            sql: """
                INSERT INTO player_states (name, queue, position, elapsed_ms, state, volume, autoplay, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, position = excluded.position, elapsed_ms = excluded.elapsed_ms,
                  state = excluded.state, volume = excluded.volume, autoplay = excluded.autoplay, updated_at = excluded.updated_at
                """,
            arguments: [name, queue, max(0, s.position), max(0, s.elapsedMs), s.state.rawValue, s.volume, autoplay, now])
    }
}

/// A row of `player_events`: a recovery, retry, skip or rotation in a player's log.
struct PlayerEventRecord: FetchableRecord {
    var at: Int64
    var kind: String
    var message: String

    init(row: Row) { (at, kind, message) = (row["at"], row["kind"], row["message"]) }

    static func insert(_ db: Database, player: String, at: Int64, kind: String, message: String) throws {
        try db.execute(sql: "INSERT INTO player_events (player, at, kind, message) VALUES (?, ?, ?, ?)", arguments: [player, at, kind, message])
    }
}
