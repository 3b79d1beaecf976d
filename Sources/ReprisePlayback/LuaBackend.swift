import Dispatch
import Foundation
import Logging
import LuaHost
import RepriseCore
import ReprisePlugins
import RepriseSync

/// A player backend written in Lua: one VM on the player's own thread, where blocking host calls (MPD, HTTP) may run.
final class LuaBackend: PlayerBackend, @unchecked Sendable {
    /// The player's own thread; the VM and every blocking call live here.
    private let queue: DispatchQueue
    /// Touched only on `queue`.
    private let vm: LuaVM
    private let plugin: String
    private let backend: String
    private let cfg: LuaValue
    /// `BackendHostModules`: what the plugin reaches through `reprise.<namespace>`.
    private let modules: [any LuaHostModule]

    init(player: PlayerConfig, pluginPaths: [String], limits: LuaLimits, logger: Logger) throws {
        guard let file = PluginDiscovery.backendFile(named: player.backend, in: pluginPaths) else {
            throw RepriseError(.config, "player \(player.name): no backend plugin backends/\(player.backend).lua in \(pluginPaths.joined(separator: ", "))")
        }
        queue = DispatchQueue(label: "reprise.player.\(player.name)")
        plugin = "backend_\(player.backend)"
        var settings: [String: LuaValue] = [:]
        for (k, v) in player.settings { settings[k] = Int64(v).map(LuaValue.integer) ?? .string(v) }
        cfg = .table(settings)
        modules = BackendHostModules.make(for: player)
        var registry = HostFunctionRegistry(logSink: { level, plugin, message, fields in
            logger.log(level: Logger.Level(rawValue: level == "warn" ? "warning" : level) ?? .info, "\(message)", metadata: ["plugin.name": "\(plugin)", "player.name": "\(player.name)"])
        })
        for module in modules { module.register(into: &registry) }
        vm = try LuaVM(limits: limits, registry: registry)
        try vm.load(plugins: [PluginSource(path: file, name: plugin, config: cfg)])
        guard let name = vm.backends(plugin: plugin).first else {
            throw RepriseError(.config, "\(file): the plugin registers no backend (reprise.backend.register{...})")
        }
        backend = name
    }

    /// Whether a `wait` is running on the player's thread, and whether the backend has one.
    private let waiting = Locked<(now: Bool, supported: Bool)>((false, true))

    /// Calls a backend function on the player's thread; `nil, err` becomes a thrown `BackendError`.
    ///
    /// A command arriving while `wait` blocks the thread interrupts it, so it runs at once.
    func call(_ function: String, _ args: [LuaValue] = []) async throws -> [LuaValue] {
        if function != "wait", waiting.withLock({ $0.now }) { for m in modules { m.interrupt() } }
        return try await withCheckedThrowingContinuation { c in
            queue.async { [self] in
                do {
                    let r = try vm.callBackend(plugin: plugin, backend: backend, function: function, args: args)
                    if r.first == nil || r.first == .nil, r.count > 1 {
                        c.resume(throwing: BackendError(r[1].stringValue ?? "\(function) failed", refused: r.count > 2 && r[2].stringValue == "refused"))
                    } else {
                        c.resume(returning: r)
                    }
                } catch {
                    c.resume(throwing: BackendError("\(function): \(error)"))
                }
            }
        }
    }

    func connect() async throws { _ = try await call("connect", [cfg]) }

    func enqueue(_ items: [PlayItem]) async throws {
        let list: [LuaValue] = items.map { item in
            var t: [String: LuaValue] = [
                "url": .string(item.url), "song_id": .integer(item.songId), "title": .string(item.title), "duration_ms": .integer(item.durationMs),
                "artist": .string(item.artist), "album": .string(item.album),
            ]
            if let track = item.track { t["track"] = .integer(Int64(track)) }
            return .table(t)
        }
        _ = try await call("enqueue", [.array(list)])
    }

    func play(position: Int?) async throws { _ = try await call("play", position.map { [.integer(Int64($0))] } ?? []) }
    func pause() async throws { _ = try await call("pause") }
    func stop() async throws { _ = try await call("stop") }
    func next() async throws { _ = try await call("next") }
    func previous() async throws { _ = try await call("previous") }
    func clear() async throws { _ = try await call("clear") }
    func delete(position: Int) async throws { _ = try await call("delete", [.integer(Int64(position))]) }
    func move(from: Int, to: Int) async throws -> Bool {
        do {
            _ = try await call("move", [.integer(Int64(from)), .integer(Int64(to))])
            return true
        } catch let e as BackendError where e.message.contains("has no function 'move'") {
            return false
        }
    }
    func seek(position: Int, ms: Int64) async throws { _ = try await call("seek", [.integer(Int64(position)), .integer(ms)]) }
    func setVolume(_ volume: Int) async throws { _ = try await call("set_volume", [.integer(Int64(volume))]) }

    func status() async throws -> BackendStatus {
        let t = try await call("status").first ?? .nil
        let state = BackendStatus.State(rawValue: t["state"].stringValue ?? "stop") ?? .stop
        return BackendStatus(
            state: state, position: t["position"].intValue, elapsedMs: Int64(t["elapsed_ms"].intValue ?? 0),
            durationMs: Int64(t["duration_ms"].intValue ?? 0), volume: t["volume"].intValue,
            error: t["error"].stringValue.flatMap { $0.isEmpty ? nil : $0 }, queueLength: t["queue_length"].intValue ?? 0,
            queueKnown: t["queue_length"].intValue != nil, queueVersion: t["queue_version"].intValue.map(Int64.init))
    }

    func queue() async throws -> [BackendQueueEntry] {
        let list = try await call("queue").first?.arrayValue ?? []
        return list.enumerated().map { i, e in BackendQueueEntry(position: e["position"].intValue ?? i, url: e["url"].stringValue ?? "") }
    }

    /// Waits for a change of the player (the backend's `wait`, MPD's `idle`) for at most `ms`;
    /// false when the backend has no `wait` or it failed, so the caller sleeps instead.
    func wait(ms: Int) async -> Bool {
        guard waiting.withLock({ w in w.supported ? { w.now = true; return true }() : false }) else { return false }
        defer { waiting.withLock { $0.now = false } }
        do {
            _ = try await call("wait", [.integer(Int64(ms))])
            return true
        } catch {
            if "\(error)".contains("has no function 'wait'") { waiting.withLock { $0.supported = false } }
            return false
        }
    }

    func disconnect() async {
        _ = try? await call("disconnect")
        for module in modules { module.closeAll() }
    }
}
