import RepriseCore
import RepriseStorage

/// What the supervisor does when a player that should play reports `stop`: a pure decision over
/// the player's report, the queue and the stream the ledger saw for the current song.
///
/// ```swift
/// StopVerdict.decide(error: "404", sincePlayMs: 5_000, position: 1, queue: [7, 8], retried: [], stream: nil, elapsedMs: 900)
/// // .retry(position: 1, songId: 8, fromMs: 900, why: "404")
/// ```
enum StopVerdict: Equatable, Sendable {
    /// The player is still opening the stream it was told to play (it may report `stop` meanwhile).
    case wait
    /// The queue is empty: nothing to play.
    case idle
    /// The song failed the first time: play it again, with fresh URLs, from where it was.
    case retry(position: Int, songId: Int64, fromMs: Int64, why: String)
    /// The song failed again after a retry: go on past it.
    case skip(position: Int, songId: Int64, why: String)
    /// The song ended: go on to the next one.
    case advance(from: Int)
    /// A person stopped the player (another client) in the middle of a song: it stays stopped.
    case stoppedByClient(position: Int)

    /// How long after a play command a `stop` without an error is taken for the stream opening, ms.
    static let openingMs: Int64 = 2_000
    /// A song last seen this close to its end (ms) ended by itself (polls are 250 ms apart).
    static let endMarginMs: Int64 = 2_000

    /// - Parameters:
    ///   - error: the player's error text, if any.
    ///   - sincePlayMs: ms since the supervisor last told the player to play.
    ///   - position: the entry the supervisor last saw playing.
    ///   - retried: positions already retried once.
    ///   - stream: the ledger's record of the current song's stream, if one was seen.
    ///   - elapsedMs: how far the song had played, as last seen.
    ///   - durationMs: the song's length, 0 when unknown.
    ///
    /// | player says | stream (ledger) | last seen elapsed | verdict |
    /// |---|---|---|---|
    /// | stop, no error, < 2 s after a play | any | any | wait (opening) |
    /// | stop with an error | any | any | retry, then skip |
    /// | stop, no error | aborted by the server (a changed file, a cut) | any | retry, then skip |
    /// | stop, no error | completed, closed by the player, or none | within `endMarginMs` of the end, or length unknown | advance (the song ended) |
    /// | stop, no error | completed, closed by the player, or none | earlier | stopped by a client: stays stopped |
    ///
    /// A player stopped by a person closes a stream it had not finished reading (a song of real
    /// length, buffered only in part): that stream ended by the client is a stop, not a failure.
    static func decide(error: String?, sincePlayMs: Int64, position: Int, queue: [Int64], retried: Set<Int>, stream: StreamRecord?, elapsedMs: Int64, durationMs: Int64 = 0) -> StopVerdict {
        if error == nil, sincePlayMs < openingMs { return .wait }
        guard !queue.isEmpty else { return .idle }
        // A stopped player may report any position; the last one seen playing is the truth.
        let position = min(max(0, position), queue.count - 1)
        let songId = queue[position]
        let serverAborted = stream.map { $0.status == .aborted && !$0.endedByClient } ?? false
        guard error != nil || serverAborted else {
            // A song that ends is last seen near its end; a person's stop comes in the middle.
            if durationMs > endMarginMs, elapsedMs < durationMs - endMarginMs { return .stoppedByClient(position: position) }
            return .advance(from: position)
        }
        let why = error ?? stream?.reason ?? "stream aborted"
        if retried.contains(position) { return .skip(position: position, songId: songId, why: why) }
        return .retry(position: position, songId: songId, fromMs: max(0, elapsedMs), why: why)
    }
}

/// What the supervisor makes of one status report of its player: the pure half of `reconcile`.
///
/// ```swift
/// StatusVerdict.decide(expected: .play, position: 0, lastSeen: 0, status: playingAt2)  // .follow(position: 2, moved: true, ...)
/// ```
enum StatusVerdict: Equatable, Sendable {
    /// Playing or paused as expected, or played, paused or stopped by another client (not a stop of a
    /// playing player: that is `stopped`): take the player's entry (`moved`: another than last seen), time and mode.
    case follow(position: Int?, moved: Bool, elapsedMs: Int64, mode: PlayerState.Mode)
    /// Paused while it should play (by another client): take the pause.
    case paused
    /// Stopped while it should play: `StopVerdict` decides why and what next.
    case stopped
    /// Stopped as it should be: nothing to do.
    case idle
    /// The player's queue is empty while Reprise's is not: another client cleared it. The programme ends.
    case cleared

    static func decide(expected: PlayerState.Mode, position: Int, lastSeen: Int?, status: BackendStatus, queued: Int = 0) -> StatusVerdict {
        if queued > 0, status.queueKnown, status.queueLength == 0 { return .cleared }
        switch (expected, status.state) {
        case (.play, .play), (.pause, .pause), (.pause, .play), (.stop, .play), (.stop, .pause), (.pause, .stop):
            let moved = status.position.map { $0 != position || lastSeen != $0 } ?? false
            // Another client's play, pause (of a stopped player) or stop (of a paused one) is taken as it is.
            let mode: PlayerState.Mode = switch status.state { case .play: .play; case .pause: .pause; case .stop: .stop }
            return .follow(position: status.position, moved: moved, elapsedMs: status.elapsedMs, mode: mode)
        case (.play, .stop):
            return .stopped
        case (.play, .pause):
            return .paused
        case (.stop, .stop):
            return .idle
        }
    }
}

/// How another client changed the player's queue, from its entries before and after.
///
/// ```swift
/// QueueChange.between([.song(1), .song(2)], [.song(1), .foreign("http://radio"), .song(2)])  // add, "1 entry added"
/// ```
struct QueueChange: Equatable, Sendable {
    /// The event kind: `add`, `delete`, `move` or `edit`.
    let kind: String
    let description: String

    static func between(_ old: [PlayerState.Entry], _ new: [PlayerState.Entry]) -> QueueChange {
        func isSubsequence(_ a: [PlayerState.Entry], of b: [PlayerState.Entry]) -> Bool {
            var i = a.startIndex
            for e in b where i < a.endIndex && a[i] == e { i += 1 }
            return i == a.endIndex
        }
        func entries(_ n: Int) -> String { n == 1 ? "1 entry" : "\(n) entries" }
        if new.count > old.count, isSubsequence(old, of: new) { return QueueChange(kind: "add", description: "\(entries(new.count - old.count)) added") }
        if new.count < old.count, isSubsequence(new, of: old) { return QueueChange(kind: "delete", description: "\(entries(old.count - new.count)) deleted") }
        var counts: [PlayerState.Entry: Int] = [:]
        for e in old { counts[e, default: 0] += 1 }
        for e in new { counts[e, default: 0] -= 1 }
        if new.count == old.count, counts.values.allSatisfy({ $0 == 0 }) { return QueueChange(kind: "move", description: "entries moved") }
        return QueueChange(kind: "edit", description: "the queue changed (\(old.count) -> \(new.count) entries)")
    }
}
