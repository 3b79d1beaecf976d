import RepriseCore

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

    /// How long after a play command a `stop` without an error is taken for the stream opening, ms.
    static let openingMs: Int64 = 2_000

    /// - Parameters:
    ///   - error: the player's error text, if any.
    ///   - sincePlayMs: ms since the supervisor last told the player to play.
    ///   - position: the entry the supervisor last saw playing.
    ///   - retried: positions already retried once.
    ///   - stream: the ledger's record of the current song's stream, if one was seen.
    ///   - elapsedMs: how far the song had played.
    static func decide(error: String?, sincePlayMs: Int64, position: Int, queue: [Int64], retried: Set<Int>, stream: StreamRecord?, elapsedMs: Int64) -> StopVerdict {
        if error == nil, sincePlayMs < openingMs { return .wait }
        guard !queue.isEmpty else { return .idle }
        // A stopped player may report any position; the last one seen playing is the truth.
        let position = min(max(0, position), queue.count - 1)
        let songId = queue[position]
        guard error != nil || stream?.status == .aborted else { return .advance(from: position) }
        let why = error ?? stream?.reason ?? "stream aborted"
        if retried.contains(position) { return .skip(position: position, songId: songId, why: why) }
        return .retry(position: position, songId: songId, fromMs: max(0, elapsedMs), why: why)
    }
}
