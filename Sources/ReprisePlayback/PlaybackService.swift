import Foundation
import Logging
import LuaHost
import RepriseCore
import ServiceLifecycle

/// Runs a supervisor per configured player, until shutdown.
public final class Playback: Service, Sendable {
    public let supervisors: [String: PlayerSupervisor]
    public let env: PlaybackEnvironment
    let logger: Logger

    /// Builds supervisors; each backend comes from a Lua plugin in `pluginPaths`.
    public init(players: [PlayerConfig], env: PlaybackEnvironment, pluginPaths: [String], limits: LuaLimits, timing: SupervisorTiming = SupervisorTiming(), logger: Logger) throws {
        var out: [String: PlayerSupervisor] = [:]
        for p in players {
            guard out[p.name] == nil else { throw RepriseError(.config, "two players are named '\(p.name)'") }
            let backend = try LuaBackend(player: p, pluginPaths: pluginPaths, limits: limits, logger: logger)
            out[p.name] = PlayerSupervisor(config: p, backend: backend, env: env, timing: timing, logger: logger)
        }
        supervisors = out
        self.env = env
        self.logger = logger
    }

    public var counters: PlaybackCounters { env.counters }

    public func run() async throws {
        for s in supervisors.values {
            do { try await s.start() } catch { logger.error("player failed to start", metadata: ["player.name": "\(s.config.name)", "error": "\(error)"]) }
        }
        await withTaskGroup(of: Void.self) { group in
            for s in supervisors.values { group.addTask { await s.run() } }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}

extension PlayerConfig {
    /// Reads `playback.players` entries: `{name, backend, owner, ...settings}`.
    public static func parse(_ entries: [[String: String]], file: String) throws -> [PlayerConfig] {
        try entries.enumerated().map { i, e in
            func need(_ k: String) throws -> String {
                guard let v = e[k], !v.isEmpty else { throw RepriseError(.config, "\(file): playback.players[\(i)] needs '\(k)'") }
                return v
            }
            let name = try need("name")
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw RepriseError(.config, "\(file): playback.players[\(i)].name may use letters, digits, - and _ only")
            }
            return PlayerConfig(name: name, backend: try need("backend"), owner: try need("owner"), settings: e.filter { !["name", "backend", "owner"].contains($0.key) })
        }
    }
}

extension Playback: PlayerDirectory {
    public var players: [String: any PlayerControl] { supervisors }
}
