import RepriseSync

/// The current plugin set: a pool that `reload` replaces atomically.
///
/// A reload builds and checks a whole new pool first and swaps it in only if every plugin loads;
/// calls already running finish on the old pool, and a failed reload leaves the current one in place.
public final class LuaPlugins: Sendable {
    private let current: Locked<LuaPool>

    /// Wraps an existing pool.
    public init(pool: LuaPool) {
        current = Locked(pool)
    }

    /// Builds the first pool; see ``LuaPool/make(plugins:limits:registry:size:maxSize:stats:)``.
    public convenience init(
        plugins: [PluginSource],
        limits: LuaLimits = LuaLimits(),
        registry: HostFunctionRegistry = HostFunctionRegistry(),
        size: Int = 2,
        maxSize: Int? = nil
    ) throws {
        self.init(pool: try LuaPool.make(plugins: plugins, limits: limits, registry: registry, size: size, maxSize: maxSize))
    }

    /// The pool new calls go to.
    public var pool: LuaPool { current.withLock { $0 } }

    /// The plugins of the current pool.
    public var plugins: [PluginInfo] { pool.plugins }

    /// Statistics, kept across reloads.
    public var stats: LuaStats { pool.stats }

    /// Loads a new plugin set (by default the current sources again) and swaps it in on success.
    /// `validate` sees the new plugins before the swap; its error keeps the current set.
    public func reload(plugins: [PluginSource]? = nil, limits: LuaLimits? = nil, registry: HostFunctionRegistry? = nil, validate: ([PluginInfo]) throws -> Void = { _ in }) throws {
        let old = pool
        let new = try LuaPool.make(
            plugins: plugins ?? old.sources,
            limits: limits ?? old.limits,
            registry: registry ?? old.registry,
            size: old.size,
            maxSize: old.maxSize,
            stats: old.stats
        )
        try validate(new.plugins)
        current.withLock { $0 = new }
    }

    /// Runs `body` with a VM of the current pool.
    public func withVM<R>(_ body: (LuaVM) throws -> R) throws -> R {
        try pool.withVM(body)
    }

    /// Calls a hook on the current pool.
    public func call(plugin: String, hook: String, args: [LuaValue] = []) throws -> [LuaValue] {
        try pool.call(plugin: plugin, hook: hook, args: args)
    }
}
