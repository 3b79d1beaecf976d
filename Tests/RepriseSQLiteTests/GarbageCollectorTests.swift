import RepriseSync
import Foundation
import GRDB
import RepriseCore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing
@testable import RepriseSQLite
@testable import RepriseStorage

/// Records collected sessions with the time they went.
final class CollectedLog: EventSink {
    let clock: any WallClock
    let entries = Locked<[(SessionInfo, Int64)]>([])
    init(clock: any WallClock) { self.clock = clock }
    func sessionCreated(_ session: SessionInfo) {}
    func sessionCollected(_ session: SessionInfo) { entries.withLock { $0.append((session, clock.nowMs())) } }
}

@Suite struct GarbageCollectorTests {
    // policy: web TTL 60 s, min age 10 s, extend interval (GC slack) 5 s.

    @Test func seedRaceCannotHappen() async throws {
        // A session whose TTL is shorter than GC's period is still spared while it is young.
        let f = try Fixture(rules: FixedRules(ttl: 1, extendTo: nil, spare: false))
        let u = try await f.users.add(name: "mpd", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 6_000)
        let first = try await f.gc().runOnce()
        #expect(first.deleted == 0)
        #expect(first.sparedByGrace == 1)
        #expect(try f.sessionRow(info.id) != nil)
        f.clock.advance(ms: 4_000)
        let second = try await f.gc().runOnce()
        #expect(second.deleted == 1)
        #expect(try await f.sessions.authenticate(secret) == nil)
    }

    /// Rows in the main database file alone, without its WAL.
    static func rowsInMainFile(_ path: String) throws -> Int {
        let copy = path + "-main-only.sqlite"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        return try DatabaseQueue(path: copy).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sessions") ?? -1 }
    }

    @Test func checkpointsBetweenBatchesAndRestoresTheWriter() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let now = f.clock.nowMs(), day: Int64 = 86_400_000
        try await f.db.write { db in
            try db.execute(sql: """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
                INSERT INTO sessions (hash, user_id, kind, created_at, last_seen_at, expires_at)
                SELECT randomblob(32), ?, 'web', ?, ?, ? FROM n
                """, arguments: [u.id, now - 2 * day, now - 2 * day, now - day])
        }
        _ = try await f.db.writeWithoutTransaction { db in
            try db.checkpoint(.truncate)
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 777")
            try db.execute(sql: "PRAGMA cache_size = -1234")
        }
        #expect(try Self.rowsInMainFile(f.path) == 3000)
        let stats = try await f.gc(batchSize: 100).runOnce()
        #expect(stats.deleted == 3000)
        // SQLite's auto-checkpoint (777 pages) would not have copied these deletions yet; the GC's did.
        #expect(try Self.rowsInMainFile(f.path) == 0)
        let restored = try await f.db.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") }
        #expect(restored == 777)
        // The pass's larger page cache is given back too.
        let cache = try await f.db.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA cache_size") }
        #expect(cache == -1234)
        // Passes that overlap (the scheduler and the admin endpoint) take turns and leave both settings as they were.
        try await f.db.write { db in
            try db.execute(sql: """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                INSERT INTO sessions (hash, user_id, kind, created_at, last_seen_at, expires_at)
                SELECT randomblob(32), ?, 'web', ?, ?, ? FROM n
                """, arguments: [u.id, now - 2 * day, now - 2 * day, now - day])
        }
        let gc = f.gc(batchSize: 10)
        async let first = gc.runOnce()
        async let second = gc.runOnce()
        _ = try await (first, second)
        let after = try await f.db.writeWithoutTransaction { db in
            (try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint"), try Int.fetchOne(db, sql: "PRAGMA cache_size"))
        }
        #expect(after.0 == 777 && after.1 == -1234)
    }

