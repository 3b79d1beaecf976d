import Foundation
import Logging
@testable import LuaHost
@testable import ReprisePlayback
import RepriseCore
import Testing

/// Backends run under the same limits as policy plugins (`plugins.budget_instructions`).
@Suite struct BackendLimitsTests {
    @Test func aSpinningBackendIsStoppedByThePluginsBudget() async throws {
        let dir = "/tmp/rb-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: "\(dir)/backends", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            reprise.backend.register{ name = "spin", connect = function(cfg) while true do end end }
            return { name = "backend_spin", hooks = {} }
            """.write(toFile: "\(dir)/backends/spin.lua", atomically: true, encoding: .utf8)
        let player = PlayerConfig(name: "p", backend: "spin", owner: "ann", settings: [:])
        let backend = try LuaBackend(player: player, pluginPaths: [dir], limits: LuaLimits(instructionBudget: 10_000), logger: Logger(label: "test"))
        let error = await #expect(throws: PlayerError.self) { try await backend.connect() }
        #expect(error?.message.contains("instruction budget exceeded") == true, "\(String(describing: error))")
    }
}
