import RepriseSync
import Foundation
import TestSupport
import GRDB
import RepriseCore
import Synchronization
import Testing
@testable import RepriseSQLite
@testable import RepriseStorage

/// Rules without opinions that start wanting to see expired sessions after `sweeps` questions,
/// as when a plugin with `session_collect` is loaded in the middle of a pass.
final class LateRules: ExpiryRules {
    let sweeps: Int
    let asked = Locked(0)
    init(sweeps: Int) { self.sweeps = sweeps }
    func ttl(for session: SessionInfo) -> Int64? { nil }
    func extend(_ session: SessionInfo, now: Int64) -> Int64? { nil }
    func spareExpired(_ session: SessionInfo, now: Int64) -> Bool { false }
    var judgesExpired: Bool { asked.withLock { $0 += 1; return $0 > sweeps } }
}

@Suite struct SessionSweepTests {
    // policy: web TTL 60 s, min age 10 s, extend interval (GC slack) 5 s.

    /// 300 expired sessions of which one is leased in the database and one held in memory, one
    /// expired session too young to collect, and one live session.
    static func mixed(_ f: Fixture) async throws -> (leased: Int64, held: Int64, young: Int64, live: Int64, all: Set<Int64>) {
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        var ids: [Int64] = []
        for _ in 0..<300 { ids.append(try await f.sessions.create(user: u, kind: .web).1.id) }
        f.clock.advance(ms: 66_000)
        _ = try await f.leases.acquire(.session(ids[0]), holder: "stream:1")
        let now = f.clock.nowMs()
        let young = Secret.generate(.session).hash
        try await f.db.write { db in
            try db.execute(
                sql: "INSERT INTO sessions (id, hash, user_id, kind, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, 'web', ?, ?, ?)",
                arguments: [young.rowId, Data(young.bytes), u.id, now - 8_000, now - 8_000, now - 8_000])
        }
        let live = try await f.sessions.create(user: u, kind: .web).1.id
        return (ids[0], ids[1], young.rowId, live, Set(ids + [young.rowId, live]))
    }

    func collector(_ f: Fixture, rules: any ExpiryRules, held: ActiveLeases, batchSize: Int = 16) -> GarbageCollector {
        GarbageCollector(
            db: f.db, clock: f.clock, policy: f.policy, settings: GCSettings(interval: 1000, jitter: 0, batchSize: batchSize),
            rules: rules, sessions: f.sessions, tokens: f.tokens, heldInMemory: held)
    }

