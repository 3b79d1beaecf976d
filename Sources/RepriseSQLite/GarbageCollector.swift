import Foundation
import GRDB
import Logging
import RepriseCore
import RepriseStorage
import RepriseSync

/// One GC pass: deletes expired sessions in short batches, sparing young, leased and ruled ones.
///
/// Safe in several processes at once: every delete re-checks its conditions inside its own
/// transaction, so a session extended or leased meanwhile survives.
public struct GarbageCollector: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    let policy: SessionPolicy
    let settings: GCSettings
    let rules: any ExpiryRules
    let events: any EventSink
    let sessions: SessionStore?
    let tokens: StreamTokenStore?
    /// Holds taken in this process (streams, players), honoured like lease rows.
    let heldInMemory: ActiveLeases?
    let logger: Logger
    /// Sums of every pass this collector ran, for metrics.
    public let totals = GCTotals()
    /// One pass at a time in this process (the scheduler and `POST /api/v1/admin/gc` may overlap):
    /// a pass changes settings of the shared writer connection and puts them back.
    let gate = PassGate()

    public init(db: DatabasePool, clock: any WallClock, policy: SessionPolicy, settings: GCSettings, rules: any ExpiryRules = DefaultExpiryRules(), events: any EventSink = NoEvents(), sessions: SessionStore? = nil, tokens: StreamTokenStore? = nil, heldInMemory: ActiveLeases? = nil, logger: Logger = Logger(label: "reprise.gc")) {
        self.db = db
        self.clock = clock
        self.policy = policy
        self.settings = settings
        self.rules = rules
        self.events = events
        self.sessions = sessions
        self.tokens = tokens
        self.heldInMemory = heldInMemory
        self.logger = logger
    }

    /// The largest batch time-sizing grows to.
    static let maxBatch = 50_000

    private static let leased = "EXISTS (SELECT 1 FROM leases l WHERE l.session_id = s.id AND l.expires_at > :now)"

    /// Runs one pass and records it (dry runs report what would go and delete nothing).
    public func runOnce(dryRun: Bool = false) async throws -> GCRunStats {
        await gate.enter()
        defer { gate.leave() }
        try await sessions?.flushPending()
        let now = clock.nowMs()
        let started = DispatchTime.now().uptimeNanoseconds
        var stats = GCRunStats(startedAt: now, dryRun: dryRun)
        let args: StatementArguments = [
            "now": now,
            "expiry_cutoff": policy.collectableExpiryCutoff(now: now),
            "creation_cutoff": policy.collectableCreationCutoff(now: now),
        ]
        let checkpoints = dryRun ? nil : try await WALCheckpointer.start(db, logger: logger)
        do {
            try await collect(now: now, args: args, dryRun: dryRun, checkpoints: checkpoints, into: &stats)
        } catch {
            await checkpoints?.finish()
            throw error
        }
        await checkpoints?.finish()
        stats.tokensPurged = try await purgeTokens(now: now, dryRun: dryRun)
        stats.durationMs = Int64((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
        let record = stats
        try await db.write { db in
            try GCRunRecord.insert(db, record)
            try db.execute(sql: "DELETE FROM gc_runs WHERE id <= (SELECT max(id) - 1000 FROM gc_runs)")
        }
        totals.add(stats)
        logger.info("gc run", metadata: [
            "gc.examined": "\(stats.examined)", "gc.deleted": "\(stats.deleted)", "gc.spared_grace": "\(stats.sparedByGrace)",
            "gc.spared_lease": "\(stats.sparedByLease)", "gc.spared_rule": "\(stats.sparedByRule)",
            "gc.tokens_purged": "\(stats.tokensPurged)", "gc.duration_ms": "\(stats.durationMs)", "gc.dry_run": "\(dryRun)",
        ])
        return stats
    }

    /// Deletes what is collectable: by row-id ranges in SQL while no rule or hook needs to see
    /// the sessions, else session by session.
    private func collect(now: Int64, args: StatementArguments, dryRun: Bool, checkpoints: WALCheckpointer?, into stats: inout GCRunStats) async throws {
        var lastId: Int64 = 0
        if !dryRun {
            stats.method = "sweep"
            guard let next = try await sweep(now: now, args: args, checkpoints: checkpoints, into: &stats) else { return }
            // A plugin with `session_collect` or `on_session_collected` arrived mid-pass.
            lastId = next
        }
        stats.method = "rows"
        try await collectRows(now: now, args: args, after: lastId, dryRun: dryRun, checkpoints: checkpoints, into: &stats)
    }

    /// Whether the pass must read each session: a rule may spare it, or a hook wants to see it go.
    private var needsRows: Bool { rules.judgesExpired || events.observesCollections }

    /// Deletes collectable sessions range by range of row ids until the ranges pass the largest id
    /// (nil) or `needsRows` turns true (the last id swept), then reads the spared ones to say why.
    ///
    /// Row ids are uniform random 53-bit numbers (`SecretHash.rowId`), so a range's width stands for
    /// a number of rows: it starts at about `batch_size` rows per million sessions and is sized by
    /// time like the batches of `collectRows`. Each range holds sessions of every age, and the
    /// delete walks the table and its indexes in order, as one `DELETE` does.
    private func sweep(now: Int64, args: StatementArguments, checkpoints: WALCheckpointer?, into stats: inout GCRunStats) async throws -> Int64? {
        guard let maxId = try await db.read({ db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM sessions") }) else { return nil }
        var width = BatchSizer(start: Int64(max(1, settings.batchSize)) << 33, max: 1 << 53)
        var lastId: Int64 = 0
        var finished = false
        while !needsRows {
            let after = lastId
            let upper = after + min(width.size, maxId - after)
            let (deleted, timing) = try await db.writeWithoutTransaction { [heldInMemory] db in
                try BatchTiming.measure { try Self.deleteRange(db, after: after, upper: upper, args: args, held: heldInMemory) }
            }
            width.record(timing, into: &stats)
            await checkpoints?.step(force: width.shared) // on a shared core, small checkpoints: each holds it at a stretch
            try await width.yield(after: timing)
            // A cached session past the cutoff is gone, or spared and read again when next presented.
            sessions?.evict(idsIn: (after + 1)...upper, expiringBefore: policy.collectableExpiryCutoff(now: now))
            stats.deleted += deleted
            stats.examined += deleted
            lastId = upper
            if upper >= maxId {
                finished = true
                break
            }
        }
        // What is left past its expiry in the swept ranges was spared; the index on `expires_at`
        // finds those few without reading the rest again.
        let spared = try await db.read { [lastId] db in
            try Row.fetchAll(
                db,
                sql: "SELECT s.id, s.created_at, s.expires_at, \(Self.leased) FROM sessions s INDEXED BY sessions_expires WHERE s.expires_at < :expiry_cutoff AND s.id <= :upper",
                arguments: args + ["upper": lastId]
            ).map { r -> (Int64, SessionFacts) in (r[0], SessionFacts(createdAt: r[1], expiresAt: r[2], leased: r[3])) }
        }
        for (id, var facts) in spared {
            facts.leased = facts.leased || (heldInMemory?.contains(.session(id)) ?? false)
            stats.count(policy.decide(facts, now: now))
        }
        return finished ? nil : lastId
    }

    /// Deletes the collectable sessions with ids in `(after, upper]` in one transaction; returns how many.
    ///
    /// With foreign keys on, SQLite runs the `ON DELETE CASCADE` of `leases` as a subprogram for
    /// every deleted row, 40% of a plain `DELETE` of expired sessions. When no lease names a session
    /// (checked under the write lock) there is nothing to cascade, and the range is deleted with
    /// foreign keys off. `leases` is the only table that references `sessions`
    /// (`SessionSweepTests.onlyLeasesReferenceSessions` keeps it so).
    static func deleteRange(_ db: Database, after: Int64, upper: Int64, args: StatementArguments, held: ActiveLeases?) throws -> Int {
        let anyLease = "SELECT EXISTS (SELECT 1 FROM leases WHERE session_id IS NOT NULL)"
        // The pragma is a no-op inside a transaction: decide before, check again inside.
        var cascade = try Bool.fetchOne(db, sql: anyLease) ?? true
        while true {
            let keysOff = !cascade
            if keysOff { try db.execute(sql: "PRAGMA foreign_keys = OFF") }
            defer { if keysOff { try? db.execute(sql: "PRAGMA foreign_keys = ON") } }
            var deleted: Int?
            try db.inTransaction(.immediate) {
                // A lease written since the first look: start again with foreign keys on.
                if !cascade, try Bool.fetchOne(db, sql: anyLease) ?? true { return .rollback }
                // Holds taken until now win; so does an extension or lease written before this transaction.
                let heldIds = held?.sessionIds.filter { $0 > after && $0 <= upper } ?? []
                try db.execute(
                    sql: """
                        DELETE FROM sessions AS s
                        WHERE s.id > :after AND s.id <= :upper
                          AND s.expires_at < :expiry_cutoff AND s.created_at <= :creation_cutoff
                          \(cascade ? "AND NOT \(leased)" : "")
                          \(heldIds.isEmpty ? "" : "AND s.id NOT IN (\(heldIds.map(String.init).joined(separator: ",")))")
                        """,
                    arguments: args + ["after": after, "upper": upper])
                deleted = db.changesCount
                return .commit
            }
            if let deleted { return deleted }
            cascade = true
        }
    }

    /// Examines expired sessions page by page, each through the rules, and deletes the doomed.
    private func collectRows(now: Int64, args: StatementArguments, after start: Int64, dryRun: Bool, checkpoints: WALCheckpointer?, into stats: inout GCRunStats) async throws {
        // Time-sized batches: big ones write each index page once instead of many times.
        var sizer = BatchSizer(start: Int64(max(1, settings.batchSize)), max: Int64(Self.maxBatch))
        var lastId = start
        while true {
            let limit = Int(sizer.size)
            let pageArgs = args + ["after": lastId, "limit": limit]
            let rows = try await db.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT s.id, s.user_id, u.name, s.kind, s.client, s.agent, s.ip, s.created_at, s.last_seen_at, s.expires_at, \(Self.leased)
                        FROM sessions s JOIN users u ON u.id = s.user_id
                        WHERE s.expires_at < :expiry_cutoff AND s.id > :after
                        ORDER BY s.id LIMIT :limit
                        """,
                    arguments: pageArgs
                ).map { r -> (SessionInfo, Bool) in
                    // By position: name lookups were a tenth of a GC pass.
                    (SessionInfo(
                        id: r[0], userId: r[1], userName: r[2], kind: SessionKind(rawValue: r[3]) ?? .web, client: r[4], agent: r[5], ip: r[6],
                        createdAt: r[7], lastSeenAt: r[8], expiresAt: r[9]), r[10])
                }
            }
            if rows.isEmpty { break }
            lastId = rows.last!.0.id
            var doomed: [SessionInfo] = []
            for (info, leased) in rows {
                let held = heldInMemory?.contains(.session(info.id)) ?? false
                var facts = SessionFacts(createdAt: info.createdAt, expiresAt: info.expiresAt, leased: leased || held)
                // The rule is consulted only for sessions the core would collect.
                if policy.decide(facts, now: now) == .collect {
                    facts.ruleSpares = rules.spareExpired(info, now: now)
                }
                let decision = policy.decide(facts, now: now)
                if decision == .collect {
                    stats.examined += 1
                    doomed.append(info)
                } else {
                    stats.count(decision)
                }
            }
            // A hold taken since the page was read wins.
            doomed.removeAll { info in
                guard heldInMemory?.contains(.session(info.id)) == true else { return false }
                stats.sparedByLease += 1
                return true
            }
            if !doomed.isEmpty {
                if dryRun {
                    stats.deleted += doomed.count
                } else {
                    let ids = doomed.map(\.id)
                    let (deleted, timing) = try await db.writeWithoutTransaction { db in
                        try BatchTiming.measure {
                            var deleted: [Int64] = []
                            try db.inTransaction(.immediate) {
                                // Re-check everything inside the transaction: a concurrent extension or lease wins.
                                deleted = try Int64.fetchAll(
                                    db,
                                    sql: """
                                        DELETE FROM sessions AS s
                                        WHERE s.id IN (SELECT value FROM json_each('[' || :ids || ']'))
                                          AND s.expires_at < :expiry_cutoff AND s.created_at <= :creation_cutoff
                                          AND NOT \(Self.leased)
                                        RETURNING id
                                        """,
                                    arguments: args + ["ids": ids.map(String.init).joined(separator: ",")])
                                return .commit
                            }
                            return deleted
                        }
                    }
                    sizer.record(timing, into: &stats)
                    stats.deleted += deleted.count
                    await checkpoints?.step(force: sizer.shared)
                    try await sizer.yield(after: timing)
                    let gone = Set(deleted)
                    sessions?.evict(ids: gone)
                    for info in doomed where gone.contains(info.id) { events.sessionCollected(info) }
                }
            }
            if rows.count < limit { break }
        }
    }

    private func purgeTokens(now: Int64, dryRun: Bool) async throws -> Int {
        let cutoff = now - settings.tokenRetention
        let condition = """
            ((t.revoked_at IS NOT NULL AND t.revoked_at < :cutoff) OR (t.expires_at IS NOT NULL AND t.expires_at < :cutoff))
            AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.token_id = t.id AND l.expires_at > :now)
            """
        let args: StatementArguments = ["cutoff": cutoff, "now": now]
        if dryRun {
            return try await db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM stream_tokens t WHERE \(condition)", arguments: args) ?? 0 }
        }
        let ids = try await db.write { db in
            try db.execute(sql: "DELETE FROM leases WHERE expires_at <= ?", arguments: [now])
            return try Int64.fetchAll(db, sql: "DELETE FROM stream_tokens AS t WHERE \(condition) RETURNING id", arguments: args)
        }
        tokens?.evict(ids: Set(ids))
        return ids.count
    }

    /// The latest recorded runs, newest first.
    public static func recentRuns(db: DatabasePool, limit: Int = 20) async throws -> [GCRunStats] {
        try await db.read { db in
            try GCRunRecord.fetchAll(db, sql: "SELECT * FROM gc_runs ORDER BY id DESC LIMIT ?", arguments: [limit]).map(\.stats)
        }
    }
}

/// The size of the next GC batch (rows, or a width of row ids), from how long the last one held
/// the write lock: it doubles under 20 ms and halves over 50 ms (a doubled batch may take twice as long).
///
/// Once two batches in a row waited for a processor, the core is shared with a busy server for the
/// rest of the pass: batches aim at 1-2 ms and each is followed by a pause of twice its time. A
/// batch holds the core from the server's event loop at a stretch (the scheduler lets a thread
/// that slept run its whole slice), so long ones showed up whole in the server's p99.
struct BatchSizer {
    private(set) var size: Int64
    let max: Int64
    /// Whether the pass shares its core with a busy server.
    private(set) var shared = false
    private var contendedInARow = 0

    init(start: Int64, max: Int64) {
        size = Swift.min(start, max)
        self.max = max
    }

    /// Resizes after a batch timed `timing`, and keeps the longest hold of the write lock in `stats`.
    mutating func record(_ timing: BatchTiming, into stats: inout GCRunStats) {
        stats.longestBatchMs = Swift.max(stats.longestBatchMs, Int64(timing.wallNs / 1_000_000))
        contendedInARow = timing.contended ? contendedInARow + 1 : 0
        if contendedInARow >= 2 { shared = true }
        let (low, high): (UInt64, UInt64) = shared ? (1_000_000, 2_000_000) : (20_000_000, 50_000_000)
        if timing.wallNs < low { size = Swift.min(size * 2, max) } else if timing.wallNs > high { size = Swift.max(size / 2, 1) }
    }

    /// How long to wait after a batch timed `timing`: twice its time on a shared core (at most a
    /// second), else as long as it waited for a processor when that was over 2 ms.
    func pauseNs(after timing: BatchTiming) -> UInt64 {
        shared ? Swift.min(2 * timing.wallNs, 1_000_000_000) : timing.pauseNs
    }

    /// Waits `pauseNs(after:)`.
    func yield(after timing: BatchTiming) async throws {
        let ns = pauseNs(after: timing)
        if ns > 0 { try await Task.sleep(nanoseconds: ns) }
    }
}

/// How long a GC batch held the write lock, and how much of that it ran on a processor.
struct BatchTiming {
    var wallNs: UInt64
    var cpuNs: UInt64

    /// Runs `body` and times it, wall and this thread's CPU.
    static func measure<T>(_ body: () throws -> T) rethrows -> (T, BatchTiming) {
        let (wall0, cpu0) = (DispatchTime.now().uptimeNanoseconds, threadCPUNs())
        let value = try body()
        return (value, BatchTiming(wallNs: DispatchTime.now().uptimeNanoseconds - wall0, cpuNs: threadCPUNs() &- cpu0))
    }

    /// The time not spent on a processor, when over 2 ms, at most a second.
    var pauseNs: UInt64 {
        let waited = wallNs > cpuNs ? wallNs - cpuNs : 0
        return waited > 2_000_000 ? min(waited, 1_000_000_000) : 0
    }

    /// Whether the batch waited for a processor more than a millisecond and a quarter of its time.
    var contended: Bool {
        let waited = wallNs > cpuNs ? wallNs - cpuNs : 0
        return waited > 1_000_000 && waited > wallNs / 4
    }

    static func threadCPUNs() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

extension GCRunStats {
    /// Counts an examined session the pass keeps, by reason.
    mutating func count(_ decision: GCDecision) {
        switch decision {
        case .collect: return
        case .keep(.live): return
        case .keep(.grace): sparedByGrace += 1
        case .keep(.lease): sparedByLease += 1
        case .keep(.rule): sparedByRule += 1
        }
        examined += 1
    }
}

/// An async lock: `enter` waits until the pass before has called `leave`.
final class PassGate: Sendable {
    private let state = Locked<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func enter() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let free = state.withLock { s -> Bool in
                if !s.busy {
                    s.busy = true
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if free { c.resume() }
        }
    }

    func leave() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.waiters.isEmpty else {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// Running sums of GC passes.
public final class GCTotals: Sendable {
    private let sums = Locked(GCRunStats(startedAt: 0))
    private let runs = Locked(0)
    init() {}

    func add(_ s: GCRunStats) {
        guard !s.dryRun else { return }
        runs.withLock { $0 += 1 }
        sums.withLock { t in
            t.examined += s.examined
            t.deleted += s.deleted
            t.sparedByGrace += s.sparedByGrace
            t.sparedByLease += s.sparedByLease
            t.sparedByRule += s.sparedByRule
            t.tokensPurged += s.tokensPurged
        }
    }

    /// The number of passes and the sums of their counts.
    public var snapshot: (runs: Int, sums: GCRunStats) { (runs.withLock { $0 }, sums.withLock { $0 }) }
}

/// Copies the WAL into the database from a connection of its own, between a GC pass's batches.
///
/// SQLite's auto-checkpoint runs inside the commit that crosses 1,000 WAL pages, so now and then
/// one delete batch paid for copying everything before it (339 ms in a 1,000,000-row pass). During
/// a pass the writer's auto-checkpoint is off and the pass checkpoints between batches instead (at
/// most every 200 ms, since each checkpoint syncs the file; after every batch on a core shared with
/// a busy server, where a big copy held it from the server at a stretch), without the write lock. Between
/// batches nothing of the pass writes, so the checkpoint catches up and the next batch starts the
/// WAL over. A checkpoint running beside the batches never caught up: the WAL grew by every page
/// each batch rewrote, and the kernel zeroed each new block (WAL frames are 24 bytes longer than a
/// page), a fifth of a pass's time in `perf`.
final class WALCheckpointer: Sendable {
    private let pool: DatabasePool
    private let queue: DatabaseQueue
    private let previous: Int
    private let previousCache: Int
    private let logger: Logger
    /// When the last checkpoint ran (uptime ns).
    private let last: Locked<UInt64>
    /// Checkpoints at most this often: each one syncs the database file.
    static let intervalNs: UInt64 = 200_000_000
    /// The writer's page cache during a pass (KiB): batches revisit the random-order `hash` index.
    static let passCacheKiB = 32 * 1024

    private init(pool: DatabasePool, queue: DatabaseQueue, previous: Int, previousCache: Int, logger: Logger) {
        self.pool = pool
        self.queue = queue
        self.previous = previous
        self.previousCache = previousCache
        self.logger = logger
        last = Locked(DispatchTime.now().uptimeNanoseconds)
    }

    /// Turns the writer's auto-checkpoint off; the pass calls `step()` after each batch.
    static func start(_ pool: DatabasePool, logger: Logger) async throws -> WALCheckpointer {
        let queue = try DatabaseQueue(path: pool.path)
        let (previous, cache) = try await pool.writeWithoutTransaction { db in
            let value = try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? 1000
            let cache = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? -2000
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA cache_size = -\(passCacheKiB)")
            return (value, cache)
        }
        return WALCheckpointer(pool: pool, queue: queue, previous: previous, previousCache: cache, logger: logger)
    }

    /// Copies what the WAL holds into the database (passive: never waits for, nor blocks, anyone),
    /// unless the last copy was under `intervalNs` ago and `force` is false.
    func step(force: Bool = false) async {
        let now = DispatchTime.now().uptimeNanoseconds
        let due = last.withLock { last in
            guard force || now &- last >= Self.intervalNs else { return false }
            last = now
            return true
        }
        guard due else { return }
        do {
            _ = try await queue.writeWithoutTransaction { try $0.checkpoint(.passive) }
        } catch {
            logger.warning("gc checkpoint failed", metadata: ["error": "\(error)"])
        }
    }

    /// Checkpoints what is left and gives the writer its auto-checkpoint and page cache back.
    func finish() async {
        await step(force: true)
        let (previous, cache) = (self.previous, previousCache)
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(previous)")
                try db.execute(sql: "PRAGMA cache_size = \(cache)")
            }
        } catch {
            logger.error("could not restore the WAL auto-checkpoint", metadata: ["error": "\(error)"])
        }
    }
}
