import RepriseCore
import RepriseStorage
import RepriseSync
import Testing

/// `StreamTokenRows` in memory, counting reads.
final class MemoryTokenRows: StreamTokenRows {
    private let rows = Locked<[Int64: (StreamTokenInfo, SecretHash)]>([:])
    private let reads = Locked(0)
    let user: User

    init(user: User) { self.user = user }

    var fetches: Int { reads.withLock { $0 } }

    func insert(hash: SecretHash, userId: Int64, label: String, createdAt: Int64, expiresAt: Int64?, replacing: Bool) async throws -> (id: Int64, revoked: [Int64]) {
        rows.withLock { r in
            var revoked: [Int64] = []
            if replacing {
                for (id, row) in r where row.0.userId == userId && row.0.label == label && row.0.revokedAt == nil {
                    r[id]!.0.revokedAt = createdAt
                    revoked.append(id)
                }
            }
            let id = Int64(r.count + 1)
            r[id] = (StreamTokenInfo(id: id, userId: userId, userName: user.name, label: label, createdAt: createdAt, expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil), hash)
            return (id, revoked)
        }
    }

    func fetch(hash: SecretHash) async throws -> (StreamTokenInfo, User, SecretHash)? {
        reads.withLock { $0 += 1 }
        return rows.withLock { r in r.values.first { $0.1.constantTimeEquals(hash) } }.map { ($0.0, user, $0.1) }
    }

    func touch(id: Int64, at: Int64) async throws { rows.withLock { $0[id]?.0.lastUsedAt = at } }

    func revoke(id: Int64, userId: Int64?, at: Int64) async throws -> Bool {
        rows.withLock { r in
            guard let row = r[id], row.0.revokedAt == nil, userId.map({ $0 == row.0.userId }) ?? true else { return false }
            r[id]!.0.revokedAt = at
            return true
        }
    }

    func list(userId: Int64?) async throws -> [StreamTokenInfo] { rows.withLock { $0.values.map(\.0).sorted { $0.id < $1.id } } }
    func find(id: Int64) async throws -> StreamTokenInfo? { rows.withLock { $0[id]?.0 } }
}

/// The token store's memory (answers without reads, revocation at once, rotation), on no engine.
@Suite struct StreamTokenStoreTests {
    let ann = User(id: 1, name: "ann", role: .user, disabled: false, createdAt: 0)

    @Test func cachedAnswersRevocationAndRotation() async throws {
        let clock = ManualWallClock()
        let rows = MemoryTokenRows(user: ann)
        let store = StreamTokenStore(rows: rows, clock: clock)
        let (secret, info) = try await store.issue(user: ann, label: "phone", requestedTTLSeconds: 60, policy: DefaultTokenPolicy())
        #expect(info.expiresAt == clock.nowMs() + 60_000)
        #expect(try await store.authenticate(secret)?.token.id == info.id)
        let reads = rows.fetches
        for _ in 0..<100 {
            guard case .valid = store.authenticateCached(secret) else { Issue.record("not answered from memory"); return }
        }
        #expect(rows.fetches == reads)
        #expect(try await store.revoke(id: info.id))
        guard case .unknown = store.authenticateCached(secret) else { Issue.record("a revoked token stayed in memory"); return }
        #expect(try await store.authenticate(secret) == nil)
        let (fresh, rotated, revoked) = try await store.rotate(user: ann, label: "phone", policy: DefaultTokenPolicy())
        #expect(revoked == 0 && rotated.label == "phone")
        #expect(try await store.authenticate(fresh)?.token.id == rotated.id)
        clock.advance(ms: 61_000)
        #expect(try await store.authenticate(secret) == nil)
    }
}