    func remaining(_ f: Fixture) async throws -> Set<Int64> {
        Set(try await f.db.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM sessions") })
    }

    @Test func sweepAndRowPathAgree() async throws {
        let a = try Fixture()
        let s = try await Self.mixed(a)
        let b = try Fixture(path: a.path + "-copy.sqlite")
        try a.db.backup(to: b.db)
        b.clock.set(ms: a.clock.nowMs())
        let heldA = ActiveLeases(), heldB = ActiveLeases()
        heldA.take(.session(s.held))
        heldB.take(.session(s.held))

        let swept = try await collector(a, rules: DefaultExpiryRules(), held: heldA).runOnce()
        let read = try await collector(b, rules: FixedRules(ttl: nil, extendTo: nil, spare: false), held: heldB).runOnce()

        #expect(swept.method == "sweep")
        #expect(read.method == "rows")
        #expect(swept.deleted == 298)
        #expect(swept.sparedByLease == 2)
        #expect(swept.sparedByGrace == 1)
        #expect(swept.examined == 301)
        let counts = { (s: GCRunStats) -> [Int] in [s.examined, s.deleted, s.sparedByGrace, s.sparedByLease, s.sparedByRule] }
        #expect(counts(swept) == counts(read))
        let expected: Set<Int64> = [s.leased, s.held, s.young, s.live]
        #expect(try await remaining(a) == expected)
        #expect(try await remaining(b) == expected)
    }

    @Test func aRuleArrivingMidPassTakesOverFromTheSweep() async throws {
        let f = try Fixture()
        let s = try await Self.mixed(f)
        let rules = LateRules(sweeps: 3)
        let stats = try await collector(f, rules: rules, held: ActiveLeases()).runOnce()
        #expect(stats.method == "rows")
        #expect(stats.deleted == 299)
        #expect(stats.examined == 301)
        #expect(try await remaining(f) == [s.leased, s.young, s.live])
    }

    @Test func sweepPutsForeignKeysBackOn() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        _ = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 66_000)
        let stats = try await f.gc().runOnce()
        #expect(stats.method == "sweep" && stats.deleted == 1)
        #expect(try await f.db.write { db in try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") } == true)
        // And they work: a lease on a missing session is refused.
        await #expect(throws: (any Error).self) { try await f.leases.acquire(.session(12345), holder: "stream:1") }
    }

    @Test func sweepCascadesToLapsedLeases() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (_, info) = try await f.sessions.create(user: u, kind: .web)
        _ = try await f.leases.acquire(.session(info.id), holder: "stream:1")
        f.clock.advance(ms: 130_000)  // the lease lapsed long ago, the session expired
        let stats = try await f.gc().runOnce()
        #expect(stats.deleted == 1)
        #expect(try await f.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM leases") } == 0)
    }

    /// The sweep deletes with foreign keys off when no lease names a session: that is only safe
    /// while no other table references `sessions`.
    @Test func onlyLeasesReferenceSessions() async throws {
        let f = try Fixture()
        let referencing = try await f.db.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'").filter { table in
                try Row.fetchAll(db, sql: "SELECT * FROM pragma_foreign_key_list(?)", arguments: [table]).contains { $0["table"] == "sessions" }
            }
        }
        #expect(referencing == ["leases"])
    }

    @Test func batchesPauseForAsLongAsTheyWaitedForTheProcessor() {
        #expect(BatchTiming(wallNs: 30_000_000, cpuNs: 10_000_000).pauseNs == 20_000_000)
        #expect(BatchTiming(wallNs: 30_000_000, cpuNs: 29_000_000).pauseNs == 0)  // an idle core: no pause
        #expect(BatchTiming(wallNs: 9_000_000_000, cpuNs: 1_000_000).pauseNs == 1_000_000_000)
        #expect(BatchTiming(wallNs: 1_000_000, cpuNs: 2_000_000).pauseNs == 0)  // clocks of different grain
        let (value, timing) = BatchTiming.measure { (0..<200_000).reduce(0, &+) }
        #expect(value == 19_999_900_000)
        #expect(timing.cpuNs > 0 && timing.wallNs > 0)
    }

    /// Batches aim at 20-50 ms on an idle core; after two in a row waited for it, at 1-2 ms with
    /// pauses of twice their time.
    @Test func batchesStayShortOnACoreTheyShare() {
        var stats = GCRunStats(startedAt: 0)
        var sizer = BatchSizer(start: 100, max: 10_000)
        sizer.record(BatchTiming(wallNs: 10_000_000, cpuNs: 10_000_000), into: &stats)
        #expect(sizer.size == 200)
        sizer.record(BatchTiming(wallNs: 10_000_000, cpuNs: 5_000_000), into: &stats)  // waited, once
        #expect(sizer.size == 400 && !sizer.shared)
        #expect(sizer.pauseNs(after: BatchTiming(wallNs: 10_000_000, cpuNs: 5_000_000)) == 5_000_000)
        sizer.record(BatchTiming(wallNs: 60_000_000, cpuNs: 60_000_000), into: &stats)
        #expect(sizer.size == 200)
        sizer.record(BatchTiming(wallNs: 10_000_000, cpuNs: 5_000_000), into: &stats)
        #expect(sizer.size == 400)
        sizer.record(BatchTiming(wallNs: 8_000_000, cpuNs: 4_000_000), into: &stats)  // twice in a row: over 2 ms
        #expect(sizer.shared && sizer.size == 200)
        #expect(sizer.pauseNs(after: BatchTiming(wallNs: 1_500_000, cpuNs: 1_500_000)) == 3_000_000)
        sizer.record(BatchTiming(wallNs: 1_500_000, cpuNs: 1_500_000), into: &stats)  // no longer waits: still shared
        #expect(sizer.shared && sizer.size == 200)
        sizer.record(BatchTiming(wallNs: 600_000, cpuNs: 600_000), into: &stats)
        #expect(sizer.size == 400)
        #expect(stats.longestBatchMs == 60)
        #expect(!BatchTiming(wallNs: 30_000_000, cpuNs: 29_000_000).contended)  // waited a millisecond of 30
    }

    @Test func sessionsAreStoredUnderTheirHashRowId() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        #expect(info.id == secret.hash.rowId)
        let indexes = try await f.db.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' ORDER BY name")
        }
        #expect(indexes == ["sessions_expires", "sessions_user"])
    }

    @Test func rowIdTakesFiftyThreeBitsAndIsNeverZero() {
        #expect(SecretHash([UInt8](repeating: 0xff, count: 32)).rowId == (1 << 53) - 1)
        #expect(SecretHash([UInt8](repeating: 0, count: 32)).rowId == 1)
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[6] = 0x08  // bit 11 of the first 64: the lowest one kept
        #expect(SecretHash(bytes).rowId == 1)
        bytes[6] = 0x10
        #expect(SecretHash(bytes).rowId == 2)
    }

    @Test func migrationMovesSessionsAndTheirLeasesToHashRowIds() async throws {
        let dir = try TempDir("reprise")
        defer { dir.remove() }
        let path = dir.file("reprise.sqlite").path
        let (kept, leased) = (Secret.generate(.session), Secret.generate(.session))
        do {
            let old = try DatabaseQueue(path: path)
            try RepriseDatabase.migrator.migrate(old, upTo: "v3-api-keys")
            try await old.write { db in
                try db.execute(sql: "INSERT INTO users (id, name, password_hash, role, created_at) VALUES (1, 'ann', 'x', 'user', 0)")
                for (id, secret) in [(1, kept), (2, leased)] {
                    try db.execute(
                        sql: "INSERT INTO sessions (id, hash, user_id, kind, created_at, last_seen_at, expires_at) VALUES (?, ?, 1, 'web', 0, 0, ?)",
                        arguments: [id, Data(secret.hash.bytes), Int64.max / 2])
                }
                try db.execute(sql: "INSERT INTO leases (session_id, holder, acquired_at, expires_at) VALUES (2, 'stream:1', 0, ?)", arguments: [Int64.max / 2])
                try db.execute(sql: "INSERT INTO streams (id, song_id, session_id, range_start, range_end, bytes_expected, bytes_sent, started_at, status) VALUES (1, 1, 2, 0, 0, 1, 1, 0, 'completed')")
            }
        }
        let f = try Fixture(path: path)
        let authenticated = try await f.sessions.authenticate(kept)
        #expect(authenticated?.sessionId == kept.hash.rowId)
        #expect(authenticated?.user.name == "ann")
        let (lease, stream) = try await f.db.read { db in
            (try Int64.fetchOne(db, sql: "SELECT session_id FROM leases"), try Int64.fetchOne(db, sql: "SELECT session_id FROM streams"))
        }
        #expect(lease == leased.hash.rowId)
        #expect(stream == leased.hash.rowId)
        #expect(try await f.sessions.logout(leased))
        #expect(try await f.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM leases") } == 0)
    }
}
