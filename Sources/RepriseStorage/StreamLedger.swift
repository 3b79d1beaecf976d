import Logging
import RepriseCore
import ServiceLifecycle
import Synchronization
import RepriseSync

/// Persists finished streams; rows written again are updated.
public protocol StreamRecordWriter: Sendable {
    /// Writes `batch`; with `trim`, bounds the stored rows (30 days, at most `maxRows`).
    func write(_ batch: ArraySlice<StreamRecord>, trim: Bool, maxRows: Int) async throws
}

/// Accounts every stream in memory and persists finished ones in batches.
///
/// The playback supervisor reads it to tell an aborted track from a finished one; the hot
/// path costs no SQL.
public final class StreamLedger: Sendable {
    struct State {
        var active: [Int64: StreamRecord] = [:]
        var recent: [StreamRecord] = []
        /// Playback rows to write, by row id; a row written again is updated.
        var pending: [Int64: StreamRecord] = [:]
        /// The open playback of each song, credential and player: the row its next request merges into.
        var playbacks: [PlaybackKey: StreamRecord] = [:]
        var counter: Int64 = 0
        var totals = Totals()
    }

    /// What makes requests one playback: the same song, credential and player.
    struct PlaybackKey: Hashable {
        var songId: Int64
        var userId: Int64?
        var sessionId: Int64?
        var tokenId: Int64?
        var player: String?
    }

    /// Requests for one playback this close together (ms, end to start) share a row.
    static let playbackGapMs: Int64 = 60_000
    /// Open playbacks remembered at most; the oldest are closed first.
    static let maxOpenPlaybacks = 10_000

    /// Running totals for metrics.
    public struct Totals: Sendable, Equatable {
        public var bytes: Int64 = 0
        public var completed = 0
        public var aborted = 0
        /// Stream requests refused with 401 or 403.
        public var refused = 0
    }

    let writer: any StreamRecordWriter
    let clock: any WallClock
    let keepRecent: Int
    private let state = Locked(State())
    /// Boxed: a bare closure behind a lock is reabstracted (wrapped in two thunks) on every access.
    private let observer = Locked<Observer?>(nil)
    /// Per active stream: how to end it at once (close its connection), and why it was cut, once it was.
    private let cutters = Locked<[Int64: (action: @Sendable () -> Void, reason: String?)]>([:])
    struct Observer: Sendable { let call: @Sendable (StreamRecord) -> Void }
    /// Credentials held by streams in progress; GC consults it.
    public let leases = ActiveLeases()

    /// Rows `streams` keeps at most, whatever their age (30 days is the other bound).
    let maxRows: Int

    public init(writer: any StreamRecordWriter, clock: any WallClock, keepRecent: Int = 500, maxRows: Int = 100_000) {
        self.writer = writer
        self.clock = clock
        self.keepRecent = keepRecent
        self.maxRows = max(1, maxRows)
    }

    /// Records a stream's start and takes an in-memory lease on its credential.
    public func start(songId: Int64, userId: Int64?, sessionId: Int64?, tokenId: Int64?, player: String?, range: ClosedRange<Int64>, bytesExpected: Int64) -> Int64 {
        let now = clock.nowMs()
        let record: StreamRecord = state.withLock { s in
            s.counter += 1
            let id = now * 1000 + s.counter % 1000
            let r = StreamRecord(id: id, songId: songId, userId: userId, sessionId: sessionId, tokenId: tokenId, player: player, rangeStart: range.lowerBound, rangeEnd: range.upperBound, bytesExpected: bytesExpected, bytesSent: 0, startedAt: now, finishedAt: nil, status: .active, reason: nil)
            s.active[id] = r
            return r
        }
        leases.take(record.target)
        observer.withLock { $0 }?.call(record)
        return record.id
    }

    /// Sets the callback that sees each stream when it starts (status active) and when it ends.
    public func observe(_ callback: @escaping @Sendable (StreamRecord) -> Void) {
        observer.withLock { $0 = Observer(call: callback) }
    }

    /// Adds bytes sent to an active stream.
    public func progress(_ id: Int64, bytes: Int64) {
        state.withLock { s in
            s.active[id]?.bytesSent += bytes
            s.totals.bytes += bytes
        }
    }

    /// Sets how active stream `id` is ended at once (its connection closed) when its credential is revoked.
    public func onCut(_ id: Int64, _ action: @escaping @Sendable () -> Void) {
        cutters.withLock { $0[id] = (action, nil) }
    }

    /// Ends active stream `id` now, recording `reason` (a revoked token, a disabled user); false if it is not active.
    @discardableResult
    public func cut(_ id: Int64, reason: String) -> Bool {
        let action: (@Sendable () -> Void)? = cutters.withLock { c in
            guard let entry = c[id], entry.reason == nil else { return nil }
            c[id] = (entry.action, reason)
            return entry.action
        }
        action?()
        return action != nil
    }

    /// Why stream `id` was cut, if it was.
    public func cutReason(_ id: Int64) -> String? { cutters.withLock { $0[id]?.reason } }

