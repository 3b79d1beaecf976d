import Foundation
import TestSupport
import LuaHost
import RepriseCore
@testable import ReprisePlugins
import Testing

/// Every hook against every hostile answer shape: the documented failure semantics hold
/// (plugins/README.md, "When a hook fails"), the failure is counted, and the same VM answers the
/// next, well-behaved call.
@Suite struct HostileAnswerTests {
    /// A Lua function body per shape; each is an answer no hook's contract allows, or a failure.
    static let shapes: [(name: String, body: String)] = [
        ("string", #"return "yes""#),
        ("function", "return function() end"),
        ("nan", "return 0/0"),
        ("infinity", "return math.huge"),
        ("minus-infinity", "return -math.huge"),
        ("huge-float", "return 2^63"),
        ("maxinteger", "return math.maxinteger"),
        ("mininteger", "return math.mininteger"),
        ("dag", "local t = {} for i = 1, 40 do t = {t, t} end return t"),
        ("pattern", #"return string.rep("a", 3000):find(string.rep("a*", 20) .. "b")"#),
        ("yield", "coroutine.yield(1) return true"),
        ("error-table", "error({})"),
        ("error-string", #"error("no")"#),
        ("long-string", #"return string.rep("x", 1 << 27)"#),
        ("spin", "while true do end"),
        ("pcall-spin", "while true do pcall(function() while true do end end) end"),
    ]

    /// A plugin whose `hook` answers `shape` for the hostile context and behaves otherwise.
    static func plugin(_ hook: String, _ shape: String) -> String {
        let call: String
        switch hook {
        case "token_authorize": call = "if ctx.token.label == 'hostile' then return answer() end return true"
        case "token_issue": call = "if ctx.label == 'hostile' then return { ttl_seconds = answer() } end return { ttl_seconds = 60 }"
        case "session_ttl": call = "if ctx.agent == 'hostile' then return answer() end return 30"
        case "session_extend": call = "if ctx.agent == 'hostile' then return answer() end return now + 1000"
        case "session_collect": call = "if ctx.agent == 'hostile' then return answer() end return true"
        case "autoplay_next": call = "if ctx.player == 'hostile' then return answer() end return { 7 }"
        default: call = "if ctx.agent == 'hostile' or ctx.song_id == 666 then return answer() end"
        }
        return """
            local function answer()
              \(shape)
            end
            return { name = "hostile", hooks = { \(hook) = function(ctx, now)
              \(call)
            end } }
            """
    }

    /// Every declared hook: a new one must join this matrix (`plugin` and the switch below).
    static let arguments = Hooks.all.map(\.name)

    @Test(arguments: arguments)
    func everyShapeFailsAsDocumented(_ hook: String) throws {
        for (name, body) in Self.shapes {
            let dir = try PluginFolder()
            try dir.write("hostile", Self.plugin(hook, body))
            let logs = CapturedLogs()
            let host = try makeHost([dir.path], ["hostile"], budget: 100_000, logs: logs)
            let what = "\(hook) answering \(name)"
            let hostile = Facts.session(agent: "hostile"), fine = Facts.session(agent: "Firefox")
            let stream = StreamRecord(id: 1, songId: 666, userId: 7, sessionId: nil, tokenId: 3, player: nil, rangeStart: 0, rangeEnd: 99,
                                      bytesExpected: 100, bytesSent: 0, startedAt: 5, finishedAt: nil, status: .active, reason: nil)
            switch hook {
            case "token_authorize":
                #expect(host.authorizeFixture(token: Facts.token(label: "hostile")) == .deny(reason: "the token policy failed"), "\(what)")
                #expect(host.authorizeFixture() == .allow, "\(what): the next call")
            case "token_issue":
                let issue = { (label: String) in host.issue(TokenIssueContext(user: Facts.user, label: label, requestedTTLSeconds: nil)) }
                #expect(issue("hostile") == .deny(reason: "the token policy failed"), "\(what)")
                #expect(issue("kitchen") == .issue(ttlSeconds: 60), "\(what): the next call")
            case "session_ttl":
                #expect(host.ttl(for: hostile) == nil, "\(what): the built-in TTL")
                #expect(host.ttl(for: fine) == 30_000, "\(what): the next call")
            case "session_extend":
                #expect(host.extend(hostile, now: 100_000) == nil, "\(what): the built-in extension")
                #expect(host.extend(fine, now: 100_000) == 101_000, "\(what): the next call")
            case "session_collect":
                #expect(host.spareExpired(hostile, now: 20_000) == true, "\(what): the session is kept")
                #expect(host.spareExpired(fine, now: 20_000) == false, "\(what): the next call")
            case "autoplay_next":
                let ask = { (player: String) in host.autoplayNext(AutoplayContext(player: player, owner: "ann", mode: "random", filter: nil, want: 1, queue: [], position: 0, history: [])) }
                #expect(ask("hostile") == nil, "\(what): the built-in mode chooses")
                #expect(ask("kitchen") == [7], "\(what): the next call")
            default:
                // Events: whatever the answer, nothing but a log line; the next event runs.
                switch hook {
                case "on_session_created": host.sessionCreated(hostile); host.sessionCreated(fine)
                case "on_session_collected": host.sessionCollected(hostile); host.sessionCollected(fine)
                case "on_stream_started": host.streamStarted(stream)
                default: host.streamFinished(stream)
                }
                host.flushEvents()
            }
            // Calls are counted; failures of the hook's contract (not of events' ignored answers) too.
            let report = try #require(host.report().first?.hooks.first { $0.name == hook }, "\(what)")
            #expect(report.calls >= 1, "\(what)")
            if !hook.hasPrefix("on_") || ["error-table", "error-string", "spin", "pcall-spin", "pattern", "yield", "long-string"].contains(name) {
                #expect(report.errors >= 1, "\(what): the failure is counted")
                #expect(!(logs.with(message: "plugin hook failed") + logs.with(message: "plugin hook returned a bad value")).isEmpty, "\(what): the failure is logged")
            }
        }
    }
}
