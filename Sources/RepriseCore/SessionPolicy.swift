/// Session lifetimes and GC rules: pure functions of their inputs and a time.
public struct SessionPolicy: Sendable, Equatable {
    /// TTL of web sessions, ms.
    public var webTTL: Int64
    /// TTL of API sessions, ms.
    public var apiTTL: Int64
    /// Grace: GC never collects a session younger than this, ms.
    public var minAge: Int64
    /// At most one expiry write per session per this interval, ms.
    public var extendInterval: Int64

    public init(webTTL: Int64 = 3_600_000, apiTTL: Int64 = 86_400_000, minAge: Int64 = 300_000, extendInterval: Int64 = 60_000) {
        self.webTTL = webTTL
        self.apiTTL = apiTTL
        self.minAge = minAge
        self.extendInterval = extendInterval
    }

    /// The built-in TTL for a kind of session.
    public func ttl(for kind: SessionKind) -> Int64 {
        switch kind {
        case .web: webTTL
        case .api: apiTTL
        }
    }

    /// The expiry after activity at `now`: `max(current, now + ttl)`, so extending never shortens.
    public static func extended(current: Int64, now: Int64, ttl: Int64) -> Int64 {
        max(current, EpochMs.adding(now, Lifetime.clamped(ms: ttl).ms))
    }

    /// Whether activity at `now` must be written, given the last write at `lastWrittenAt`.
    public func shouldWrite(lastWrittenAt: Int64, now: Int64) -> Bool {
        now - lastWrittenAt >= extendInterval
    }

    /// The latest `expires_at` a row may hold and still be collectable at `now`.
    ///
    /// An unwritten extension can put the in-memory expiry up to `extendInterval` past the row's,
    /// so GC waits that long beyond the row's expiry: no process can collect a session
    /// another process still considers live.
    public func collectableExpiryCutoff(now: Int64) -> Int64 {
        now - extendInterval
    }

    /// The latest `created_at` a session may have and be old enough to collect at `now`.
    public func collectableCreationCutoff(now: Int64) -> Int64 {
        now - minAge
    }

    /// Decides what GC does with one session; a rule may only spare, never condemn.
    public func decide(_ s: SessionFacts, now: Int64) -> GCDecision {
        if s.expiresAt > collectableExpiryCutoff(now: now) { return .keep(.live) }
        if s.createdAt > collectableCreationCutoff(now: now) { return .keep(.grace) }
        if s.leased { return .keep(.lease) }
        if s.ruleSpares { return .keep(.rule) }
        return .collect
    }
}

/// What GC needs to know about a session to decide.
public struct SessionFacts: Sendable, Equatable {
    public var createdAt: Int64
    public var expiresAt: Int64
    public var leased: Bool
    /// True when an expiry rule (plugin) asked to keep the session, or failed (fail safe).
    public var ruleSpares: Bool

    public init(createdAt: Int64, expiresAt: Int64, leased: Bool = false, ruleSpares: Bool = false) {
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.leased = leased
        self.ruleSpares = ruleSpares
    }
}

/// GC's verdict on one session.
public enum GCDecision: Sendable, Equatable {
    /// Why a session stays.
    public enum Reason: Sendable, Equatable {
        case live, grace, lease, rule
    }
    case keep(Reason)
    case collect
}
