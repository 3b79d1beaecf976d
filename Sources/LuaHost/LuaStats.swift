import Synchronization

/// Identifies one plugin hook (or `backend.function`) in the stats.
public struct LuaCallKey: Sendable, Hashable, CustomStringConvertible {
    /// The plugin name.
    public var plugin: String
    /// The hook name, or `backend.function` for backend calls.
    public var hook: String

    /// Creates a key.
    public init(plugin: String, hook: String) {
        self.plugin = plugin
        self.hook = hook
    }

    public var description: String { "\(plugin).\(hook)" }
}

/// Counters for one hook.
public struct LuaHookStats: Sendable, Hashable {
    /// Calls made, successful or not.
    public var calls: Int = 0
    /// Calls that threw.
    public var errors: Int = 0
    /// Wall time spent in the calls, in nanoseconds.
    public var totalNanoseconds: UInt64 = 0

    /// Creates zeroed counters.
    public init() {}

    mutating func add(nanoseconds: UInt64, failed: Bool) {
        calls += 1
        totalNanoseconds &+= nanoseconds
        if failed { errors += 1 }
    }
}

/// Thread-safe per-hook call statistics shared by every VM of a pool (and across reloads).
public final class LuaStats: Sendable {
    private let table = Mutex<[LuaCallKey: LuaHookStats]>([:])

    /// Creates empty statistics.
    public init() {}

    /// Adds one call.
    func record(plugin: String, hook: String, nanoseconds: UInt64, failed: Bool) {
        let key = LuaCallKey(plugin: plugin, hook: hook)
        table.withLock { table in
            table[key, default: LuaHookStats()].add(nanoseconds: nanoseconds, failed: failed)
        }
    }

    /// The counters of one hook (zero if it was never called).
    public subscript(plugin plugin: String, hook hook: String) -> LuaHookStats {
        table.withLock { $0[LuaCallKey(plugin: plugin, hook: hook)] ?? LuaHookStats() }
    }

    /// A copy of all counters.
    public func snapshot() -> [LuaCallKey: LuaHookStats] {
        table.withLock { $0 }
    }
}
