import RepriseSync
import Foundation
import TestSupport
import Logging
import LuaHost
import RepriseCore
@testable import ReprisePlugins
import Synchronization

/// A temporary plugin folder.
final class PluginFolder: Sendable {
    let path: String

    init() throws {
        // Short, so Lua's chunk names (at most 60 characters) keep the whole path.
        path = "/tmp/rp-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `<name>.lua` and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = "\(path)/\(name).lua"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}


/// The repository's `plugins/` folder.
let shippedPlugins = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("plugins").path

/// Test fixtures for hook contexts.
enum Facts {
    static let user = User(id: 7, name: "ann", role: .user, disabled: false, createdAt: 1_000)
    static func token(id: Int64 = 3, label: String = "kitchen") -> StreamTokenInfo {
        StreamTokenInfo(id: id, userId: 7, userName: "ann", label: label, createdAt: 2_000, expiresAt: nil, lastUsedAt: 5_000, revokedAt: nil)
    }
    static let request = StreamRequestFacts(method: "GET", path: "/stream/42", ip: "10.0.0.2", userAgent: "MPD/0.23", range: "bytes=0-")
    static func session(kind: SessionKind = .web, agent: String? = "Firefox", client: String? = nil, expires: Int64 = 10_000) -> SessionInfo {
        SessionInfo(id: 11, userId: 7, userName: "ann", kind: kind, client: client, agent: agent, ip: "10.0.0.2", createdAt: 1_000, lastSeenAt: 2_000, expiresAt: expires)
    }
}

extension PluginHost {
    /// Authorizes the fixture token for song 42.
    func authorizeFixture(token: StreamTokenInfo = Facts.token(), song: Song? = nil) -> AuthorizeDecision {
        authorize(token: token, user: Facts.user, request: Facts.request, songId: 42, song: song)
    }
}

/// Builds a host over `folders` with `enabled` plugins.
func makeHost(
    _ folders: [String], _ enabled: [String], config: [String: LuaValue] = [:], budget: Int = 200_000,
    logs: CapturedLogs = CapturedLogs(), clock: ManualWallClock = ManualWallClock(1_700_000_000_000)
) throws -> PluginHost {
    try PluginHost(
        settings: PluginSettings(paths: folders, enabled: enabled, config: config, budgetInstructions: budget, poolSize: 2),
        logger: logs.logger, clock: { clock.nowMs() })
}
