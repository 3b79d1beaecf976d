import CLua
import CLuaShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One sandboxed Lua state and the plugins loaded into it.
///
/// A `LuaVM` is not thread-safe and not `Sendable`: confine it to one thread at a time
/// (``LuaPool`` hands VMs out that way). Every call runs under the instruction budget and the
/// memory cap of its ``LuaLimits``.
///
/// ```swift
/// let vm = try LuaVM(limits: LuaLimits(), registry: registry)
/// try vm.load(plugins: [PluginSource(path: "plugins/scrobble.lua")])
/// let results = try vm.call(plugin: "scrobble", hook: "on_play", args: ["track-1"])
/// ```
public final class LuaVM {
    let L: OpaquePointer
    private let shared: UnsafeMutablePointer<reprise_vm>
    /// The limits every call runs under.
    public let limits: LuaLimits
    private var functions: [HostFunctionRegistry.Function] = []
    private var loadPluginRef: Int32 = 0
    private var callBackendRef: Int32 = 0
    private var listBackendsRef: Int32 = 0
    private var hookRefs: [String: [String: HookRef]] = [:]
    /// The hook found last, looked up again by comparing its names.
    private var lastHook: (plugin: String, hook: String, ref: HookRef)?

    /// A loaded hook: its function's registry slot and the counters its calls go to.
    final class HookRef {
        let ref: Int32
        var counter: (stats: LuaStats, counter: LuaStats.Counter)?

        init(ref: Int32) { self.ref = ref }
    }
    /// The context of the hook running now: which of its fields are filled, and how to fill them.
    private struct LiveContext {
        let table: UnsafeRawPointer?
        let shape: LuaContextShape
        let fill: (Int, LuaTableWriter) -> Void
        var filled: UInt64 = 0
    }
    private var context: LiveContext?

    /// The loaded plugins, in load order.
    public private(set) var plugins: [PluginInfo] = []
    /// Where call counts and timings go, if anywhere.
    var stats: LuaStats?

    /// Creates a fresh state with the allowed libraries, the sandbox and the host API.
    public init(limits: LuaLimits = LuaLimits(), registry: HostFunctionRegistry = HostFunctionRegistry()) throws {
        self.limits = limits
        shared = .allocate(capacity: 1)
        shared.initialize(to: reprise_vm())
        shared.pointee.limit = max(0, limits.memoryLimitBytes)
        guard let state = reprise_newstate(shared) else {
            shared.deallocate()
            throw LuaError(.loadFailed, "cannot create a Lua state")
        }
        L = state
        shared.pointee.dispatch = luaHostDispatch
        shared.pointee.context = luaContextFill
        shared.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        reprise_open_allowed_libs(L)
        reprise_context_install(L)
        try runPrelude(registry)
    }

    deinit {
        reprise_close(L)
        shared.deallocate()
    }

    /// Bytes currently held by Lua.
    public var memoryInUse: Int { shared.pointee.used }

    /// The Lua version this VM runs, e.g. "Lua 5.4.4".
    public static var luaRelease: String { String(cString: reprise_release()) }

    // MARK: Loading

    /// Loads plugins in order, each under the load-phase budget; the first failure throws.
    public func load(plugins sources: [PluginSource]) throws {
        for source in sources { try load(source) }
    }

    private func load(_ source: PluginSource) throws {
        do {
            try loadOne(source)
        } catch let error as LuaError where !error.message.contains(Self.split(source.path).1) {
            // Errors without a position (out of memory, an error object that is not a string) still name the file.
            throw LuaError(error.code, "\(source.path): \(error.message)", plugin: error.plugin)
        }
    }

    private func loadOne(_ source: PluginSource) throws {
        let (dir, file) = Self.split(source.path)
        let args: [LuaValue] = [.string(source.name), .string(dir), .string(file), source.config]
        let (hooks, version): ([String: Int32], String?) = try invoke(
            ref: loadPluginRef, args: args, results: 3,
            budget: limits.loadInstructionBudget, deadlineMs: limits.loadDeadlineMs, plugin: source.name
        ) { base in
            guard lua_type(L, base + 1) == LUA_TTABLE else {
                let code = LuaStack.value(L, at: base + 2).stringValue ?? "badPlugin"
                let message = LuaStack.value(L, at: base + 3).stringValue ?? "cannot load \(source.path)"
                throw LuaError(Self.code(named: code), message, plugin: source.name)
            }
            var refs: [String: Int32] = [:]
            lua_pushnil(L) // [.. hooks version _ nil]
            while lua_next(L, base + 1) != 0 { // [.. key fn]
                let name = LuaStack.string(L, at: -2)
                refs[name] = luaL_ref(L, reprise_registryindex()) // [.. key]
            }
            return (refs, LuaStack.value(L, at: base + 2).stringValue)
        }
        hookRefs[source.name] = hooks.mapValues(HookRef.init(ref:))
        lastHook = nil
        plugins.append(PluginInfo(name: source.name, version: version, hooks: hooks.keys.sorted()))
    }

