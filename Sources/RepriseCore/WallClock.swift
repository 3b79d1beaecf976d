
/// Reads the current time as UTC epoch milliseconds.
public protocol WallClock: Sendable {
    /// The current time in UTC epoch milliseconds.
    func nowMs() -> Int64
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// A clock that moves only when told to; for tests.
public final class ManualWallClock: WallClock {
    private let now: Locked<Int64>
    public init(_ startMs: Int64 = 1_700_000_000_000) { now = Locked(startMs) }
    public func nowMs() -> Int64 { now.withLock { $0 } }
    /// Moves the clock forward by `ms` milliseconds.
    public func advance(ms: Int64) { now.withLock { $0 += ms } }
    /// Sets the clock to `ms`.
    public func set(ms: Int64) { now.withLock { $0 = ms } }
}

import RepriseSync
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
