import Foundation
import GRDB
import Logging
import RepriseCore
import RepriseStorage
import Synchronization
import RepriseSync

/// Stream tokens: issue under the token policy, validate from memory, revoke, purge.
public final class StreamTokenStore: Sendable {
    let db: DatabasePool
    let clock: any WallClock
    let logger: Logger
    let revalidateMs: Int64
    /// `last_used_at` is written at most once per this interval, ms.
    let touchIntervalMs: Int64
    /// From this age (ms) a cached answer also starts one reload in the background, so a token in
    /// steady use is never found stale: without it, every request arriving in the moment after
    /// the entry aged out took the slow path and read the row itself, once a second.
    let refreshAheadMs: Int64
    private let cache = Locked<[SecretHash: Entry]>([:])
    /// Bumped whenever entries are dropped (revoke, purge): a reload that began before does not store what it read.
    private let evictions = Atomic<UInt64>(0)
    /// Background reloads in flight, by token.
    private let refreshing = Locked<[SecretHash: Task<Void, Never>]>([:])
    /// Rows read so far (for tests: a refresh happens once, not once per request).
    let reloads = Atomic<Int>(0)
    /// Hashes recently looked up and not found, with when (ms): a client retrying a bad token costs no SQL.
    private let misses = Locked<[SecretHash: Int64]>([:])
    static let maxMisses = 10_000

    struct Entry: Sendable {
        var token: StreamTokenInfo
        var user: User
        var checkedAt: Int64
        var touchedAt: Int64
    }

    public init(db: DatabasePool, clock: any WallClock, logger: Logger = Logger(label: "reprise.tokens"), revalidateMs: Int64 = 1000, touchIntervalMs: Int64 = 60_000) {
        self.db = db
        self.clock = clock
        self.logger = logger
        self.revalidateMs = revalidateMs
        self.touchIntervalMs = touchIntervalMs
        refreshAheadMs = revalidateMs * 3 / 4
    }

    /// Issues a token for `user` under `policy`; the secret is returned once.
    public func issue(user: User, label: String, requestedTTLSeconds: Int64?, policy: any TokenPolicy) async throws -> (Secret, StreamTokenInfo) {
        let (secret, info, _) = try await issue(user: user, label: label, requestedTTLSeconds: requestedTTLSeconds, policy: policy, replacing: false)
        return (secret, info)
    }

