import Foundation
import TestSupport
import LuaHost
import RepriseCore
@testable import ReprisePlugins
import Testing

/// Failure semantics per hook, contexts, error locations and events.
@Suite struct HookSemanticsTests {
    @Test func authorizeThatErrsDeniesAndLogsFileAndLine() throws {
        let dir = try PluginFolder()
        let file = try dir.write("broken", """
            return { name = "broken", hooks = {
              token_authorize = function(ctx)
                error("no way")
              end,
            } }
            """)
        let logs = CapturedLogs()
        let host = try makeHost([dir.path], ["broken"], logs: logs)
        #expect(host.authorizeFixture() == .deny(reason: "the token policy failed"))
        let line = try #require(logs.with(message: "plugin hook failed").first)
        #expect(line.metadata["plugin.name"] == "broken")
        #expect(line.metadata["plugin.hook"] == "token_authorize")
        #expect(line.metadata["plugin.file"] == file)
        #expect(line.metadata["plugin.line"] == "3")
        #expect(line.metadata["plugin.error"]?.contains("\(file):3: no way") == true)
        #expect(line.metadata["plugin.outcome"] == "denied")
        #expect(host.report().first?.errors == 1)
        // The admin page and API show the latest error with its file:line.
        #expect(host.report().first?.lastError?.contains("\(file):3: no way") == true, "\(String(describing: host.report().first?.lastError))")
    }

    @Test func authorizeOverBudgetDeniesEvenThroughPcall() throws {
        let dir = try PluginFolder()
        try dir.write("spin", """
            return { name = "spin", hooks = {
              token_authorize = function(ctx)
                while true do pcall(function() while true do end end) end
              end,
            } }
            """)
        let logs = CapturedLogs()
        let host = try makeHost([dir.path], ["spin"], budget: 10_000, logs: logs)
        #expect(host.authorizeFixture() == .deny(reason: "the token policy failed"))
        #expect(logs.with(message: "plugin hook failed").first?.metadata["plugin.error_code"] == "budgetExceeded")
        // The VM keeps serving: a second call is denied the same way, not hung.
        #expect(host.authorizeFixture() == .deny(reason: "the token policy failed"))
        #expect(host.report().first?.hooks.first?.errors == 2)
    }

    @Test func authorizeAnswersAndContract() throws {
        let dir = try PluginFolder()
        try dir.write("policy", """
            return { name = "policy", hooks = {
              token_authorize = function(ctx)
                if ctx.token.label == "nope" then return false, "not this one" end
                if ctx.token.label == "silent" then return nil end
                assert(ctx.token.id == 3 and ctx.token.created == 2000 and ctx.token.last_used == 5000 and ctx.token.expires == nil)
                assert(ctx.user.id == 7 and ctx.user.name == "ann" and ctx.user.role == "user")
                assert(ctx.request.method == "GET" and ctx.request.path == "/stream/42" and ctx.request.ip == "10.0.0.2")
                assert(ctx.request.user_agent == "MPD/0.23" and ctx.request.range == "bytes=0-")
                assert(ctx.song.id == 42 and ctx.song.title == "Blue" and ctx.song.artist == "Ann" and ctx.song.album == "Sky")
                return true
              end,
            } }
            """)
        let song = Song(id: 42, path: "/x", size: 1, mtimeMs: 1, title: "Blue", artist: "Ann", artistId: 1, album: "Sky", albumId: 1, albumArtist: nil,
                        track: nil, disc: nil, year: nil, genre: nil, durationMs: 1, bitrate: 1, sampleRate: 1, channels: 1, format: "mp3")
        let host = try makeHost([dir.path], ["policy"])
        #expect(host.authorizeFixture(song: song) == .allow)
        #expect(host.authorizeFixture(token: Facts.token(label: "nope"), song: song) == .deny(reason: "not this one"))
        #expect(host.authorizeFixture(token: Facts.token(label: "silent"), song: song) == .deny(reason: "the token policy failed"))
        #expect(host.report().first?.errors == 1)
    }