    @Test func liveSessionsSurviveAndIdleOnesGo() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (live, liveInfo) = try await f.sessions.create(user: u, kind: .web)
        let (_, idleInfo) = try await f.sessions.create(user: u, kind: .web)
        for _ in 0..<30 {
            f.clock.advance(ms: 4_000)
            #expect(try await f.sessions.authenticate(live) != nil)
            _ = try await f.gc().runOnce()
        }
        #expect(try f.sessionRow(liveInfo.id) != nil)
        #expect(try f.sessionRow(idleInfo.id) == nil)
    }

    @Test func unwrittenExtensionIsFlushedBeforeGCDecides() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 59_000)
        _ = try await f.sessions.authenticate(secret)  // written (interval passed)
        f.clock.advance(ms: 4_000)
        _ = try await f.sessions.authenticate(secret)  // memory only
        f.clock.advance(ms: 59_000 + 5_500)  // past the row's expiry plus the slack, not past memory's
        let stats = try await f.gc().runOnce()
        #expect(stats.deleted == 0)
        #expect(try f.sessionRow(info.id) != nil)
    }

    @Test func anotherProcessNeverCollectsWhatThisOneConsidersLive() async throws {
        let f = try Fixture()
        let other = try Fixture(path: f.path)  // a second process on the same file, e.g. `reprise gc run`
        other.clock.set(ms: f.clock.nowMs())
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 59_000)
        #expect(try await f.sessions.authenticate(secret) != nil)  // written: row expires at 119 s
        f.clock.advance(ms: 4_000)
        #expect(try await f.sessions.authenticate(secret) != nil)  // coalesced: memory says 123 s, row 119 s
        f.clock.advance(ms: 58_500)  // 121.5 s: the row is past expiry, memory is not
        other.clock.set(ms: f.clock.nowMs())
        let stats = try await other.gc().runOnce()
        #expect(stats.deleted == 0)
        #expect(try await f.sessions.authenticate(secret) != nil)
        #expect(try f.sessionRow(info.id) != nil)
    }

    @Test func leaseProtectsUntilReleasedOrLapsed() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (_, a) = try await f.sessions.create(user: u, kind: .web)
        let (_, b) = try await f.sessions.create(user: u, kind: .web)
        let leaseA = try await f.leases.acquire(.session(a.id), holder: "stream:1")
        _ = try await f.leases.acquire(.session(b.id), holder: "stream:2")
        f.clock.advance(ms: 50_000)
        try await f.leases.renew(leaseA)
        f.clock.advance(ms: 20_000)  // b's lease lapsed (60 s without renewal), a's is live
        let stats = try await f.gc().runOnce()
        #expect(stats.sparedByLease == 1)
        #expect(stats.deleted == 1)
        #expect(try f.sessionRow(a.id) != nil)
        #expect(try f.sessionRow(b.id) == nil)
        try await f.leases.release(leaseA)
        #expect(try await f.gc().runOnce().deleted == 1)
    }

    @Test func ruleMaySpareAndFailingRuleKeeps() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (_, info) = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 70_000)
        let spared = try await f.gc(rules: FixedRules(ttl: nil, extendTo: nil, spare: true)).runOnce()
        #expect(spared.sparedByRule == 1)
        #expect(try f.sessionRow(info.id) != nil)
        #expect(try await f.gc().runOnce().deleted == 1)
    }

    @Test func deletesInBatches() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        try await f.db.write { db in
            for i in 0..<1_250 {
                var hash = [UInt8](repeating: 0, count: 32)
                hash[0] = UInt8(i & 0xff); hash[1] = UInt8(i >> 8)
                try db.execute(sql: "INSERT INTO sessions (hash, user_id, kind, created_at, last_seen_at, expires_at) VALUES (?, ?, 'web', 0, 0, 1)", arguments: [Data(hash), u.id])
            }
        }
        let stats = try await f.gc(batchSize: 100).runOnce()
        #expect(stats.examined == 1_250)
        #expect(stats.deleted == 1_250)
        #expect(try f.sessionCount() == 0)
    }

    @Test func dryRunDeletesNothing() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        _ = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 70_000)
        let stats = try await f.gc().runOnce(dryRun: true)
        #expect(stats.deleted == 1)
        #expect(stats.dryRun)
        #expect(try f.sessionCount() == 1)
        let runs = try await GarbageCollector.recentRuns(db: f.db)
        #expect(runs.first?.dryRun == true)
    }

    @Test func purgesOldRevokedAndExpiredTokensOnly() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (_, revoked) = try await f.tokens.issue(user: u, label: "old", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        let (_, expiring) = try await f.tokens.issue(user: u, label: "short", requestedTTLSeconds: 10, policy: DefaultTokenPolicy())
        let (keep, _) = try await f.tokens.issue(user: u, label: "forever", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        try await f.tokens.revoke(id: revoked.id)
        f.clock.advance(ms: 86_400_000 + 20_000)
        let stats = try await f.gc().runOnce()
        #expect(stats.tokensPurged == 2)
        #expect(try await f.tokens.find(id: expiring.id) == nil)
        #expect(try await f.tokens.authenticate(keep) != nil)
    }

    @Test func concurrentCreationExtensionAndGCNeverLoseALiveOrYoungSession() async throws {
        let policy = SessionPolicy(webTTL: 200, apiTTL: 200, minAge: 100, extendInterval: 50)
        let f = try Fixture(policy: policy)
        let log = CollectedLog(clock: f.clock)
        let gc = GarbageCollector(db: f.db, clock: f.clock, policy: policy, settings: GCSettings(interval: 100, jitter: 0, batchSize: 7), events: log, sessions: f.sessions, tokens: f.tokens)
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let stop = Atomic<Bool>(false)
        let gcLoop = Task {
            var passes = 0
            while !stop.load(ordering: .relaxed) {
                _ = try await gc.runOnce()
                passes += 1
            }
            return passes
        }
        var live: [(Secret, SessionInfo)] = []
        var idle: [SessionInfo] = []
        var failures = 0
        for round in 0..<200 {
            f.clock.advance(ms: 10)
            let (s, i) = try await f.sessions.create(user: u, kind: .web)
            if round % 3 == 0 { live.append((s, i)) } else { idle.append(i) }
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for (secret, _) in live { group.addTask { try await f.sessions.authenticate(secret) != nil } }
                for try await ok in group where !ok { failures += 1 }
            }
        }
        stop.store(true, ordering: .relaxed)
        let passes = try await gcLoop.value
        #expect(passes > 0)
        #expect(failures == 0, "a live session was refused")
        for (_, info) in live { #expect(try f.sessionRow(info.id) != nil, "live session \(info.id) was deleted") }
        for (session, at) in log.entries.withLock({ $0 }) {
            #expect(at - session.createdAt >= policy.minAge, "session \(session.id) was collected while young")
        }
        // One more pass at the end collects every idle session that is old and past expiry.
        let final = try await gc.runOnce()
        let now = f.clock.nowMs()
        for info in idle where info.expiresAt < now - policy.extendInterval && info.createdAt <= now - policy.minAge {
            #expect(try f.sessionRow(info.id) == nil, "expired session \(info.id) survived a pass")
        }
        #expect(final.examined >= 0)
    }
}

