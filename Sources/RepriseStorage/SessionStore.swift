import Logging
import RepriseCore
import RepriseSync

/// The `sessions` table as the session store needs it; `RepriseSQLite` implements it.
public protocol SessionRows: Sendable {
    /// Inserts a session under `hash` (row id `hash.rowId`); false when another session has that row id.
    func insert(_ info: SessionInfo, hash: SecretHash) async throws -> Bool
    /// The session with row id `id`, its user and its stored hash.
    func fetch(id: Int64) async throws -> (SessionInfo, User, SecretHash)?
    /// Moves expiries and last-seen times forward (never back), as `(id, expiresAt, lastSeenAt)`.
    func extend(_ sessions: [(id: Int64, expiresAt: Int64, lastSeenAt: Int64)]) async throws
    /// Deletes the session with row id `id` (and `hash`, when given); false when there was none.
    func delete(id: Int64, hash: SecretHash?) async throws -> Bool
    /// Sessions, newest first.
    func list(limit: Int) async throws -> [SessionInfo]
    /// One user's sessions, newest first.
    func list(userId: Int64) async throws -> [SessionInfo]
    /// Deletes every session of a user but `except`; how many went.
    func delete(userId: Int64, except: Int64?) async throws -> Int
    func countByKind() async throws -> [SessionKind: Int]
}

/// Sessions: creation, validation with coalesced extension, logout, listing, over any `SessionRows`.
///
/// Validation answers from memory; the row is re-read at most once per `revalidateMs` per
/// session (so another process's logout is seen within that time) and written at most once per
/// `extendInterval`. Logout in this process takes effect at once.
public final class SessionStore: SessionRepository {
    let rows: any SessionRows
    let clock: any WallClock
    let policy: SessionPolicy
    let rules: any ExpiryRules
    let events: any EventSink
    let logger: Logger
    /// How long a cached session is trusted before its row is read again, ms.
    let revalidateMs: Int64
    private let cache = Locked<[SecretHash: Entry]>([:])

    struct Entry: Sendable {
        var info: SessionInfo
        var user: User
        var ttl: Int64
        var writtenExpiresAt: Int64
        var lastWrittenAt: Int64
        var checkedAt: Int64
    }

    public init(rows: any SessionRows, clock: any WallClock, policy: SessionPolicy, rules: any ExpiryRules = DefaultExpiryRules(), events: any EventSink = NoEvents(), logger: Logger = Logger(label: "reprise.sessions"), revalidateMs: Int64 = 1000) {
        self.rows = rows
        self.clock = clock
        self.policy = policy
        self.rules = rules
        self.events = events
        self.logger = logger
        self.revalidateMs = revalidateMs
    }

    /// Creates a session and returns its secret (the only time it is visible) and row.
    public func create(user: User, kind: SessionKind, client: String? = nil, agent: String? = nil, ip: String? = nil) async throws -> (Secret, SessionInfo) {
        let now = clock.nowMs()
        // Client text is capped and one line wherever it comes from: it is stored, listed and logged.
        let client = StoredText.bounded(client, max: StoredText.maxClient)
        let agent = StoredText.bounded(agent, max: StoredText.maxAgent)
        var info = SessionInfo(id: 0, userId: user.id, userName: user.name, kind: kind, client: client, agent: agent, ip: ip, createdAt: now, lastSeenAt: now, expiresAt: now)
        let ttl = Lifetime.clamped(ms: rules.ttl(for: info) ?? policy.ttl(for: kind)).ms
        info.expiresAt = EpochMs.adding(now, ttl)
        let row = info
        var secret = Secret.generate(.session)
        // Another session may have this row id (a chance of sessions in 2^53): draw another secret.
        while try await !rows.insert(row, hash: secret.hash) { secret = Secret.generate(.session) }
        let id = secret.hash.rowId
        info.id = id
        cache.withLock {
            $0[secret.hash] = Entry(info: info, user: user, ttl: ttl, writtenExpiresAt: info.expiresAt, lastWrittenAt: now, checkedAt: now)
        }
        logger.info("session created", metadata: ["session.id": "\(id)", "session.kind": "\(kind.rawValue)", "user.name": "\(user.name)"])
        events.sessionCreated(info)
        return (secret, info)
    }

    /// Validates a presented session secret and records activity; nil when unknown or expired.
    public func authenticate(_ secret: Secret) async throws -> AuthenticatedSession? {
        guard secret.kind == .session else { return nil }
        let hash = secret.hash
        let now = clock.nowMs()
        var entry = cache.withLock { $0[hash] }
        if entry == nil || now - entry!.checkedAt >= revalidateMs {
            entry = try await reload(hash: hash, cached: entry, now: now)
        }
        guard var e = entry else { return nil }
        guard e.info.expiresAt > now, !e.user.disabled else {
            cache.withLock { _ = $0.removeValue(forKey: hash) }
            return nil
        }
        e.info.expiresAt = SessionPolicy.extended(current: e.info.expiresAt, now: now, ttl: e.ttl)
        e.info.lastSeenAt = max(e.info.lastSeenAt, now)
        if policy.shouldWrite(lastWrittenAt: e.lastWrittenAt, now: now) {
            if let ruled = rules.extend(e.info, now: now) {
                e.info.expiresAt = max(e.info.expiresAt, ruled)
            }
            let expires = e.info.expiresAt
            try await rows.extend([(e.info.id, expires, e.info.lastSeenAt)])
            e.writtenExpiresAt = expires
            e.lastWrittenAt = now
        }
        let updated = e
        cache.withLock { cache in
            // Keep the furthest expiry if two requests raced.
            if let current = cache[hash] {
                var merged = updated
                merged.info.expiresAt = max(current.info.expiresAt, updated.info.expiresAt)
                merged.writtenExpiresAt = max(current.writtenExpiresAt, updated.writtenExpiresAt)
                merged.lastWrittenAt = max(current.lastWrittenAt, updated.lastWrittenAt)
                cache[hash] = merged
            } else {
                cache[hash] = updated
            }
        }
        return AuthenticatedSession(sessionId: e.info.id, user: e.user, kind: e.info.kind, expiresAt: e.info.expiresAt)
    }

