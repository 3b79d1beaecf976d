import Foundation
import LuaHost
import RepriseCore
@testable import ReprisePlugins
import Testing

/// Reload: swap only when every plugin loads, calls in flight unaffected.
@Suite struct ReloadTests {
    static func policy(_ version: Int) -> String {
        """
        return { name = "policy", version = "\(version)", hooks = {
          token_authorize = function(ctx)
            local n = 0
            for i = 1, 200 do n = n + i end
            return true
          end,
        } }
        """
    }

    @Test func reloadUnderConcurrentHookCalls() async throws {
        let dir = try PluginFolder()
        try dir.write("policy", Self.policy(1))
        let host = try makeHost([dir.path], ["policy"])
        let (denied, calls) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var denied = 0
                    for _ in 0..<400 where host.authorizeFixture() != .allow { denied += 1 }
                    return (denied, 400)
                }
            }
            group.addTask {
                for v in 2...21 {
                    try dir.write("policy", Self.policy(v))
                    try host.reload()
                }
                return (0, 0)
            }
            var total = (0, 0)
            for try await (d, c) in group { total = (total.0 + d, total.1 + c) }
            return total
        }
        #expect(denied == 0)
        #expect(calls == 3_200)
        #expect(host.report().first?.version == "21")
        // Statistics survive reloads.
        #expect(host.report().first?.calls == 3_200)
        #expect(host.report().first?.errors == 0)
    }

    @Test func failedReloadKeepsTheRunningSet() throws {
        let dir = try PluginFolder()
        try dir.write("policy", Self.policy(1))
        try dir.write("extra", #"return { version = "1", hooks = { token_authorize = function() return false, "extra v1" end } }"#)
        let host = try makeHost([dir.path], ["policy"])
        try dir.write("policy", "return {\n  version = '2',\n  hooks = { token_authorize = function() return true\n}\n")
        do {
            try host.reload()
            Issue.record("a broken plugin reloaded")
        } catch let error as PluginError {
            #expect(error.message.hasPrefix("\(dir.path)/policy.lua:"))
        }
        #expect(host.report().first?.version == "1")
        #expect(host.authorizeFixture() == .allow)
    }
}
