/// A length of time in milliseconds between zero and `Lifetime.max` (100 years), safe to add to any instant.
///
/// Every number from outside (JSON, query strings, Ampache and CLI arguments, Lua answers, config)
/// becomes a `Lifetime` at the edge, so arithmetic on instants (epoch ms) cannot trap.
///
/// ```swift
/// let ttl = try Lifetime.checked(seconds: 3600, field: "ttl_seconds")
/// let expiry = EpochMs.after(now, ttl)
/// ```
public struct Lifetime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest lifetime Reprise accepts: 100 Julian years, in ms.
    public static let maxMs: Int64 = 3_155_760_000_000
    /// `maxMs` in whole seconds.
    public static let maxSeconds: Int64 = maxMs / 1000

    /// Milliseconds, in `0...maxMs`.
    public let ms: Int64

    private init(uncheckedMs: Int64) { ms = uncheckedMs }

    /// A lifetime of `ms` milliseconds, or nil outside `0...maxMs`.
    public init?(ms: Int64) {
        guard ms >= 0, ms <= Self.maxMs else { return nil }
        self.ms = ms
    }

    /// A lifetime of `seconds`, or nil outside `0...maxSeconds`.
    public init?(seconds: Int64) {
        guard seconds >= 0, seconds <= Self.maxSeconds else { return nil }
        ms = seconds * 1000
    }

    /// A lifetime of `seconds` (fractions kept to the ms), or nil when not finite or out of range.
    public init?(seconds: Double) {
        guard seconds.isFinite, seconds >= 0, seconds <= Double(Self.maxSeconds) else { return nil }
        ms = Swift.min(Self.maxMs, Int64((seconds * 1000).rounded(.down)))
    }

    /// `ms` forced into `0...maxMs`.
    public static func clamped(ms: Int64) -> Lifetime { Lifetime(uncheckedMs: Swift.min(Swift.max(ms, 0), maxMs)) }

    /// A positive lifetime of `seconds`, or a `badRequest` error naming `field` and the accepted range.
    public static func checked(seconds: Int64, field: String) throws(RepriseError) -> Lifetime {
        guard seconds > 0, let l = Lifetime(seconds: seconds) else { throw outOfRange(field) }
        return l
    }

    /// The error for a lifetime `field` outside `1...maxSeconds`.
    public static func outOfRange(_ field: String) -> RepriseError {
        RepriseError(.badRequest, "\(field) must be between 1 and \(maxSeconds) seconds (100 years)")
    }

    /// Parses `90`, `90s`, `5m`, `1h`, `30d`, `500ms`; nil when it is not a duration or is over 100 years.
    public static func parse(_ text: String) -> Lifetime? {
        DurationText.milliseconds(text).flatMap { Lifetime(ms: $0) }
    }

    /// Whole seconds, rounded down.
    public var seconds: Int64 { ms / 1000 }

    public static func < (a: Lifetime, b: Lifetime) -> Bool { a.ms < b.ms }
    public var description: String { DurationText.format(ms: ms) }
}

/// Instants are UTC epoch milliseconds (`Int64`); these add and subtract without trapping.
public enum EpochMs {
    /// `instant + lifetime`, saturating at `Int64.max`.
    public static func after(_ instant: Int64, _ lifetime: Lifetime) -> Int64 {
        let (v, overflow) = instant.addingReportingOverflow(lifetime.ms)
        return overflow ? .max : v
    }

    /// `a + b` for two outside numbers (ms), saturating instead of trapping.
    public static func adding(_ a: Int64, _ b: Int64) -> Int64 {
        let (v, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : v
    }

    /// The distance between two instants in ms, saturating; never traps on any pair.
    public static func distance(_ a: Int64, _ b: Int64) -> Int64 {
        let (d, overflow) = a.subtractingReportingOverflow(b)
        if overflow { return .max }
        return d == .min ? .max : Swift.abs(d)
    }
}
