import Dispatch
import LuaHost
import MPDClient
import RepriseCore
import Synchronization
import RepriseSync

/// `reprise.mpd`: libmpdclient for Lua backends. Calls block the player's thread (never the
/// cooperative pool) until MPD answers; failures return `nil, err`.
///
/// ```lua
/// local c = assert(reprise.mpd.connect("127.0.0.1", 6600, nil, 5000))
/// reprise.mpd.add(c, url); reprise.mpd.play(c, 0)
/// ```
final class MPDHostModule: LuaHostModule {
    var namespace: String { "mpd" }
    private let connections = Locked<[Int64: MPDConnection]>([:])
    private let nextId = Atomic<Int64>(1)
    /// The `idle` in progress, and whether one was interrupted before it began.
    private let idling = Locked<(task: Task<Set<MPDIdleEvent>, any Error>?, interrupted: Bool)>((nil, false))

    func interrupt() {
        idling.withLock { i in
            if let t = i.task { t.cancel() } else { i.interrupted = true }
        }
    }

    func closeAll() {
        let all = connections.withLock { c in defer { c.removeAll() }; return Array(c.values) }
        all.forEach { $0.close() }
    }

    /// Waits for async MPD work from a synchronous host function (on the player's own thread).
    private func blocking<T: Sendable>(_ op: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Locked<Result<T, any Error>?>(nil)
        Task {
            let r: Result<T, any Error>
            do { r = .success(try await op()) } catch { r = .failure(error) }
            box.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }

    private func connection(_ args: [LuaValue]) throws -> MPDConnection {
        guard let id = args.first?.intValue, let c = connections.withLock({ $0[Int64(id)] }) else {
            throw BackendError("not an open MPD connection")
        }
        return c
    }

    func register(into registry: inout HostFunctionRegistry) {
        registry.register("mpd", "connect") { [self] args in
            let host = args.count > 0 ? args[0].stringValue ?? "127.0.0.1" : "127.0.0.1"
            let port = args.count > 1 ? args[1].intValue ?? 6600 : 6600
            let password = args.count > 2 ? args[2].stringValue : nil
            let timeout = args.count > 3 ? args[3].intValue ?? 5000 : 5000
            let c = try blocking { try await MPDConnection.connect(host: host, port: port, password: password, timeoutMs: timeout) }
            let id = nextId.wrappingAdd(1, ordering: .relaxed).oldValue
            connections.withLock { $0[id] = c }
            return [.integer(id)]
        }
        registry.register("mpd", "close") { [self] args in
            if let id = args.first?.intValue { connections.withLock { $0.removeValue(forKey: Int64(id)) }?.close() }
            return [.bool(true)]
        }
        // MPD refusing a command (ACK) leaves the connection usable: `nil, err`. A broken
        // connection adds a third value, true, so the backend drops it and the supervisor reconnects.
        func simple(_ name: String, _ op: @escaping @Sendable (MPDConnection, [LuaValue]) async throws -> Void) {
            registry.register("mpd", name) { [self] args in
                let c = try connection(args)
                do {
                    try blocking { try await op(c, Array(args.dropFirst())) }
                } catch let e as MPDError {
                    return [.nil, .string(e.description), .bool(c.isBroken || c.isClosed)]
                }
                return [.bool(true)]
            }
        }
        // add(conn, url[, tags]): tags {Artist=, Album=, Title=, Track=} are set with addtagid, so every
        // MPD client shows the song, not its URL; a tag MPD refuses leaves the entry queued.
        registry.register("mpd", "add") { [self] args in
            let c = try connection(args)
            guard args.count > 1, let uri = args[1].stringValue else { throw BackendError("add(conn, url) needs a url") }
            var tags: [(MPDTag, String)] = []
            if args.count > 2 {
                for tag in MPDTag.allCases {
                    if let v = args[2][tag.rawValue].stringValue ?? args[2][tag.rawValue].intValue.map(String.init), !v.isEmpty {
                        tags.append((tag, String(StoredText.singleLine(v).prefix(256))))
                    }
                }
            }
            let id: Int
            do {
                id = try blocking { try await c.add(uri: uri) }
            } catch let e as MPDError {
                // MPD refusing the URL keeps the connection: `nil, err`; a broken one adds `true`.
                return [.nil, .string(e.description), .bool(c.isBroken || c.isClosed)]
            }
            for (tag, value) in tags { try? blocking { try await c.addTag(id: id, tag, value) } }
            return [.integer(Int64(id))]
        }
        simple("clear") { c, _ in try await c.clear() }
        simple("delete") { c, a in try await c.delete(position: a.first?.intValue ?? 0) }
        simple("move") { c, a in try await c.move(from: a.first?.intValue ?? 0, to: a.count > 1 ? a[1].intValue ?? 0 : 0) }
        simple("play") { c, a in try await c.play(position: a.first?.intValue) }
        simple("pause") { c, a in try await c.pause(a.first?.boolValue ?? true) }
        simple("stop") { c, _ in try await c.stop() }
        simple("next") { c, _ in try await c.next() }
        simple("previous") { c, _ in try await c.previous() }
        simple("seek") { c, a in try await c.seek(position: a.first?.intValue ?? 0, ms: a.count > 1 ? a[1].intValue ?? 0 : 0) }
        simple("set_volume") { c, a in try await c.setVolume(a.first?.intValue ?? 0) }
        simple("clear_error") { c, _ in try await c.clearError() }
        registry.register("mpd", "status") { [self] args in
            let c = try connection(args)
            let s = try blocking { try await c.status() }
            var t: [String: LuaValue] = [
                "state": .string(s.state.rawValue), "elapsed_ms": .integer(Int64(s.elapsedMs ?? 0)), "duration_ms": .integer(Int64(s.durationMs ?? 0)),
                "queue_length": .integer(Int64(s.queueLength)), "queue_version": .integer(Int64(s.queueVersion)),
            ]
            if let p = s.songPosition { t["position"] = .integer(Int64(p)) }
            if let id = s.songID { t["song_id"] = .integer(Int64(id)) }
            if let v = s.volume { t["volume"] = .integer(Int64(v)) }
            if let e = s.error { t["error"] = .string(e) }
            return [.table(t)]
        }
        // idle(conn, timeout_ms): the subsystems that changed (`{"playlist", "player"}`), or `{}` after
        // the timeout or when a command is waiting (`interrupt`); the connection stays usable.
        registry.register("mpd", "idle") { [self] args in
            let c = try connection(args)
            let timeout = min(max(args.count > 1 ? args[1].intValue ?? 250 : 250, 1), 60_000)
            let task: Task<Set<MPDIdleEvent>, any Error>? = idling.withLock { i in
                if i.interrupted { i.interrupted = false; return nil }
                let t = Task { try await c.idle([.player, .playlist, .mixer, .options], timeoutMs: timeout) }
                i.task = t
                return t
            }
            guard let task else { return [.array([])] }
            defer { idling.withLock { $0.task = nil } }
            do {
                let events = try blocking { try await task.value }
                return [.array(events.map(\.rawValue).sorted().map(LuaValue.string))]
            } catch is CancellationError {
                return [.array([])]
            } catch let e as MPDError {
                return [.nil, .string(e.description), .bool(c.isBroken || c.isClosed)]
            }
        }
        registry.register("mpd", "queue") { [self] args in
            let c = try connection(args)
            let items = try blocking { try await c.queue() }
            return [.array(items.map { .table(["position": .integer(Int64($0.position)), "id": .integer(Int64($0.id)), "url": .string($0.uri), "title": .string($0.title ?? ""), "duration_ms": .integer(Int64($0.durationMs ?? 0))]) })]
        }
    }
}