    private static func split(_ path: String) -> (dir: String, file: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    private static func code(named name: String) -> LuaError.Code {
        switch name {
        case "syntax": return .syntax
        case "loadFailed": return .loadFailed
        default: return .badPlugin
        }
    }

    // MARK: Calls

    /// Whether `plugin` is loaded and defines `hook`.
    public func hasHook(plugin: String, hook: String) -> Bool {
        hookRefs[plugin]?[hook] != nil
    }

    /// The hook `plugin` defines as `hook`; nil when it defines none; throws for an unknown plugin.
    private func hookRef(plugin: String, hook: String) throws -> HookRef? {
        // A server calls the same hook again and again: comparing two short strings is cheaper
        // than hashing them into two dictionaries.
        if let last = lastHook, last.plugin == plugin, last.hook == hook { return last.ref }
        guard let hooks = hookRefs[plugin] else {
            throw LuaError(.notFound, "no plugin named '\(plugin)'", plugin: plugin)
        }
        guard let ref = hooks[hook] else { return nil }
        lastHook = (plugin, hook, ref)
        return ref
    }

    /// Calls a plugin's hook with a fresh budget; returns `[]` if the plugin does not define it.
    public func call(plugin: String, hook: String, args: [LuaValue] = []) throws -> [LuaValue] {
        guard let ref = try hookRef(plugin: plugin, hook: hook) else { return [] }
        return try measured(ref, plugin: plugin, hook: hook) {
            try invoke(ref: ref.ref, args: args, budget: limits.instructionBudget, deadlineMs: hookDeadlineMs, plugin: plugin)
        }
    }

    /// A shorter deadline for the hook calls made while it is set (calls on an event loop).
    public var deadlineOverrideMs: Int?

    /// Whether the last call ended because its deadline passed.
    public var lastCallPassedDeadline: Bool { shared.pointee.deadline_passed != 0 }

    private var hookDeadlineMs: Int { deadlineOverrideMs.map { min($0, limits.hookDeadlineMs) } ?? limits.hookDeadlineMs }

    /// Calls a plugin's hook with a context table whose fields `fill` writes when the hook first
    /// reads them: `fill(i, t)` sets field `shape.names[i]` of `t`, or nothing for a nil field.
    ///
    /// A policy that reads nothing costs one empty table. `pairs`, `next`, `rawget` and host
    /// functions see every field; a context kept past the call holds the fields read during it,
    /// and reading another by name raises an error.
    ///
    /// ```swift
    /// let shape = LuaContextShape("user")
    /// try vm.call(plugin: "p", hook: "token_authorize", context: shape) { _, t in
    ///     t.set("user", fields: 1) { u in u.set("name", "ann") }
    /// }
    /// ```
    public func call(plugin: String, hook: String, context shape: LuaContextShape, fill: (Int, LuaTableWriter) -> Void) throws -> [LuaValue] {
        guard let ref = try hookRef(plugin: plugin, hook: hook) else { return [] }
        let L = self.L
        return try withoutActuallyEscaping(fill) { fill in
            let outer = context
            defer { context = outer }
            return try measured(ref, plugin: plugin, hook: hook) {
                try invoke(ref: ref.ref, count: 1, push: {
                    reprise_push_context(L, Int32(shape.names.count))
                    context = LiveContext(table: lua_topointer(L, -1), shape: shape, fill: fill)
                }, results: reprise_multret(), budget: limits.instructionBudget, deadlineMs: hookDeadlineMs, plugin: plugin, read: allResults)
            }
        }
    }

    /// Calls `function` of a backend the plugin registered with `reprise.backend.register`.
    public func callBackend(plugin: String, backend: String, function: String, args: [LuaValue] = []) throws -> [LuaValue] {
        let prefix: [LuaValue] = [.string(plugin), .string(backend), .string(function)]
        let results = try measured(plugin: plugin, hook: "\(backend).\(function)") {
            try invoke(ref: callBackendRef, args: prefix + args, budget: limits.instructionBudget, deadlineMs: limits.backendDeadlineMs, plugin: plugin)
        }
        guard results.first == .bool(true) else {
            throw LuaError(.notFound, results.dropFirst().first?.stringValue ?? "no such backend", plugin: plugin)
        }
        return Array(results.dropFirst())
    }

    /// Backend names registered by each plugin, in registration order.
    public var registeredBackends: [String: [String]] {
        let value = (try? invoke(ref: listBackendsRef, args: [], budget: limits.instructionBudget, deadlineMs: limits.hookDeadlineMs, plugin: nil).first) ?? .nil
        var out: [String: [String]] = [:]
        for (plugin, names) in value.tableValue ?? [:] {
            out[plugin] = (names.arrayValue ?? []).compactMap(\.stringValue)
        }
        return out
    }

    /// Backend names registered by one plugin, in registration order.
    public func backends(plugin: String) -> [String] {
        registeredBackends[plugin] ?? []
    }

    private func measured(plugin: String, hook: String, _ body: () throws -> [LuaValue]) throws -> [LuaValue] {
        guard let stats else { return try body() }
        return try measured(stats.counter(plugin: plugin, hook: hook), body)
    }

    /// Like `measured(plugin:hook:_:)`, with the counter kept in `ref` after its first call.
    private func measured(_ ref: HookRef, plugin: String, hook: String, _ body: () throws -> [LuaValue]) throws -> [LuaValue] {
        guard let stats else { return try body() }
        let counter: LuaStats.Counter
        if let kept = ref.counter, kept.stats === stats {
            counter = kept.counter
        } else {
            counter = stats.counter(plugin: plugin, hook: hook)
            ref.counter = (stats, counter)
        }
        return try measured(counter, body)
    }

    private func measured(_ counter: LuaStats.Counter, _ body: () throws -> [LuaValue]) throws -> [LuaValue] {
        let start = monotonicNanoseconds()
        do {
            let results = try body()
            counter.add(nanoseconds: monotonicNanoseconds() &- start, error: nil, at: 0)
            return results
        } catch {
            let end = monotonicNanoseconds()
            counter.add(nanoseconds: end &- start, error: error, at: end)
            throw error
        }
    }

    /// Calls the function in registry slot `ref` with all results converted.
    private func invoke(ref: Int32, args: [LuaValue], budget: Int, deadlineMs: Int, plugin: String?) throws -> [LuaValue] {
        try invoke(ref: ref, args: args, results: reprise_multret(), budget: budget, deadlineMs: deadlineMs, plugin: plugin, read: allResults)
    }

    /// Every value above `base`, converted; an answer past the conversion allowance is refused, and
    /// so is a function, coroutine or userdata, which no hook or backend answers (it is not "no answer").
    private func allResults(base: Int32) throws -> [LuaValue] {
        let top = lua_gettop(L)
        guard top > base else { return [] }
        for i in (base + 1)...top {
            let type = lua_type(L, i)
            if type == LUA_TFUNCTION || type == LUA_TTHREAD || type == LUA_TUSERDATA || type == LUA_TLIGHTUSERDATA {
                throw LuaError(.runtime, "answered a \(String(cString: lua_typename(L, type))), which is not a value Reprise reads")
            }
        }
        var allowance = conversionAllowance
        let values = ((base + 1)...top).map { LuaStack.value(L, at: $0, depth: 0, allowance: &allowance) }
        guard !allowance.exceeded else { throw LuaError(.memoryLimit, Self.tooLarge) }
        return values
    }

    static let tooLarge = "value too large to convert (over 100000 values or the memory limit in strings; shared subtables count each time they are reached)"

    /// The conversion allowance: 100,000 values, and string bytes within the memory cap.
    private var conversionAllowance: LuaStack.Allowance {
        LuaStack.Allowance(nodes: 100_000, bytes: max(1 << 20, limits.memoryLimitBytes))
    }

    private func invoke<R>(
        ref: Int32, args: [LuaValue], results: Int32, budget: Int, deadlineMs: Int, plugin: String?,
        read: (Int32) throws -> R
    ) throws -> R {
        let L = self.L
        return try invoke(ref: ref, count: args.count, push: { for arg in args { LuaStack.push(L, arg) } }, results: results, budget: budget, deadlineMs: deadlineMs, plugin: plugin, read: read)
    }

    /// Calls the function in registry slot `ref` under a fresh budget and reads its results with
    /// `read(base)`, where results start at `base + 1`; the stack is restored afterwards.
    private func invoke<R>(
        ref: Int32, count: Int, push: () -> Void, results: Int32, budget: Int, deadlineMs: Int, plugin: String?,
        read: (Int32) throws -> R
    ) throws -> R {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        guard lua_checkstack(L, Int32(clamping: count + 8)) != 0 else {
            throw LuaError(.runtime, "too many arguments (\(count))", plugin: plugin)
        }
        lua_rawgeti(L, reprise_registryindex(), lua_Integer(ref)) // [fn]
        push()                                                      // [fn args...]
        reprise_budget_reset(L, Int64(budget), Int64(deadlineMs))
        let status = reprise_pcall(L, Int32(count), results)        // [results...] or [error]
        guard status == LUA_OK else { throw error(status: status, plugin: plugin) }
        // A budget error caught by coroutine.resume still ends the call.
        guard shared.pointee.exhausted == 0 else {
            throw LuaError(.budgetExceeded, shared.pointee.deadline_passed != 0 ? "deadline passed (\(deadlineMs) ms)" : "instruction budget exceeded", plugin: plugin)
        }
        return try read(base)
    }

    private func error(status: Int32, plugin: String?) -> LuaError {
        let message = LuaStack.errorMessage(L)
        let code: LuaError.Code
        if shared.pointee.exhausted != 0 {
            code = .budgetExceeded
        } else if status == LUA_ERRMEM || message.hasSuffix("not enough memory") {
            code = .memoryLimit
        } else if status == LUA_ERRSYNTAX {
            code = .syntax
        } else {
            code = .runtime
        }
        return LuaError(code, message, plugin: plugin)
    }

    // MARK: Setup

    private func runPrelude(_ registry: HostFunctionRegistry) throws {
        let status = Prelude.source.withCString { text in
            reprise_loadtext(L, text, strlen(text), "=reprise.prelude") // [prelude]
        }
        guard status == LUA_OK else {
            throw LuaError(.loadFailed, "prelude: " + LuaStack.errorMessage(L))
        }
        pushHostTable(registry) // [prelude host]
        reprise_budget_reset(L, Int64(limits.loadInstructionBudget), Int64(limits.loadDeadlineMs))
        guard reprise_pcall(L, 1, 1) == LUA_OK else { // [internals] or [error]
            throw LuaError(.loadFailed, "prelude: " + LuaStack.errorMessage(L))
        }
        loadPluginRef = field(ref: "load_plugin")
        callBackendRef = field(ref: "call_backend")
        listBackendsRef = field(ref: "list_backends")
        lua_settop(L, 0) // []
    }

    /// Stores field `name` of the table on top in the registry and returns its reference.
    private func field(ref name: String) -> Int32 {
        lua_getfield(L, -1, name) // [t v]
        return luaL_ref(L, reprise_registryindex()) // [t]
    }

    /// Pushes the raw host table the prelude builds `reprise` from.
    private func pushHostTable(_ registry: HostFunctionRegistry) {
        let sink = registry.logSink
        let clock = registry.clock
        lua_createtable(L, 0, 8) // [host]
        setFunction("log") { args in
            let message = args.count > 2 ? (args[2].stringValue ?? args[2].description) : ""
            sink(args.count > 1 ? args[1].stringValue ?? "info" : "info",
                 args.first?.stringValue ?? "", message, args.count > 3 ? args[3].tableValue ?? [:] : [:])
            return []
        }
        setFunction("now") { _ in [.integer(clock())] }
        setFunction("json_encode") { args in [.string(try JSON.encode(args.first ?? .nil))] }
        setFunction("json_decode") { args in
            guard let text = args.first?.stringValue else { throw JSON.Failure(description: "json.decode: expected a string") }
            return [try JSON.decode(text)]
        }
        lua_pushcclosure(L, reprise_loadfile_in, 0) // [host loadfile]
        lua_setfield(L, -2, "loadfile")              // [host]
        lua_pushcclosure(L, reprise_next, 0)         // [host next]
        lua_setfield(L, -2, "next")                  // [host]
        lua_pushcclosure(L, reprise_rawget, 0)       // [host rawget]
        lua_setfield(L, -2, "rawget")                // [host]

        lua_createtable(L, 0, 0) // [host modules]
        var byModule: [String: [HostFunctionRegistry.Entry]] = [:]
        for entry in registry.functions { byModule[entry.module, default: []].append(entry) }
        for (module, entries) in byModule {
            lua_createtable(L, 0, Int32(clamping: entries.count)) // [host modules m]
            for entry in entries { setFunction(entry.name, entry.function) }
            lua_setfield(L, -2, module) // [host modules]
        }
        lua_setfield(L, -2, "modules") // [host]

        lua_createtable(L, 0, 0) // [host values]
        for (name, value) in registry.values {
            LuaStack.push(L, value)   // [host values v]
            lua_setfield(L, -2, name) // [host values]
        }
        lua_setfield(L, -2, "values") // [host]
    }

    /// Sets field `name` of the table on top to a trampoline for `function`.
    private func setFunction(_ name: String, _ function: @escaping HostFunctionRegistry.Function) {
        functions.append(function)
        reprise_push_host_function(L, lua_Integer(functions.count - 1)) // [t fn]
        lua_setfield(L, -2, name)                                        // [t]
    }

    /// Runs host function `id` for the trampoline on thread `thread`; never raises.
    fileprivate func dispatch(_ thread: OpaquePointer, _ id: Int) -> Int32 {
        let count = lua_gettop(thread)
        var args: [LuaValue] = []
        args.reserveCapacity(Int(count))
        if count > 0 {
            var allowance = conversionAllowance
            for i in 1...count { args.append(LuaStack.value(thread, at: i, depth: 0, allowance: &allowance)) }
            if allowance.exceeded {
                lua_settop(thread, 0)                       // []
                LuaStack.push(thread, string: Self.tooLarge) // [message]
                return -1                                   // raised by the trampoline
            }
        }
        lua_settop(thread, 0) // []
        do {
            let results = try functions[id](args)
            guard lua_checkstack(thread, Int32(clamping: results.count + 2)) != 0 else {
                lua_pushnil(thread)
                LuaStack.push(thread, string: "too many results")
                return 2
            }
            for result in results { LuaStack.push(thread, result) } // [results...]
            return Int32(results.count)
        } catch {
            lua_pushnil(thread) // [nil]
            let message = (error as? LuaError)?.message ?? String(describing: error)
            LuaStack.push(thread, string: message) // [nil message]
            return 2
        }
    }
}

extension LuaVM {
    /// Fills field `key` (0: all) of the context at `table`; see `reprise_context_fn`.
    fileprivate func fillContext(_ thread: OpaquePointer, table: Int32, key: Int32) -> Int32 {
        guard let live = context, let pointer = lua_topointer(thread, table), pointer == live.table else {
            return key == 0 ? 0 : staleRead(thread, table: table, key: key)
        }
        guard lua_checkstack(thread, 8) != 0 else {
            LuaStack.push(thread, string: "hook context: stack overflow")
            return -1
        }
        if key == 0 {
            for i in live.shape.names.indices { fill(thread, field: i, of: table) }
        } else if lua_type(thread, key) == LUA_TSTRING, let i = live.shape.index(of: thread, at: key) {
            fill(thread, field: i, of: table)
        }
        return 0
    }