    @Test func everyPluginMustAllowAndTheFirstDenialWins() throws {
        let dir = try PluginFolder()
        try dir.write("a", #"return { hooks = { token_authorize = function() return true end } }"#)
        try dir.write("b", #"return { hooks = { token_authorize = function() return false, "b says no" end } }"#)
        try dir.write("c", #"return { hooks = { token_authorize = function() error("never called") end } }"#)
        let host = try makeHost([dir.path], ["a", "b", "c"])
        #expect(host.authorizeFixture() == .deny(reason: "b says no"))
        #expect(host.host.stats[plugin: "c", hook: "token_authorize"].calls == 0)
    }

    @Test func issueSemantics() throws {
        let dir = try PluginFolder()
        try dir.write("cap", """
            return { hooks = { token_issue = function(ctx)
              if ctx.label == "forbidden" then return nil, "labels like that are not allowed" end
              if ctx.label == "boom" then error("issue failed") end
              if ctx.label == "bad" then return { ttl_seconds = "soon" } end
              assert(ctx.user.name == "ann")
              return { ttl_seconds = 3600 }
            end } }
            """)
        try dir.write("asked", "return { hooks = { token_issue = function(ctx) return { ttl_seconds = ctx.requested_ttl_seconds } end } }")
        let host = try makeHost([dir.path], ["cap", "asked"])
        func issue(_ label: String, _ ttl: Int64?) -> TokenIssueDecision {
            host.issue(TokenIssueContext(user: Facts.user, label: label, requestedTTLSeconds: ttl))
        }
        #expect(issue("player", nil) == .issue(ttlSeconds: 3600))      // no expiry asked: the cap applies
        #expect(issue("player", 60) == .issue(ttlSeconds: 60))         // the shortest lifetime wins
        #expect(issue("player", 86_400) == .issue(ttlSeconds: 3600))
        #expect(issue("forbidden", nil) == .deny(reason: "labels like that are not allowed"))
        #expect(issue("boom", nil) == .deny(reason: "the token policy failed"))
        #expect(issue("bad", nil) == .deny(reason: "the token policy failed"))

        let none = try makeHost([dir.path], [])
        #expect(none.issue(TokenIssueContext(user: Facts.user, label: "x", requestedTTLSeconds: 5)) == .issue(ttlSeconds: 5))
        #expect(none.authorizeFixture() == .allow)
    }

    @Test func ttlErrorGivesTheDefaultAndLaterPluginsWin() throws {
        let dir = try PluginFolder()
        try dir.write("first", "return { hooks = { session_ttl = function(s) return 60 end } }")
        try dir.write("second", """
            return { hooks = { session_ttl = function(s)
              if s.agent == "crash" then error("ttl broke") end
              if s.kind == "api" then return 120 end
              return nil
            end } }
            """)
        let broken = try PluginFolder()
        try broken.write("only", #"return { hooks = { session_ttl = function(s) error("always") end } }"#)
        let logs = CapturedLogs()
        let host = try makeHost([dir.path], ["first", "second"], logs: logs)
        #expect(host.ttl(for: Facts.session(kind: .api)) == 120_000)
        #expect(host.ttl(for: Facts.session(kind: .web)) == 60_000)
        #expect(host.ttl(for: Facts.session(agent: "crash")) == 60_000)
        #expect(logs.with(message: "plugin hook failed").first?.metadata["plugin.outcome"] == "default ttl")
        let only = try makeHost([broken.path], ["only"])
        #expect(only.ttl(for: Facts.session()) == nil) // the store falls back to sessions.<kind>_ttl
    }

    @Test func extendAnswersOrDefaults() throws {
        let dir = try PluginFolder()
        try dir.write("ext", """
            return { hooks = { session_extend = function(s, now)
              if s.agent == "crash" then error("extend broke") end
              if s.kind == "api" then return now + 5000 end
            end } }
            """)
        let host = try makeHost([dir.path], ["ext"])
        #expect(host.extend(Facts.session(kind: .api), now: 100_000) == 105_000)
        #expect(host.extend(Facts.session(kind: .web), now: 100_000) == nil)
        #expect(host.extend(Facts.session(agent: "crash"), now: 100_000) == nil)
    }

    @Test func collectErrorKeepsTheSession() throws {
        let dir = try PluginFolder()
        try dir.write("gc", """
            return { hooks = { session_collect = function(s, now)
              if s.agent == "crash" then error("collect broke") end
              if s.agent == "spin" then while true do end end
              if s.agent == "odd" then return "yes" end
              return s.agent ~= "keep"
            end } }
            """)
        let host = try makeHost([dir.path], ["gc"], budget: 10_000)
        #expect(host.spareExpired(Facts.session(agent: "Firefox"), now: 20_000) == false)
        #expect(host.spareExpired(Facts.session(agent: "keep"), now: 20_000) == true)
        #expect(host.spareExpired(Facts.session(agent: "crash"), now: 20_000) == true)
        #expect(host.spareExpired(Facts.session(agent: "spin"), now: 20_000) == true)
        #expect(host.spareExpired(Facts.session(agent: "odd"), now: 20_000) == true)
        #expect(host.report().first?.errors == 3)
    }

    @Test func eventsRunOffThePathAndErrorsAreOnlyLogged() throws {
        let dir = try PluginFolder()
        try dir.write("events", """
            return { hooks = {
              on_session_created = function(s) reprise.log.info("created", { id = s.id, kind = s.kind, user = s.user.name }) end,
              on_session_collected = function(s) error("collected hook broke") end,
              on_stream_started = function(st) reprise.log.info("started", { song = st.song_id, status = st.status }) end,
              on_stream_finished = function(st) reprise.log.info("finished", { sent = st.bytes_sent, status = st.status }) end,
            } }
            """)
        let logs = CapturedLogs()
        let host = try makeHost([dir.path], ["events"], logs: logs)
        #expect(host.observesCollections && !host.judgesExpired)
        host.sessionCreated(Facts.session())
        host.sessionCollected(Facts.session())
        let stream = StreamRecord(id: 1, songId: 42, userId: 7, sessionId: nil, tokenId: 3, player: nil, rangeStart: 0, rangeEnd: 99,
                                  bytesExpected: 100, bytesSent: 0, startedAt: 5, finishedAt: nil, status: .active, reason: nil)
        host.streamStarted(stream)
        var done = stream
        done.bytesSent = 100
        done.status = .completed
        host.streamFinished(done)
        host.flushEvents()
        #expect(logs.with(message: "created").first?.metadata["plugin.kind"] == "web")
        #expect(logs.with(message: "created").first?.metadata["plugin.name"] == "events")
        #expect(logs.with(message: "started").first?.metadata["plugin.status"] == "active")
        #expect(logs.with(message: "finished").first?.metadata["plugin.sent"] == "100")
        #expect(logs.with(message: "plugin hook failed").first?.metadata["plugin.outcome"] == "ignored")
    }

    @Test func loadFailuresNameFileAndLine() throws {
        let dir = try PluginFolder()
        let syntax = try dir.write("syntax", "return {\n  hooks = {\n    token_authorize = function( return true end,\n  },\n}\n")
        let runtime = try dir.write("runtime", "local x = nil\nreturn { hooks = { x = x.y } }\n")
        let check = try dir.write("selfcheck", #"return { check = function() return false, "needs a key" end }"#)
        for (name, prefix) in [("syntax", "\(syntax):3:"), ("runtime", "\(runtime):2:"), ("selfcheck", "\(check): self-check failed: needs a key")] {
            do {
                _ = try makeHost([dir.path], [name])
                Issue.record("\(name) loaded")
            } catch let error as PluginError {
                #expect(error.code == .load)
                #expect(error.message.hasPrefix(prefix), "\(error.message)")
            }
        }
    }

    @Test func discovery() throws {
        let dir = try PluginFolder()
        let other = try PluginFolder()
        try dir.write("a", "return {}")
        try other.write("a", "return { version = 'shadowed' }")
        try other.write("b", "return { version = '2' }")
        let found = PluginDiscovery.discover(PluginSettings(paths: [dir.path, other.path], enabled: ["a", "b"], config: ["b": ["k": 1], "zzz": [:]]))
        #expect(found.sources.map(\.path) == ["\(dir.path)/a.lua", "\(other.path)/b.lua"])
        #expect(found.sources[1].config == ["k": 1])
        #expect(found.warnings.count == 1 && found.warnings[0].contains("plugins.config.zzz"))
        #expect(found.problems.isEmpty)

        let missing = PluginDiscovery.discover(PluginSettings(paths: [dir.path], enabled: ["nope"], file: "reprise.yaml"))
        #expect(missing.problems.first?.code == .notFound)
        #expect(missing.problems.first?.message.hasPrefix("reprise.yaml: plugins.enabled: no file nope.lua") == true)

        // Defaults that are not there are skipped unless enabled explicitly.
        let defaults = PluginDiscovery.discover(PluginSettings(paths: [dir.path]))
        #expect(defaults.skipped == PluginSettings.defaultEnabled && defaults.problems.isEmpty)
        let explicit = PluginDiscovery.discover(PluginSettings(paths: [dir.path], enabled: ["default_tokens"]))
        #expect(explicit.problems.count == 1)
    }

    @Test func configIsReadOnly() throws {
        let dir = try PluginFolder()
        try dir.write("cfg", """
            return { hooks = { token_authorize = function()
              local ok = pcall(function() reprise.config.limit = 1 end)
              if ok then return false, "config was writable" end
              return reprise.config.nested.list[2] == "b", "config not visible"
            end } }
            """)
        let host = try makeHost([dir.path], ["cfg"], config: ["cfg": ["nested": ["list": ["a", "b"]]]])
        #expect(host.authorizeFixture() == .allow)
    }

    @Test func checkReportsEveryProblem() throws {
        let dir = try PluginFolder()
        try dir.write("good", "return { version = '1', hooks = { token_authorize = function() return true end } }")
        let bad = try dir.write("bad", "return {\n  hooks = { token_authorize = function() return true end,\n")
        try dir.write("typo", "return { hooks = { token_authorise = function() return true end } }")
        let report = PluginCheck.run(PluginSettings(paths: [dir.path], enabled: ["good", "bad", "typo", "ghost"]))
        #expect(report.failed)
        #expect(report.entries.map(\.name) == ["good", "bad", "typo", "ghost"])
        #expect(report.entries[0].problems.isEmpty && report.entries[0].version == "1")
        #expect(report.entries[1].problems.first?.hasPrefix("\(bad):") == true)
        #expect(report.entries[2].problems.first?.contains("unknown hook 'token_authorise'") == true)
        #expect(report.entries[3].problems.first?.contains("no file ghost.lua") == true)
        #expect(!PluginCheck.run(PluginSettings(paths: [dir.path], enabled: ["good"])).failed)
    }
}