    private func reload(hash: SecretHash, cached: Entry?, now: Int64) async throws -> Entry? {
        let found = try await rows.fetch(id: hash.rowId)
        guard let (info, user, stored) = found, stored.constantTimeEquals(hash) else {
            cache.withLock { _ = $0.removeValue(forKey: hash) }
            return nil
        }
        var entry = Entry(info: info, user: user, ttl: cached?.ttl ?? (rules.ttl(for: info) ?? policy.ttl(for: info.kind)), writtenExpiresAt: info.expiresAt, lastWrittenAt: cached?.lastWrittenAt ?? info.lastSeenAt, checkedAt: now)
        if let cached {
            entry.info.expiresAt = max(info.expiresAt, cached.info.expiresAt)
            entry.info.lastSeenAt = max(info.lastSeenAt, cached.info.lastSeenAt)
        }
        return entry
    }

    /// Ends a session at once; returns false when it did not exist.
    @discardableResult
    public func logout(_ secret: Secret) async throws -> Bool {
        let hash = secret.hash
        cache.withLock { _ = $0.removeValue(forKey: hash) }
        return try await rows.delete(id: hash.rowId, hash: hash)
    }

    /// Ends a session by id (admin).
    @discardableResult
    public func delete(id: Int64) async throws -> Bool {
        evict(ids: [id])
        return try await rows.delete(id: id, hash: nil)
    }

    /// Lists sessions, newest first, with the in-memory expiry where it is ahead of the row.
    public func list(limit: Int = 1000) async throws -> [SessionInfo] {
        withMemory(try await rows.list(limit: limit))
    }

    /// One user's sessions, newest first, as `list(limit:)` tells them.
    public func list(userId: Int64) async throws -> [SessionInfo] {
        withMemory(try await rows.list(userId: userId))
    }

    /// Ends every session of a user but `except` (a password change, a user disabled or demoted).
    @discardableResult
    public func endAll(userId: Int64, except: Int64? = nil) async throws -> Int {
        cache.withLock { cache in cache = cache.filter { $0.value.info.userId != userId || $0.value.info.id == except } }
        return try await rows.delete(userId: userId, except: except)
    }

    /// Rows with the in-memory expiry and last-seen time where they are ahead.
    private func withMemory(_ stored: [SessionInfo]) -> [SessionInfo] {
        let live = cache.withLock { cache in Dictionary(cache.values.map { ($0.info.id, $0.info) }, uniquingKeysWith: { a, _ in a }) }
        return stored.map { row in
            guard let mem = live[row.id] else { return row }
            var r = row
            r.expiresAt = max(row.expiresAt, mem.expiresAt)
            r.lastSeenAt = max(row.lastSeenAt, mem.lastSeenAt)
            return r
        }
    }

    /// Counts sessions by kind.
    public func countByKind() async throws -> [SessionKind: Int] { try await rows.countByKind() }

    /// Writes every in-memory extension that the rows do not have yet, so GC sees the latest activity.
    public func flushPending() async throws {
        let now = clock.nowMs()
        let pending: [(SecretHash, Int64, Int64, Int64)] = cache.withLock { cache in
            cache.compactMap { key, e in e.info.expiresAt > e.writtenExpiresAt ? (key, e.info.id, e.info.expiresAt, e.info.lastSeenAt) : nil }
        }
        guard !pending.isEmpty else { return }
        try await rows.extend(pending.map { ($0.1, $0.2, $0.3) })
        cache.withLock { cache in
            for (key, _, expires, _) in pending {
                guard var e = cache[key] else { continue }
                e.writtenExpiresAt = max(e.writtenExpiresAt, expires)
                e.lastWrittenAt = now
                cache[key] = e
            }
        }
    }

    /// Drops cached sessions by id (after GC or admin deletion).
    package func evict(ids: Set<Int64>) {
        guard !ids.isEmpty else { return }
        cache.withLock { cache in cache = cache.filter { !ids.contains($0.value.info.id) } }
    }

    /// Drops cached sessions with ids in `range` whose expiry is before `cutoff` (after a GC sweep).
    package func evict(idsIn range: ClosedRange<Int64>, expiringBefore cutoff: Int64) {
        cache.withLock { cache in
            guard cache.values.contains(where: { range.contains($0.info.id) && $0.info.expiresAt < cutoff }) else { return }
            cache = cache.filter { !(range.contains($0.value.info.id) && $0.value.info.expiresAt < cutoff) }
        }
    }

    /// Drops every cached session of a user (after a password change or disable).
    public func evict(userId: Int64) {
        cache.withLock { cache in cache = cache.filter { $0.value.info.userId != userId } }
    }
}