    private func fill(_ thread: OpaquePointer, field i: Int, of table: Int32) {
        guard let live = context, live.filled & (1 << UInt64(i)) == 0 else { return }
        context?.filled |= 1 << UInt64(i)
        lua_pushvalue(thread, table) // [.. t]
        live.fill(i, LuaTableWriter(L: thread))
        reprise_pop(thread, 1)       // [..]
    }

    /// A context kept past its call: a field read then is there; any other named read fails.
    private func staleRead(_ thread: OpaquePointer, table: Int32, key: Int32) -> Int32 {
        guard lua_type(thread, key) == LUA_TSTRING, lua_checkstack(thread, 2) != 0 else { return 0 }
        lua_pushvalue(thread, key)  // [.. k]
        let present = lua_rawget(thread, table) != LUA_TNIL // [.. v]
        reprise_pop(thread, 1)      // [..]
        if present { return 0 }
        LuaStack.push(thread, string: "hook context field '\(LuaStack.string(thread, at: key))' read after the hook returned: a kept context holds only the fields read during the call")
        return -1
    }
}

/// The C context hook's entry into Swift.
private func luaContextFill(_ L: OpaquePointer?, _ owner: UnsafeMutableRawPointer?, _ table: Int32, _ key: Int32) -> Int32 {
    guard let L, let owner else { return 0 }
    return Unmanaged<LuaVM>.fromOpaque(owner).takeUnretainedValue().fillContext(L, table: table, key: key)
}

/// The C trampoline's entry into Swift.
private func luaHostDispatch(_ L: OpaquePointer?, _ owner: UnsafeMutableRawPointer?, _ id: lua_Integer) -> Int32 {
    guard let L, let owner else { return 0 }
    let vm = Unmanaged<LuaVM>.fromOpaque(owner).takeUnretainedValue()
    return vm.dispatch(L, Int(id))
}

/// Nanoseconds on the monotonic clock.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
