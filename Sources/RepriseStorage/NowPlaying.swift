import RepriseCore
import RepriseSync

/// What each user is playing now: songs clients announce (a scrobble's now-playing) and streams in progress.
public final class NowPlayingBoard: Sendable {
    private let announced = Locked<[String: NowPlaying]>([:])
    /// An announcement is forgotten after this long (ms) unless renewed.
    public let keepMs: Int64

    public init(keepMs: Int64 = 600_000) { self.keepMs = keepMs }

    /// Notes that `user` plays `song` on `player` (one entry per user and player).
    public func announce(_ entry: NowPlaying) {
        announced.withLock { board in
            board["\(entry.userId)\u{0}\(entry.player)"] = entry
            if board.count > 10_000 { board.removeAll() }
        }
    }

    /// The announcements younger than `keepMs`, then streams in progress for any user and player not announced, newest first.
    public func list(now: Int64, streams: [StreamRecord], userName: (Int64) -> String?) -> [NowPlaying] {
        var out = announced.withLock { board in
            board = board.filter { now - $0.value.since < keepMs }
            return Array(board.values)
        }
        var seen = Set(out.map { "\($0.userId)\u{0}\($0.player)" })
        for r in streams.sorted(by: { $0.startedAt > $1.startedAt }) {
            guard let user = r.userId, let name = userName(user) else { continue }
            let player = r.player ?? "stream"
            guard seen.insert("\(user)\u{0}\(player)").inserted else { continue }
            out.append(NowPlaying(userId: user, user: name, songId: r.songId, player: player, since: r.startedAt))
        }
        return out.sorted { ($0.since, $0.userId) > ($1.since, $1.userId) }
    }
}

/// When a stream the server saw is a play: a supervised player's stream that completed through the file's last byte.
///
/// A player that reads a song in several range requests makes one play (only the tail counts), and the
/// play window of `LibraryRepository.recordPlay` absorbs a tail read twice.
public enum StreamPlays {
    public static func counts(_ r: StreamRecord, songSize: Int64) -> Bool {
        r.status == .completed && r.player != nil && r.userId != nil && songSize > 0 && r.rangeEnd >= songSize - 1
    }

    /// The window within which a second play of a song by a user is the same play: half the song, at least 30 s.
    public static func windowMs(durationMs: Int64) -> Int64 { max(30_000, durationMs / 2) }
}
