import Dispatch
import Logging
import LuaHost
import RepriseCore
import Synchronization
import RepriseSync

/// The enabled Lua plugins as Reprise's token policy, expiry rules and event sink.
///
/// Policy hooks run inline on the caller's thread through a pool of VMs, each call under the
/// instruction budget; events run on a queue of their own and never block a request. Hooks are
/// consulted in `plugins.enabled` order. Failures follow the issue's semantics: an authorize or
/// issue hook that fails denies, a failing `session_collect` keeps the session, a failing
/// `session_ttl` or `session_extend` gives the built-in default; each is logged and counted.
///
/// ```swift
/// let plugins = try PluginHost(settings: PluginSettings(paths: ["plugins"]), logger: logger)
/// if case .deny(let why) = plugins.authorize(token: t, user: u, request: facts, songId: 7, song: song) { ... }
/// ```
public final class PluginHost: TokenPolicy, ExpiryRules, EventSink, AutoplayChooser, Sendable {
    /// The settings the running plugins were found and limited with.
    public var settings: PluginSettings { current.withLock { $0 } }
    private let current: Locked<PluginSettings>
    /// Reads the settings again on reload (the config file's `plugins:` section); nil keeps them.
    private let settingsSource: (@Sendable () throws -> PluginSettings)?
    /// The pool of VMs, replaced as a whole on reload.
    public let host: LuaPlugins

    private let logger: Logger
    private let eventQueue = DispatchQueue(label: "reprise.plugins.events")
    private let pendingEvents = Atomic<Int>(0)
    private let contractErrors = Locked<[LuaCallKey: Int]>([:])
    private let routes = Locked<Routing?>(nil)
    /// The mean cost of a `token_authorize` round, in ns (a moving average over the last calls).
    private let authorizeMeanNs = Atomic<UInt64>(0)
    /// `token_authorize` rounds an event loop handed on instead of running or finishing them.
    public let inlineHandedOn = Atomic<Int>(0)
    /// The longest an event loop spent in `authorizeInline`, in ns: the measured bound.
    public let inlineLongestNs = Atomic<UInt64>(0)
    /// Events queued beyond this are dropped (and logged) rather than piling up behind a slow plugin.
    static let maxPendingEvents = 10_000

    /// Finds and loads every enabled plugin; throws a ``PluginError`` naming file and line.
    public init(
        settings: PluginSettings, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = HostFunctionRegistry.wallClockMilliseconds,
        reloadSettings: (@Sendable () throws -> PluginSettings)? = nil
    ) throws {
        current = Locked(settings)
        settingsSource = reloadSettings
        self.logger = logger
        let found = PluginDiscovery.discover(settings)
        if let problem = found.problems.first { throw problem }
        for warning in found.warnings { logger.warning("\(warning)") }
        if !found.skipped.isEmpty {
            logger.debug("default plugins not found; built-in defaults apply", metadata: ["plugin.names": "\(found.skipped.joined(separator: ","))"])
        }
        let registry = Self.registry(logger: logger, clock: clock)
        do {
            host = try LuaPlugins(
                plugins: found.sources, limits: settings.limits, registry: registry,
                size: settings.poolSize, maxSize: settings.poolSize * 2)
        } catch let error as LuaError {
            throw PluginError(error)
        }
        try Self.checkHooks(host.plugins, sources: found.sources)
    }