    /// Ends a stream: completed when every expected byte went out, aborted otherwise (with the cut's reason, if cut).
    public func finish(_ id: Int64, reason: String? = nil) {
        let reason = cutters.withLock { $0.removeValue(forKey: id)?.reason } ?? reason
        let now = clock.nowMs()
        let finished: StreamRecord? = state.withLock { s in
            guard var r = s.active.removeValue(forKey: id) else { return nil }
            r.finishedAt = now
            r.status = r.bytesSent >= r.bytesExpected && reason == nil ? .completed : .aborted
            r.reason = r.status == .aborted ? (reason ?? "\(StreamRecord.clientLeft) after \(r.bytesSent) of \(r.bytesExpected) bytes") : nil
            if r.status == .completed { s.totals.completed += 1 } else { s.totals.aborted += 1 }
            s.recent.append(r)
            // Trimmed once it holds twice as many: dropping one from the front per stream moved the
            // whole array each time (5% of a short stream request in `perf`).
            if s.recent.count >= 2 * max(1, keepRecent) { s.recent.removeFirst(s.recent.count - keepRecent) }
            Self.account(r, now: now, into: &s)
            return r
        }
        if let finished {
            if let target = finished.target { leases.give(target) }
            observer.withLock { $0 }?.call(finished)
        }
    }

    /// Merges a finished request into its playback's row: one row per song, credential and player
    /// while requests keep coming, its ranges joined and its bytes summed.
    ///
    /// A client asking for many small ranges (or many clients of one token) then grows the table by
    /// the number of songs played, not by the request rate.
    static func account(_ r: StreamRecord, now: Int64, into s: inout State) {
        let key = PlaybackKey(songId: r.songId, userId: r.userId, sessionId: r.sessionId, tokenId: r.tokenId, player: r.player)
        if var p = s.playbacks[key], let end = p.finishedAt, r.startedAt - end <= playbackGapMs {
            p.rangeStart = min(p.rangeStart, r.rangeStart)
            p.rangeEnd = max(p.rangeEnd, r.rangeEnd)
            p.bytesExpected += r.bytesExpected
            p.bytesSent += r.bytesSent
            p.finishedAt = r.finishedAt
            // A playback completed once stays completed; its last failure is kept otherwise.
            if p.status != .completed { (p.status, p.reason) = (r.status, r.reason) }
            s.playbacks[key] = p
            s.pending[p.id] = p
            return
        }
        if s.playbacks.count >= maxOpenPlaybacks {
            s.playbacks = s.playbacks.filter { now - ($0.value.finishedAt ?? now) <= playbackGapMs }
            if s.playbacks.count >= maxOpenPlaybacks { s.playbacks.removeAll(keepingCapacity: true) }
        }
        s.playbacks[key] = r
        s.pending[r.id] = r
    }

    /// Counts a stream request refused for its credentials or by policy.
    public func refused() { state.withLock { $0.totals.refused += 1 } }

    /// Streams in progress.
    public func active() -> [StreamRecord] { state.withLock { Array($0.active.values).sorted { $0.id < $1.id } } }

    /// Finished streams, newest last.
    public func recent() -> [StreamRecord] { state.withLock { Array($0.recent.suffix(keepRecent)) } }

    /// Totals since start.
    public func totals() -> Totals { state.withLock { $0.totals } }

    /// Rows per transaction of a flush.
    static let flushChunk = 256
    /// The pause between a flush's transactions.
    static let flushPause = Duration.milliseconds(2)
    /// A backlog this long is written without pauses, so the ledger keeps up at any rate.
    static let flushPausesBelow = 100_000

    /// Persists finished streams, `flushChunk` rows per transaction with `flushPause` between them.
    ///
    /// A busy server records tens of thousands of streams a second; written in one go they held the
    /// CPU from the event loop for tens of milliseconds each second (B2's p99 in docs/performance.md).
    public func flush() async throws {
        let batch = state.withLock { s -> [StreamRecord] in
            defer { s.pending.removeAll(keepingCapacity: true) }
            return s.pending.values.sorted { $0.id < $1.id }
        }
        guard !batch.isEmpty else { return }
        var start = 0
        while start < batch.count {
            if start > 0, batch.count < Self.flushPausesBelow {
                try? await Task.sleep(for: Self.flushPause) // returns at once when cancelled
            }
            let end = min(start + Self.flushChunk, batch.count)
            try await writer.write(batch[start..<end], trim: end == batch.count, maxRows: maxRows)
            start = end
        }
    }

}

extension StreamRecord {
    var target: LeaseTarget? {
        if let tokenId { return .token(tokenId) }
        if let sessionId { return .session(sessionId) }
        return nil
    }
}

/// Credentials held in this process (by streams and players); a counted set.
public final class ActiveLeases: Sendable {
    private let held = Locked<[LeaseTarget: Int]>([:])
    public init() {}

    /// Takes one hold on `target`.
    public func take(_ target: LeaseTarget?) {
        guard let target else { return }
        held.withLock { $0[target, default: 0] += 1 }
    }

    /// Gives one hold back.
    public func give(_ target: LeaseTarget) {
        held.withLock { h in
            let n = (h[target] ?? 0) - 1
            h[target] = n > 0 ? n : nil
        }
    }

    /// Whether anything holds `target`.
    public func contains(_ target: LeaseTarget) -> Bool { held.withLock { $0[target] != nil } }

    /// The ids of the sessions held now.
    public var sessionIds: [Int64] {
        held.withLock { h in h.keys.compactMap { if case .session(let id) = $0 { id } else { nil } } }
    }

    /// The number of distinct credentials held.
    public var count: Int { held.withLock { $0.count } }
}

/// Flushes the stream ledger every second, and once more at shutdown.
public struct StreamLedgerService: Service {
    let ledger: StreamLedger
    let logger: Logger
    public init(ledger: StreamLedger, logger: Logger) {
        self.ledger = ledger
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            do { try await ledger.flush() } catch { logger.error("stream ledger flush failed", metadata: ["error": "\(error)"]) }
        }
        try? await ledger.flush()
    }
}
