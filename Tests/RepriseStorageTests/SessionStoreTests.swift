import RepriseCore
import RepriseStorage
import RepriseSync
import Testing

/// `SessionRows` in memory: the seam a second engine implements, with its writes counted.
final class MemorySessionRows: SessionRows {
    private let rows = Locked<[Int64: (SessionInfo, SecretHash)]>([:])
    private let writes = Locked(0)
    let user: User

    init(user: User) { self.user = user }

    var extendWrites: Int { writes.withLock { $0 } }

    func insert(_ info: SessionInfo, hash: SecretHash) async throws -> Bool {
        rows.withLock { r in
            guard r[hash.rowId] == nil else { return false }
            var row = info
            row.id = hash.rowId
            r[hash.rowId] = (row, hash)
            return true
        }
    }

    func fetch(id: Int64) async throws -> (SessionInfo, User, SecretHash)? {
        rows.withLock { $0[id] }.map { ($0.0, user, $0.1) }
    }

    func extend(_ sessions: [(id: Int64, expiresAt: Int64, lastSeenAt: Int64)]) async throws {
        writes.withLock { $0 += 1 }
        rows.withLock { r in
            for s in sessions {
                guard var row = r[s.id] else { continue }
                row.0.expiresAt = max(row.0.expiresAt, s.expiresAt)
                row.0.lastSeenAt = max(row.0.lastSeenAt, s.lastSeenAt)
                r[s.id] = row
            }
        }
    }

    func delete(id: Int64, hash: SecretHash?) async throws -> Bool {
        rows.withLock { r in
            guard let row = r[id], hash.map({ row.1.constantTimeEquals($0) }) ?? true else { return false }
            r[id] = nil
            return true
        }
    }

    func list(limit: Int) async throws -> [SessionInfo] { rows.withLock { Array($0.values.map(\.0).prefix(limit)) } }
    func list(userId: Int64) async throws -> [SessionInfo] { rows.withLock { $0.values.map(\.0).filter { $0.userId == userId } } }
    func delete(userId: Int64, except: Int64?) async throws -> Int {
        rows.withLock { r in
            let gone = r.values.filter { $0.0.userId == userId && $0.0.id != except }.map(\.0.id)
            for id in gone { r[id] = nil }
            return gone.count
        }
    }

    func countByKind() async throws -> [SessionKind: Int] {
        rows.withLock { Dictionary(grouping: $0.values.map(\.0.kind), by: { $0 }).mapValues(\.count) }
    }
}

/// The session store's caching and coalescing, on no engine at all.
@Suite struct SessionStoreTests {
    let ann = User(id: 1, name: "ann", role: .user, disabled: false, createdAt: 0)
    let policy = SessionPolicy(webTTL: 60_000, apiTTL: 600_000, minAge: 10_000, extendInterval: 5_000)

    @Test func extensionsAreCoalescedAndLogoutIsImmediate() async throws {
        let clock = ManualWallClock()
        let rows = MemorySessionRows(user: ann)
        let store = SessionStore(rows: rows, clock: clock, policy: policy)
        let (secret, info) = try await store.create(user: ann, kind: .web)
        #expect(info.expiresAt == clock.nowMs() + 60_000)
        for _ in 0..<10 {
            clock.advance(ms: 1_000)
            #expect(try await store.authenticate(secret) != nil)
        }
        // Ten seconds of requests: the expiry slid every time, the row was written twice (every 5 s).
        #expect(rows.extendWrites == 2)
        #expect(try await store.authenticate(secret)?.expiresAt == clock.nowMs() + 60_000)
        #expect(try await store.logout(secret))
        #expect(try await store.authenticate(secret) == nil)
    }

    @Test func anotherProcesssDeleteIsSeenAfterRevalidation() async throws {
        let clock = ManualWallClock()
        let rows = MemorySessionRows(user: ann)
        let store = SessionStore(rows: rows, clock: clock, policy: policy, revalidateMs: 1_000)
        let (secret, info) = try await store.create(user: ann, kind: .api)
        #expect(try await rows.delete(id: info.id, hash: nil))
        #expect(try await store.authenticate(secret) != nil)  // memory trusted for up to a second
        clock.advance(ms: 1_000)
        #expect(try await store.authenticate(secret) == nil)
    }
}