    /// Fails on a hook name Reprise does not know (a misspelt `token_authorise` would leave the policy off),
    /// as `reprise plugin check` does.
    static func checkHooks(_ plugins: [PluginInfo], sources: [PluginSource]) throws {
        for p in plugins {
            for hook in p.hooks where !Hooks.names.contains(hook) {
                let file = sources.first { $0.name == p.name }?.path ?? p.name
                throw PluginError(.load, "\(file): unknown hook '\(hook)' (known: \(Hooks.names.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// The host API every policy VM gets: logging into `logger`, `reprise.now()` from `clock`.
    static func registry(logger: Logger, clock: @escaping @Sendable () -> Int64) -> HostFunctionRegistry {
        HostFunctionRegistry(clock: clock) { level, plugin, message, fields in
            var metadata: Logger.Metadata = ["plugin.name": "\(plugin)"]
            for (k, v) in fields { metadata["plugin.\(k)"] = "\(v.stringValue ?? v.description)" }
            let lvl: Logger.Level = switch level {
            case "debug": .debug
            case "warn": .warning
            case "error": .error
            default: .info
            }
            logger.log(level: lvl, "\(message)", metadata: metadata)
        }
    }

    // MARK: Reload and reports

    /// Reads the settings again (when built with `reloadSettings`), finds the plugin files again,
    /// loads them in fresh VMs and swaps them in only if all load; the pool size stays.
    public func reload() throws {
        do {
            let fresh = try settingsSource?() ?? settings
            let sources = try PluginDiscovery.sources(fresh)
            try host.reload(plugins: sources, limits: fresh.limits) { try Self.checkHooks($0, sources: sources) }
            current.withLock { $0 = fresh }
        } catch {
            let failure = (error as? LuaError).map(PluginError.init) ?? (error as? PluginError) ?? PluginError(.load, "\(error)")
            logger.error("plugin reload failed; the running plugins stay", metadata: ["plugin.error": "\(failure.message)"])
            throw failure
        }
        logger.notice("plugins reloaded", metadata: ["plugin.names": "\(host.plugins.map(\.name).joined(separator: ","))"])
    }

    /// The loaded plugins with their hooks, versions and call statistics.
    public func report() -> [PluginReport] {
        let pool = host.pool
        let stats = pool.stats.snapshot()
        let contract = contractErrors.withLock { $0 }
        return pool.plugins.map { p in
            let hooks = p.hooks.map { hook -> PluginReport.Hook in
                let key = LuaCallKey(plugin: p.name, hook: hook)
                let s = stats[key] ?? LuaHookStats()
                return PluginReport.Hook(name: hook, calls: s.calls, errors: s.errors + (contract[key] ?? 0), timeMs: Double(s.totalNanoseconds) / 1e6)
            }
            let file = pool.sources.first { $0.name == p.name }?.path ?? ""
            let latest = p.hooks.compactMap { stats[LuaCallKey(plugin: p.name, hook: $0)] }.filter { $0.lastError != nil }.max { $0.lastErrorAt < $1.lastErrorAt }
            var report = PluginReport(name: p.name, version: p.version, file: file, hooks: hooks)
            report.lastError = latest?.lastError.map(Redactor.redact)
            return report
        }
    }

    /// Waits until every event queued so far has been delivered.
    public func flushEvents() {
        eventQueue.sync {}
    }

    // MARK: TokenPolicy

    /// `token_issue` of every plugin: any deny or failure denies; the shortest `ttl_seconds` wins.
    public func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision {
        var ttl: Int64?
        var denial: String?
        let called = each("token_issue", HookContext.issue(ctx)) { plugin, result in
            switch result {
            case .failure(let error):
                failed(plugin, "token_issue", error, outcome: "denied")
                denial = "the token policy failed"
                return false
            case .success(let values):
                let first = values.first ?? .nil
                if first.isNil {
                    if let reason = values.dropFirst().first?.stringValue {
                        denial = reason
                    } else {
                        violated(plugin, "token_issue", "must return a table, or nil and a reason", outcome: "denied")
                        denial = "the token policy failed"
                    }
                    return false
                }
                guard let fields = first.tableValue else {
                    violated(plugin, "token_issue", "must return a table, or nil and a reason", outcome: "denied")
                    denial = "the token policy failed"
                    return false
                }
                if let raw = fields["ttl_seconds"] {
                    guard let seconds = raw.intValue, seconds > 0, Int64(exactly: seconds).flatMap({ Lifetime(seconds: $0) }) != nil else {
                        violated(plugin, "token_issue", "ttl_seconds must be an integer in 1...\(Lifetime.maxSeconds)", outcome: "denied")
                        denial = "the token policy failed"
                        return false
                    }
                    ttl = min(ttl ?? Int64(seconds), Int64(seconds))
                }
                return true
            }
        }
        if let denial { return .deny(reason: denial) }
        return .issue(ttlSeconds: called ? ttl : ctx.requestedTTLSeconds)
    }

    /// The longest a `token_authorize` round runs on an event loop; past it the request is handed on.
    public static let inlineDeadlineMs = 5
    /// The mean round cost above which an event loop hands the request on without running the hook.
    public static let inlineMeanBoundNs: UInt64 = 500_000

    /// Whether any plugin defines `token_authorize` (Lua then runs for every stream).
    public var authorizeMayBlock: Bool { !route("token_authorize").names.isEmpty }

    /// `token_authorize` of every plugin: all must answer `true`; a failure or budget overrun denies.
    ///
    /// May wait for a VM: call it from a thread that may block (`authorizeOffPool` does).
    public func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision {
        let (pool, names) = route("token_authorize")
        guard !names.isEmpty else { return .allow }
        do {
            return try pool.withVM { vm in
                authorizeRound(vm, names, token: token, user: user, request: request, songId: songId, song: song, handOnAtDeadline: false) ?? .deny(reason: "the token policy failed")
            }
        } catch {
            failed(names[0], "token_authorize", error as? LuaError ?? LuaError(.loadFailed, "\(error)"), outcome: "denied")
            return .deny(reason: "the token policy failed")
        }
    }

    /// `authorize` for an event loop: on an idle VM only, within `inlineDeadlineMs`, and only while
    /// rounds cost at most `inlineMeanBoundNs` on average; nil hands the request on (it never waits).
    public func authorizeInline(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision? {
        let (pool, names) = route("token_authorize")
        guard !names.isEmpty else { return .allow }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { inlineLongestNs.max(DispatchTime.now().uptimeNanoseconds &- start, ordering: .relaxed) }
        guard authorizeMeanNs.load(ordering: .relaxed) <= Self.inlineMeanBoundNs,
              let answer = pool.tryWithVM({ vm -> AuthorizeDecision? in
                  vm.deadlineOverrideMs = Self.inlineDeadlineMs
                  defer { vm.deadlineOverrideMs = nil }
                  return authorizeRound(vm, names, token: token, user: user, request: request, songId: songId, song: song, handOnAtDeadline: true)
              }), let decision = answer
        else {
            inlineHandedOn.add(1, ordering: .relaxed)
            return nil
        }
        return decision
    }

    /// One round of every plugin's `token_authorize` on `vm`; nil when `handOnAtDeadline` and the
    /// shortened deadline passed (not a failure: the round runs again where it may take longer).
    private func authorizeRound(
        _ vm: LuaVM, _ names: [String], token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?, handOnAtDeadline: Bool
    ) -> AuthorizeDecision? {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let spent = DispatchTime.now().uptimeNanoseconds &- start
            let mean = authorizeMeanNs.load(ordering: .relaxed)
            authorizeMeanNs.store(mean == 0 ? spent : mean - mean / 8 + spent / 8, ordering: .relaxed)
        }
        for name in names {
            let values: [LuaValue]
            do {
                // This runs on every stream request: each field of the context is built only if the policy reads it.
                values = try vm.call(plugin: name, hook: "token_authorize", context: HookContext.authorizeShape) { field, t in
                    HookContext.authorize(field, t, token: token, user: user, request: request, song: song, songId: songId)
                }
            } catch {
                if handOnAtDeadline, vm.lastCallPassedDeadline { return nil }
                failed(name, "token_authorize", error as? LuaError ?? LuaError(.runtime, "\(error)", plugin: name), outcome: "denied")
                return .deny(reason: "the token policy failed")
            }
            switch values.first ?? .nil {
            case .bool(true):
                continue
            case .bool(false):
                return .deny(reason: values.dropFirst().first?.stringValue ?? "refused by plugin \(name)")
            default:
                violated(name, "token_authorize", "must return true, or false and a reason", outcome: "denied")
                return .deny(reason: "the token policy failed")
            }
        }
        return .allow
    }

    // MARK: AutoplayChooser

    /// `autoplay_next` of the first plugin that answers: at most `ctx.want` (and 1000) positive song ids.
    public func autoplayNext(_ ctx: AutoplayContext) -> [Int64]? {
        var ids: [Int64]?
        each("autoplay_next", HookContext.autoplay(ctx)) { plugin, result in
            switch result {
            case .failure(let error):
                failed(plugin, "autoplay_next", error, outcome: "built-in autoplay")
            case .success(let values):
                let v = values.first ?? .nil
                if v.isNil { return true }
                let list = v.arrayValue?.compactMap { $0.intValue.flatMap { $0 > 0 ? Int64($0) : nil } }
                guard let list, list.count == v.arrayValue?.count, list.count <= 1000 else {
                    violated(plugin, "autoplay_next", "must return a list of song ids (positive integers, at most 1000) or nil", outcome: "built-in autoplay")
                    return true
                }
                ids = Array(list.prefix(max(0, ctx.want)))
                return false
            }
            return true
        }
        return ids
    }

    // MARK: ExpiryRules

    /// `session_ttl` of every plugin, in seconds; the last answer wins, failures count as no answer.
    public func ttl(for session: SessionInfo) -> Int64? {
        var ttl: Int64?
        each("session_ttl", HookContext.session(session)) { plugin, result in
            switch result {
            case .failure(let error):
                failed(plugin, "session_ttl", error, outcome: "default ttl")
            case .success(let values):
                let v = values.first ?? .nil
                if v.isNil { return true }
                if let seconds = v.doubleValue, seconds > 0, let l = Lifetime(seconds: seconds) {
                    ttl = l.ms
                } else {
                    violated(plugin, "session_ttl", "must return a number of seconds in 1...\(Lifetime.maxSeconds) or nil", outcome: "default ttl")
                }
            }
            return true
        }
        return ttl
    }

    /// `session_extend` of every plugin, as an expiry in ms; the last answer wins.
    public func extend(_ session: SessionInfo, now: Int64) -> Int64? {
        var expiry: Int64?
        each("session_extend", HookContext.session(session), .integer(now)) { plugin, result in
            switch result {
            case .failure(let error):
                failed(plugin, "session_extend", error, outcome: "default extension")
            case .success(let values):
                let v = values.first ?? .nil
                if v.isNil { return true }
                if let ms = v.doubleValue, ms.isFinite, abs(ms) < 9e15 {
                    expiry = Int64(ms)
                } else {
                    violated(plugin, "session_extend", "must return an expiry in ms or nil", outcome: "default extension")
                }
            }
            return true
        }
        return expiry
    }

    /// `session_collect` of every plugin for an expired session: any `false`, failure or bad answer spares it.
    public func spareExpired(_ session: SessionInfo, now: Int64) -> Bool {
        var spare = false
        each("session_collect", HookContext.session(session), .integer(now)) { plugin, result in
            switch result {
            case .failure(let error):
                failed(plugin, "session_collect", error, outcome: "kept")
                spare = true
            case .success(let values):
                switch values.first ?? .nil {
                case .bool(true), .nil: return true
                case .bool(false): spare = true
                default:
                    violated(plugin, "session_collect", "must return a boolean", outcome: "kept")
                    spare = true
                }
            }
            return !spare
        }
        return spare
    }

    /// True while a loaded plugin defines `session_collect`.
    public var judgesExpired: Bool { !route("session_collect").names.isEmpty }

    // MARK: EventSink

    /// True while a loaded plugin defines `on_session_collected`.
    public var observesCollections: Bool { !route("on_session_collected").names.isEmpty }

    /// Queues `on_session_created`.
    public func sessionCreated(_ session: SessionInfo) { emit("on_session_created") { HookContext.session(session) } }

    /// Queues `on_session_collected`.
    public func sessionCollected(_ session: SessionInfo) { emit("on_session_collected") { HookContext.session(session) } }

    /// Queues `on_stream_started`.
    public func streamStarted(_ stream: StreamRecord) { emit("on_stream_started") { HookContext.stream(stream) } }

    /// Queues `on_stream_finished`.
    public func streamFinished(_ stream: StreamRecord) { emit("on_stream_finished") { HookContext.stream(stream) } }

    /// Runs `hook` of every plugin that defines it on the event queue; failures are only logged.
    private func emit(_ hook: String, _ argument: @escaping @Sendable () -> LuaValue) {
        guard !route(hook).names.isEmpty else { return }
        guard pendingEvents.add(1, ordering: .relaxed).newValue <= Self.maxPendingEvents else {
            pendingEvents.subtract(1, ordering: .relaxed)
            logger.warning("plugin event dropped: too many queued", metadata: ["plugin.hook": "\(hook)"])
            return
        }
        eventQueue.async { [self] in
            defer { pendingEvents.subtract(1, ordering: .relaxed) }
            each(hook, argument()) { plugin, result in
                if case .failure(let error) = result { failed(plugin, hook, error, outcome: "ignored") }
                return true
            }
        }
    }

    // MARK: Calling

    /// Calls `hook` of each plugin defining it, in order, on one VM, until `body` answers false;
    /// returns whether any plugin defines the hook.
    @discardableResult
    private func each(_ hook: String, _ args: @autoclosure () -> LuaValue, _ extra: LuaValue? = nil, _ body: (String, Result<[LuaValue], LuaError>) -> Bool) -> Bool {
        var arguments: [LuaValue] = []
        return each(hook, prepare: {
            arguments = [args()]
            if let extra { arguments.append(extra) }
        }, call: { vm, name in try vm.call(plugin: name, hook: hook, args: arguments) }, body)
    }

    /// The loop of `each`: `prepare` runs once if any plugin defines the hook, `call` once per plugin.
    @discardableResult
    private func each(
        _ hook: String, prepare: () -> Void, call: (LuaVM, String) throws -> [LuaValue], _ body: (String, Result<[LuaValue], LuaError>) -> Bool
    ) -> Bool {
        let (pool, names) = route(hook)
        guard !names.isEmpty else { return false }
        prepare()
        do {
            try pool.withVM { vm in
                for name in names {
                    let result: Result<[LuaValue], LuaError>
                    do {
                        result = .success(try call(vm, name))
                    } catch let error as LuaError {
                        result = .failure(error)
                    } catch {
                        result = .failure(LuaError(.runtime, "\(error)", plugin: name))
                    }
                    if !body(name, result) { break }
                }
            }
        } catch {
            let e = error as? LuaError ?? LuaError(.loadFailed, "\(error)")
            _ = body(names[0], .failure(e))
        }
        return true
    }

    /// The current pool and the plugins of it that define `hook`, in order; indexed once per pool.
    private func route(_ hook: String) -> (pool: LuaPool, names: [String]) {
        let routing = routing()
        return (routing.pool, hook == "token_authorize" ? routing.authorize : routing.byHook[hook] ?? [])
    }

    private func routing() -> Routing {
        let pool = host.pool
        return routes.withLock { current -> Routing in
            if let current, current.pool === pool { return current }
            var byHook: [String: [String]] = [:]
            for p in pool.plugins {
                for h in p.hooks { byHook[h, default: []].append(p.name) }
            }
            let made = Routing(pool: pool, byHook: byHook)
            current = made
            return made
        }
    }

    /// Which plugins of a pool define each hook.
    private struct Routing: Sendable {
        let pool: LuaPool
        let byHook: [String: [String]]
        /// `byHook["token_authorize"]`, looked up once: it runs on every stream request.
        let authorize: [String]

        init(pool: LuaPool, byHook: [String: [String]]) {
            self.pool = pool
            self.byHook = byHook
            authorize = byHook["token_authorize"] ?? []
        }
    }

    /// Logs a failed hook call with plugin, file and line; Lua already counted it.
    private func failed(_ plugin: String, _ hook: String, _ error: LuaError, outcome: String) {
        let (file, line) = location(of: error.message, plugin: plugin)
        logger.warning("plugin hook failed", metadata: [
            "plugin.name": "\(plugin)", "plugin.hook": "\(hook)", "plugin.file": "\(file)", "plugin.line": "\(line)",
            "plugin.error_code": "\(error.code)", "plugin.error": "\(error.message)", "plugin.outcome": "\(outcome)",
        ])
    }

    /// Logs and counts a hook that returned something its contract does not allow.
    private func violated(_ plugin: String, _ hook: String, _ what: String, outcome: String) {
        contractErrors.withLock { $0[LuaCallKey(plugin: plugin, hook: hook), default: 0] += 1 }
        let file = host.pool.sources.first { $0.name == plugin }?.path ?? plugin
        logger.warning("plugin hook returned a bad value", metadata: [
            "plugin.name": "\(plugin)", "plugin.hook": "\(hook)", "plugin.file": "\(file)",
            "plugin.error": "\(hook) \(what)", "plugin.outcome": "\(outcome)",
        ])
    }

    /// The `file` and `line` a Lua message starts with, else the plugin's file and `?`.
    func location(of message: String, plugin: String) -> (file: String, line: String) {
        let parts = message.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count > 2 {
            for i in 1..<(parts.count - 1) where !parts[i].isEmpty && parts[i].allSatisfy(\.isNumber) {
                var file = parts[..<i].joined(separator: ":")
                // Lua shortens long chunk names to "...tail"; give the whole path back.
                if file.hasPrefix("..."), let full = host.pool.sources.first(where: { $0.path.hasSuffix(file.dropFirst(3)) }) {
                    file = full.path
                }
                return (file, String(parts[i]))
            }
        }
        return (host.pool.sources.first { $0.name == plugin }?.path ?? plugin, "?")
    }
}

/// One plugin as `GET /api/v1/admin/plugins` lists it.
public struct PluginReport: Sendable, Equatable, Encodable {
    /// One hook's counters.
    public struct Hook: Sendable, Equatable, Encodable {
        public var name: String
        public var calls: Int
        public var errors: Int
        public var timeMs: Double
    }

    public var name: String
    public var version: String?
    public var file: String
    public var hooks: [Hook]
    /// The latest error of any hook, with the plugin's file:line when Lua gave one (credentials redacted).
    public var lastError: String?
    /// Calls over all hooks.
    public var calls: Int { hooks.reduce(0) { $0 + $1.calls } }
    /// Errors over all hooks.
    public var errors: Int { hooks.reduce(0) { $0 + $1.errors } }
    /// Time spent in all hooks, ms.
    public var timeMs: Double { hooks.reduce(0) { $0 + $1.timeMs } }

    enum CodingKeys: String, CodingKey { case name, version, file, hooks, calls, errors, timeMs, lastError }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(version, forKey: .version)
        try c.encode(file, forKey: .file)
        try c.encode(hooks, forKey: .hooks)
        try c.encode(calls, forKey: .calls)
        try c.encode(errors, forKey: .errors)
        try c.encode(timeMs, forKey: .timeMs)
        try c.encodeIfPresent(lastError, forKey: .lastError)
    }
}
