import RepriseSync

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
    /// The latest error (with the plugin's file:line when Lua gave one), and when (monotonic ns).
    public var lastError: String?
    public var lastErrorAt: UInt64 = 0

    /// Creates zeroed counters.
    public init() {}

    mutating func add(nanoseconds: UInt64, error: (any Error)?, at: UInt64) {
        calls += 1
        totalNanoseconds &+= nanoseconds
        if let error {
            errors += 1
            lastError = String(describing: error)
            lastErrorAt = at
        }
    }
}

/// Thread-safe per-hook call statistics shared by every VM of a pool (and across reloads).
public final class LuaStats: Sendable {
    /// One hook's counters; a VM keeps the ones it calls, so a call does not look its key up.
    final class Counter: Sendable {
        private let value = Locked(LuaHookStats())

        func add(nanoseconds: UInt64, error: (any Error)?, at: UInt64) {
            value.withLock { $0.add(nanoseconds: nanoseconds, error: error, at: at) }
        }

        var current: LuaHookStats { value.withLock { $0 } }
    }

    private let table = Locked<[LuaCallKey: Counter]>([:])

    /// Creates empty statistics.
    public init() {}

    /// The counters of one hook, created at first use.
    func counter(plugin: String, hook: String) -> Counter {
        let key = LuaCallKey(plugin: plugin, hook: hook)
        return table.withLock { table in
            if let counter = table[key] { return counter }
            let counter = Counter()
            table[key] = counter
            return counter
        }
    }

    /// The counters of one hook (zero if it was never called).
    public subscript(plugin plugin: String, hook hook: String) -> LuaHookStats {
        table.withLock { $0[LuaCallKey(plugin: plugin, hook: hook)] }?.current ?? LuaHookStats()
    }

    /// A copy of all counters.
    public func snapshot() -> [LuaCallKey: LuaHookStats] {
        table.withLock { $0 }.mapValues(\.current)
    }
}