    /// Issues a token; with `replacing`, the user's active tokens of that label are revoked in the same transaction.
    ///
    /// One transaction makes concurrent rotations of one label serial: the last one's token is the one left.
    func issue(user: User, label: String, requestedTTLSeconds: Int64?, policy: any TokenPolicy, replacing: Bool) async throws -> (Secret, StreamTokenInfo, Int) {
        let label = try StoredText.label(label)
        if let t = requestedTTLSeconds { _ = try Lifetime.checked(seconds: t, field: "ttl_seconds") }
        let ttl: Lifetime?
        switch policy.issue(TokenIssueContext(user: user, label: label, requestedTTLSeconds: requestedTTLSeconds)) {
        case .issue(let seconds):
            guard let seconds else { ttl = nil; break }
            // A policy's answer is outside input too: out of range, it fails closed.
            guard seconds > 0, let l = Lifetime(seconds: seconds) else {
                throw RepriseError(.forbidden, "token policy denied: its ttl_seconds \(seconds) is outside 1...\(Lifetime.maxSeconds)")
            }
            ttl = l
        case .deny(let reason): throw RepriseError(.forbidden, "token policy denied: \(StoredText.singleLine(reason))")
        }
        let secret = Secret.generate(.streamToken)
        let now = clock.nowMs()
        let expires = ttl.map { EpochMs.after(now, $0) }
        let key = Data(secret.hash.bytes)
        let (id, revoked) = try await db.write { db -> (Int64, [Int64]) in
            var revoked: [Int64] = []
            if replacing {
                revoked = try Int64.fetchAll(db, sql: "SELECT id FROM stream_tokens WHERE user_id = ? AND label = ? AND revoked_at IS NULL", arguments: [user.id, label])
                try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE user_id = ? AND label = ? AND revoked_at IS NULL", arguments: [now, user.id, label])
            }
            try db.execute(
                sql: "INSERT INTO stream_tokens (hash, user_id, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [key, user.id, label, now, expires])
            return (db.lastInsertedRowID, revoked)
        }
        evict(ids: Set(revoked))
        logger.info("stream token issued", metadata: ["token.id": "\(id)", "token.label": "\(label)", "user.name": "\(user.name)", "token.revoked": "\(revoked.count)"])
        return (secret, StreamTokenInfo(id: id, userId: user.id, userName: user.name, label: label, createdAt: now, expiresAt: expires, lastUsedAt: nil, revokedAt: nil), revoked.count)
    }

    /// Validates a presented token; nil when unknown, revoked, expired or the user is disabled.
    public func authenticate(_ secret: Secret) async throws -> AuthenticatedToken? {
        switch authenticateCached(secret) {
        case .valid(let token): return token
        case .invalid: return nil
        case .unknown: break
        }
        let hash = secret.hash
        let now = clock.nowMs()
        let generation = evictions.load(ordering: .acquiring)
        var entry = cache.withLock { $0[hash] }
        if entry == nil || now - entry!.checkedAt >= revalidateMs {
            entry = try await reload(hash: hash, cached: entry, now: now)
        }
        guard var e = entry, e.token.isUsable(now: now), !e.user.disabled else { return nil }
        if now - e.touchedAt >= touchIntervalMs {
            let id = e.token.id
            // Bookkeeping never blocks a stream: a full or busy disk leaves `last_used_at` behind.
            do {
                try await db.write { db in
                    try db.execute(sql: "UPDATE stream_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?", arguments: [now, id])
                }
            } catch {
                logger.warning("stream token use not recorded", metadata: ["token.id": "\(id)", "error": "\(error)"])
            }
            e.touchedAt = now
        }
        e.token.lastUsedAt = now
        store(e, hash: hash, ifUnchangedSince: generation)
        return AuthenticatedToken(token: e.token, user: e.user)
    }

    /// Caches `entry` unless entries were dropped since `generation` was read.
    private func store(_ entry: Entry, hash: SecretHash, ifUnchangedSince generation: UInt64) {
        cache.withLock { cache in
            if evictions.load(ordering: .acquiring) == generation { cache[hash] = entry }
        }
    }

    /// Reads the row again (and writes `last_used_at` when due) while the cached answer still holds.
    private func refresh(hash: SecretHash) async {
        defer { _ = refreshing.withLock { $0.removeValue(forKey: hash) } }
        let now = clock.nowMs()
        let generation = evictions.load(ordering: .acquiring)
        let cached = cache.withLock { $0[hash] }
        do {
            guard var e = try await reload(hash: hash, cached: cached, now: now) else { return }
            if now - e.touchedAt >= touchIntervalMs, e.token.isUsable(now: now) {
                let id = e.token.id
                try await db.write { db in
                    try db.execute(sql: "UPDATE stream_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?", arguments: [now, id])
                }
                e.touchedAt = now
            }
            e.token.lastUsedAt = max(e.token.lastUsedAt ?? 0, cached?.token.lastUsedAt ?? 0)
            store(e, hash: hash, ifUnchangedSince: generation)
        } catch {
            // The cached answer ages out as usual and the next request reads the row itself.
            logger.warning("stream token refresh failed", metadata: ["error": "\(error)"])
        }
    }

    /// Waits for the background reloads started so far.
    func refreshed() async {
        for task in refreshing.withLock({ Array($0.values) }) { await task.value }
    }

    public typealias CachedAnswer = CachedTokenAnswer

    /// Validates a token from memory only; `authenticate` asks it first and reads the row when it
    /// answers `.unknown`.
    public func authenticateCached(_ secret: Secret) -> CachedAnswer {
        authenticateCached(secret, hash: secret.hash)
    }

    /// `authenticateCached(_:)` with the secret's hash already computed (`hash` must be `secret.hash`).
    public func authenticateCached(_ secret: Secret, hash: SecretHash) -> CachedAnswer {
        guard secret.kind == .streamToken else { return .invalid }
        let now = clock.nowMs()
        var refreshDue = false
        let answer = cache.withLock { cache -> CachedAnswer in
            guard var e = cache[hash] else {
                if let missedAt = misses.withLock({ $0[hash] }), now - missedAt < revalidateMs { return .invalid }
                return .unknown
            }
            guard now - e.checkedAt < revalidateMs else { return .unknown }
            guard e.token.isUsable(now: now), !e.user.disabled else { return .invalid }
            refreshDue = now - e.checkedAt >= refreshAheadMs || now - e.touchedAt >= touchIntervalMs
            e.token.lastUsedAt = now
            cache[hash] = e
            return .valid(AuthenticatedToken(token: e.token, user: e.user))
        }
        if refreshDue {
            refreshing.withLock { inFlight in
                guard inFlight[hash] == nil else { return }
                inFlight[hash] = Task { await self.refresh(hash: hash) }
            }
        }
        return answer
    }

    private func reload(hash: SecretHash, cached: Entry?, now: Int64) async throws -> Entry? {
        reloads.add(1, ordering: .relaxed)
        let key = Data(hash.bytes)
        let found = try await db.read { db -> (StreamTokenInfo, User, Data)? in
            guard let row = try Row.fetchOne(
                try db.cachedStatement(sql: """
                    SELECT t.*, u.name AS user_name, u.role, u.disabled, u.created_at AS user_created_at
                    FROM stream_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?
                    """),
                arguments: [key])
            else { return nil }
            return (Self.info(row), UserStore.user(row, prefix: "user_"), row["hash"])
        }
        guard let (token, user, stored) = found, SecretHash(Array(stored)).constantTimeEquals(hash) else {
            cache.withLock { _ = $0.removeValue(forKey: hash) }
            misses.withLock { m in
                if m.count >= Self.maxMisses { m.removeAll(keepingCapacity: true) }
                m[hash] = now
            }
            return nil
        }
        return Entry(token: token, user: user, checkedAt: now, touchedAt: cached?.touchedAt ?? (token.lastUsedAt ?? 0))
    }

    static func info(_ row: Row) -> StreamTokenInfo {
        StreamTokenInfo(
            id: row["id"], userId: row["user_id"], userName: row["user_name"], label: row["label"], createdAt: row["created_at"],
            expiresAt: row["expires_at"], lastUsedAt: row["last_used_at"], revokedAt: row["revoked_at"])
    }

    /// Revokes a token at once. With `userId`, only that user's token is touched.
    @discardableResult
    public func revoke(id: Int64, userId: Int64? = nil) async throws -> Bool {
        let now = clock.nowMs()
        evict(ids: [id])
        defer { evict(ids: [id]) } // and again once written: a reload may have read the row in between
        let changed = try await db.write { db in
            if let userId {
                try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL", arguments: [now, id, userId])
            } else {
                try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, id])
            }
            return db.changesCount > 0
        }
        if changed { logger.info("stream token revoked", metadata: ["token.id": "\(id)"]) }
        return changed
    }

    /// Lists tokens without secrets; all users' when `userId` is nil.
    public func list(userId: Int64?) async throws -> [StreamTokenInfo] {
        try await db.read { db in
            let base = "SELECT t.*, u.name AS user_name FROM stream_tokens t JOIN users u ON u.id = t.user_id"
            if let userId {
                return try Row.fetchAll(db, sql: base + " WHERE t.user_id = ? ORDER BY t.id", arguments: [userId]).map(Self.info)
            }
            return try Row.fetchAll(db, sql: base + " ORDER BY t.id").map(Self.info)
        }
    }

    /// One token by id.
    public func find(id: Int64) async throws -> StreamTokenInfo? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT t.*, u.name AS user_name FROM stream_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", arguments: [id]).map(Self.info)
        }
    }

    /// Drops cached tokens by id (revoke, purge).
    func evict(ids: Set<Int64>) {
        guard !ids.isEmpty else { return }
        cache.withLock { cache in
            evictions.add(1, ordering: .releasing)
            cache = cache.filter { !ids.contains($0.value.token.id) }
        }
    }
}