@Suite struct PassGateTests {
    /// A pass that arrives while another runs enters only after it leaves.
    @Test func passesTakeTurns() async throws {
        let gate = PassGate()
        await gate.enter()
        final class Flag: Sendable { let set = Locked(false) }
        let entered = Flag()
        let second = Task {
            await gate.enter()
            entered.set.withLock { $0 = true }
            gate.leave()
        }
        for _ in 0..<100 { await Task.yield() }  // lets the second pass run up to the gate
        #expect(entered.set.withLock { !$0 })
        gate.leave()
        await second.value
        #expect(entered.set.withLock { $0 })
        await gate.enter()  // free again
        gate.leave()
    }
}

@Suite struct GCServiceTests {
    @Test func runsOnEachTickAndStopsOnGracefulShutdown() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        _ = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 70_000)
        let clock = ManualClock()
        let service = GCService(collector: f.gc(), settings: GCSettings(interval: 1_000, jitter: 0), clock: clock, jitter: { _ in 0 })
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                await clock.waitForSleepers(1)
                #expect(try await GarbageCollector.recentRuns(db: f.db).isEmpty)
                clock.advance(by: .milliseconds(999))
                await clock.waitForSleepers(1)
                #expect(try await GarbageCollector.recentRuns(db: f.db).isEmpty)
                clock.advance(by: .milliseconds(1))
                await clock.waitForSleepers(1)
                let runs = try await GarbageCollector.recentRuns(db: f.db)
                #expect(runs.count == 1)
                #expect(runs.first?.deleted == 1)
                trigger.triggerGracefulShutdown()
                try await group.next()
            }
        }
    }

    @Test func jitterStaysWithinBounds() throws {
        let f = try Fixture()
        let service = GCService(collector: f.gc(), settings: GCSettings(interval: 1_000, jitter: 200), clock: ManualClock())
        for _ in 0..<200 {
            let d = service.nextDelayMs()
            #expect(d >= 800 && d <= 1_200)
        }
    }
}
