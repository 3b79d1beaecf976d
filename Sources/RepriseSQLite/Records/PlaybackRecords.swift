import Foundation
import GRDB
import RepriseCore
import RepriseStorage

/// A row of `player_states`: one supervised player's persisted state (queue, autoplay and history as JSON).
///
/// The queue is a JSON array of song ids and, for other clients' entries, their URLs: `[12, "http://radio/x", 13]`.
struct PlayerStateRecord: FetchableRecord {
    var state: PlayerState

    /// A queue entry as JSON: a song id or a URL.
    private enum StoredEntry: Codable {
        case song(Int64), url(String)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let id = try? c.decode(Int64.self) { self = .song(id) } else { self = .url(try c.decode(String.self)) }
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .song(let id): try c.encode(id)
            case .url(let url): try c.encode(url)
            }
        }
    }

    init(row r: Row) {
        let stored = (try? JSONDecoder().decode([StoredEntry].self, from: Data((r["queue"] as String).utf8))) ?? []
        let autoplay = (r["autoplay"] as String?).flatMap { try? JSONDecoder().decode(AutoplaySettings.self, from: Data($0.utf8)) }
        let history = (r["history"] as String?).flatMap { try? JSONDecoder().decode([Int64].self, from: Data($0.utf8)) } ?? []
        state = PlayerState(position: r["position"], elapsedMs: r["elapsed_ms"], state: PlayerState.Mode(rawValue: r["state"]) ?? .stop, volume: r["volume"], autoplay: autoplay, history: history)
        state.entries = stored.map { switch $0 { case .song(let id): .song(id); case .url(let url): .foreign(url) } }
    }

    /// Writes `state` as player `name`'s row.
    static func save(_ db: Database, name: String, _ s: PlayerState, now: Int64) throws {
        let stored = s.entries.map { e -> StoredEntry in switch e { case .song(let id): .song(id); case .foreign(let url): .url(url) } }
        let queue = String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
        let autoplay = try s.autoplay.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let history = String(decoding: try JSONEncoder().encode(s.history), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO player_states (name, queue, position, elapsed_ms, state, volume, autoplay, history, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, position = excluded.position, elapsed_ms = excluded.elapsed_ms,
                  state = excluded.state, volume = excluded.volume, autoplay = excluded.autoplay, history = excluded.history, updated_at = excluded.updated_at
                """,
            arguments: [name, queue, max(0, s.position), max(0, s.elapsedMs), s.state.rawValue, s.volume, autoplay, history, now])
    }
}

/// A row of `player_events`: a recovery, retry, skip, rotation or another client's action in a player's log.
struct PlayerEventRecord: FetchableRecord {
    var at: Int64
    var kind: String
    var source: String
    var message: String

    init(row: Row) { (at, kind, source, message) = (row["at"], row["kind"], row["source"], row["message"]) }

    static func insert(_ db: Database, player: String, at: Int64, kind: String, source: String, message: String) throws {
        try db.execute(sql: "INSERT INTO player_events (player, at, kind, source, message) VALUES (?, ?, ?, ?, ?)", arguments: [player, at, kind, source, message])
    }
}
