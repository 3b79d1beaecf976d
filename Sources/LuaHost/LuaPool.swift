import Dispatch
import RepriseSync

/// A fixed set of VMs loaded with the same plugins, lent to one caller at a time.
///
/// `withVM` runs its body inline on the calling thread. When every VM is busy it creates another,
/// up to `maxSize`, and beyond that sleeps until one is returned: call it only from threads that
/// may block (never an event loop or Swift's cooperative pool). `tryWithVM` never waits and never
/// creates. Do not nest calls on one thread.
///
/// ```swift
/// let pool = try LuaPool.make(plugins: sources, limits: LuaLimits(), registry: registry, size: 4)
/// let out = try pool.withVM { vm in try vm.call(plugin: "tags", hook: "on_scan", args: [path]) }
/// ```
public final class LuaPool: Sendable {
    /// The plugins every VM has loaded.
    public let sources: [PluginSource]
    /// The limits of every VM.
    public let limits: LuaLimits
    /// The host API of every VM.
    public let registry: HostFunctionRegistry
    /// VMs created up front.
    public let size: Int
    /// The most VMs the pool creates when callers wait.
    public let maxSize: Int
    /// Per-hook call statistics.
    public let stats: LuaStats
    /// The loaded plugins, as the first VM reported them.
    public let plugins: [PluginInfo]

    private struct VMBox: @unchecked Sendable {
        let vm: LuaVM
    }

    private struct FreeList {
        var idle: [VMBox]
        var created: Int
        /// Callers sleeping in `checkout`; each returned VM wakes one.
        var waiters = 0
    }

    private enum Checkout: Sendable {
        case ready(VMBox)
        case create
        case wait
    }

    private let freeList: Locked<FreeList>
    /// Wakes a caller waiting in `withVM` when a VM is returned.
    private let returned = DispatchSemaphore(value: 0)

    private init(
        sources: [PluginSource], limits: LuaLimits, registry: HostFunctionRegistry,
        size: Int, maxSize: Int, stats: LuaStats, plugins: [PluginInfo], idle: [VMBox]
    ) {
        self.sources = sources
        self.limits = limits
        self.registry = registry
        self.size = size
        self.maxSize = maxSize
        self.stats = stats
        self.plugins = plugins
        self.freeList = Locked(FreeList(idle: idle, created: idle.count))
    }

    /// Builds `size` VMs, loads and checks every plugin in each, and throws the first failure.
    public static func make(
        plugins: [PluginSource],
        limits: LuaLimits = LuaLimits(),
        registry: HostFunctionRegistry = HostFunctionRegistry(),
        size: Int = 2,
        maxSize: Int? = nil,
        stats: LuaStats = LuaStats()
    ) throws -> LuaPool {
        let size = max(1, size)
        var idle: [VMBox] = []
        for _ in 0..<size {
            idle.append(VMBox(vm: try makeVM(plugins, limits, registry, stats)))
        }
        return LuaPool(
            sources: plugins, limits: limits, registry: registry, size: size,
            maxSize: max(size, maxSize ?? size * 2), stats: stats, plugins: idle[0].vm.plugins, idle: idle
        )
    }

    private static func makeVM(
        _ plugins: [PluginSource], _ limits: LuaLimits, _ registry: HostFunctionRegistry, _ stats: LuaStats
    ) throws -> LuaVM {
        let vm = try LuaVM(limits: limits, registry: registry)
        try vm.load(plugins: plugins)
        vm.stats = stats
        return vm
    }

    /// Runs `body` with a VM of its own, on the calling thread.
    public func withVM<R>(_ body: (LuaVM) throws -> R) throws -> R {
        let box = try checkout()
        defer { checkin(box) }
        return try body(box.vm)
    }

    /// Runs `body` with an idle VM, or returns nil at once when none is idle (no wait, no new VM).
    ///
    /// For event loops: they hand the work to another path instead of waiting.
    public func tryWithVM<R>(_ body: (LuaVM) throws -> R) rethrows -> R? {
        guard let box = freeList.withLock({ $0.idle.popLast() }) else { return nil }
        defer { checkin(box) }
        return try body(box.vm)
    }

    private func checkin(_ box: VMBox) {
        let wake = freeList.withLock { list -> Bool in
            list.idle.append(box)
            guard list.waiters > 0 else { return false }
            list.waiters -= 1
            return true
        }
        if wake { returned.signal() }
    }

    /// Calls a hook on any free VM.
    public func call(plugin: String, hook: String, args: [LuaValue] = []) throws -> [LuaValue] {
        try withVM { try $0.call(plugin: plugin, hook: hook, args: args) }
    }

    /// Whether `plugin` defines `hook`.
    public func hasHook(plugin: String, hook: String) -> Bool {
        plugins.contains { $0.name == plugin && $0.hooks.contains(hook) }
    }

    /// VMs currently created, idle or lent out.
    public var vmCount: Int { freeList.withLock { $0.created } }

    private func checkout() throws -> VMBox {
        while true {
            let step: Checkout = freeList.withLock { list in
                if let box = list.idle.popLast() { return .ready(box) }
                if list.created < maxSize {
                    list.created += 1
                    return .create
                }
                list.waiters += 1
                return .wait
            }
            switch step {
            case .ready(let box):
                return box
            case .create:
                do {
                    return VMBox(vm: try Self.makeVM(sources, limits, registry, stats))
                } catch {
                    freeList.withLock { $0.created -= 1 }
                    throw error
                }
            case .wait:
                // Sleeps until a VM comes back (checkin wakes one waiter per VM); then tries again.
                returned.wait()
            }
        }
    }
}

