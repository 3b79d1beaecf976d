import Logging
import RepriseCore
import Synchronization
import RepriseSync

/// The `stream_tokens` table as the token store needs it; `RepriseSQLite` implements it.
public protocol StreamTokenRows: Sendable {
    /// Inserts a token; with `replacing`, revokes the user's active tokens of that label in the same
    /// transaction (so concurrent rotations of a label are serial). Returns its id and the ids revoked.
    func insert(hash: SecretHash, userId: Int64, label: String, createdAt: Int64, expiresAt: Int64?, replacing: Bool) async throws -> (id: Int64, revoked: [Int64])
    /// The token stored under `hash`, its user and its stored hash.
    func fetch(hash: SecretHash) async throws -> (StreamTokenInfo, User, SecretHash)?
    /// Moves `last_used_at` forward to `at`.
    func touch(id: Int64, at: Int64) async throws
    /// Revokes an active token (only `userId`'s, when given); false when none was.
    func revoke(id: Int64, userId: Int64?, at: Int64) async throws -> Bool
    /// Tokens without secrets, by id; all users' when `userId` is nil.
    func list(userId: Int64?) async throws -> [StreamTokenInfo]
    func find(id: Int64) async throws -> StreamTokenInfo?
}

/// Stream tokens: issue under the token policy, validate from memory, revoke, over any `StreamTokenRows`.
public final class StreamTokenStore: StreamTokenRepository {
    let rows: any StreamTokenRows
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
    package let reloads = Atomic<Int>(0)
    /// Hashes recently looked up and not found, with when (ms): a client retrying a bad token costs no SQL.
    private let misses = Locked<[SecretHash: Int64]>([:])
    static let maxMisses = 10_000

    struct Entry: Sendable {
        var token: StreamTokenInfo
        var user: User
        var checkedAt: Int64
        var touchedAt: Int64
    }

    public init(rows: any StreamTokenRows, clock: any WallClock, logger: Logger = Logger(label: "reprise.tokens"), revalidateMs: Int64 = 1000, touchIntervalMs: Int64 = 60_000) {
        self.rows = rows
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
    package func issue(user: User, label: String, requestedTTLSeconds: Int64?, policy: any TokenPolicy, replacing: Bool) async throws -> (Secret, StreamTokenInfo, Int) {
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
        let (id, revoked) = try await rows.insert(hash: secret.hash, userId: user.id, label: label, createdAt: now, expiresAt: expires, replacing: replacing)
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
                try await rows.touch(id: id, at: now)
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
                try await rows.touch(id: e.token.id, at: now)
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
    package func refreshed() async {
        for task in refreshing.withLock({ Array($0.values) }) { await task.value }
    }

    /// Validates a token from memory only (`hash` must be `secret.hash`); `authenticate` asks it first
    /// and reads the row when it answers `.unknown`.
    public func authenticateCached(_ secret: Secret, hash: SecretHash) -> CachedTokenAnswer {
        guard secret.kind == .streamToken else { return .invalid }
        let now = clock.nowMs()
        var refreshDue = false
        let answer = cache.withLock { cache -> CachedTokenAnswer in
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
        let found = try await rows.fetch(hash: hash)
        guard let (token, user, stored) = found, stored.constantTimeEquals(hash) else {
            cache.withLock { _ = $0.removeValue(forKey: hash) }
            misses.withLock { m in
                if m.count >= Self.maxMisses { m.removeAll(keepingCapacity: true) }
                m[hash] = now
            }
            return nil
        }
        return Entry(token: token, user: user, checkedAt: now, touchedAt: cached?.touchedAt ?? (token.lastUsedAt ?? 0))
    }

    /// Revokes a token at once. With `userId`, only that user's token is touched.
    @discardableResult
    public func revoke(id: Int64, userId: Int64? = nil) async throws -> Bool {
        let now = clock.nowMs()
        evict(ids: [id])
        defer { evict(ids: [id]) } // and again once written: a reload may have read the row in between
        let changed = try await rows.revoke(id: id, userId: userId, at: now)
        if changed { logger.info("stream token revoked", metadata: ["token.id": "\(id)"]) }
        return changed
    }

    /// Lists tokens without secrets; all users' when `userId` is nil.
    public func list(userId: Int64?) async throws -> [StreamTokenInfo] { try await rows.list(userId: userId) }

    /// One token by id.
    public func find(id: Int64) async throws -> StreamTokenInfo? { try await rows.find(id: id) }

    /// Drops cached tokens by id (revoke, purge).
    package func evict(ids: Set<Int64>) {
        guard !ids.isEmpty else { return }
        cache.withLock { cache in
            evictions.add(1, ordering: .releasing)
            cache = cache.filter { !ids.contains($0.value.token.id) }
        }
    }
}

extension StreamTokenStore {
    /// Revokes the user's active tokens with `label` and issues a new one; returns it and the number revoked.
    public func rotate(user: User, label: String, policy: any TokenPolicy) async throws -> (Secret, StreamTokenInfo, Int) {
        try await issue(user: user, label: label, requestedTTLSeconds: nil, policy: policy, replacing: true)
    }
}
