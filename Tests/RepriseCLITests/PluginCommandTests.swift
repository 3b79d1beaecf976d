import Foundation
import Testing

/// `reprise plugin check` and a broken plugin at `serve`, on the built binary.
@Suite struct PluginCommandTests {
    /// A CLI folder with plugins in `<dir>/plugins` (found through the default `plugins.paths`).
    static func cli(_ plugins: [String: String], yaml: String = "") throws -> CLI {
        let cli = try CLI(extraYAML: yaml)
        let dir = cli.dir.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in plugins { try text.write(to: dir.appendingPathComponent("\(name).lua"), atomically: true, encoding: .utf8) }
        return cli
    }

    static let good = #"return { version = "1.2", hooks = { token_authorize = function() return true end } }"#

    @Test func checkPassesAndListsPlugins() async throws {
        let cli = try Self.cli(["good": Self.good], yaml: "plugins:\n  enabled: [good]\n")
        let r = try await cli.run(["plugin", "check", "--config", cli.config])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.out.contains("ok      good  v1.2  plugins/good.lua  hooks: token_authorize"))
        // Without a plugins section and without the default files, the built-ins apply.
        let bare = try CLI()
        let d = try await bare.run(["plugin", "check", "--config", bare.config])
        #expect(d.status == 0 && d.out.contains("0 plugins checked"), "\(d.out)\(d.err)")
    }

    @Test func checkReportsEveryProblemAndExitsOne() async throws {
        let cli = try Self.cli([
            "good": Self.good,
            "syntax": "return {\n  hooks = {\n    token_authorize = function( return true end,\n",
            "selfcheck": #"return { check = function() return false, "needs plugins.config.selfcheck.key" end }"#,
        ], yaml: "plugins:\n  enabled: [good, syntax, selfcheck, ghost]\n")
        let r = try await cli.run(["plugin", "check", "--config", cli.config])
        #expect(r.status == 1)
        #expect(r.out.contains("ok      good"))
        #expect(r.out.contains("FAILED  syntax"))
        #expect(r.out.contains("plugins/syntax.lua:3:"))
        #expect(r.out.contains("plugins/selfcheck.lua: self-check failed: needs plugins.config.selfcheck.key"))
        #expect(r.out.contains("no file ghost.lua"))
        #expect(r.out.contains("4 plugins checked, 3 with problems"))
    }

    @Test func badPluginSettingsExitTwo() async throws {
        let cli = try CLI(extraYAML: "plugins:\n  budget_instructions: plenty\n")
        let r = try await cli.run(["plugin", "check", "--config", cli.config])
        #expect(r.status == 2)
        #expect(r.err.contains("plugins.budget_instructions"))
    }

    @Test func serveRefusesToStartWithABrokenPlugin() async throws {
        let cli = try Self.cli(["broken": "local x = nil\nreturn { hooks = { x.y } }\n"], yaml: "plugins:\n  enabled: [broken]\n")
        let r = try await cli.run(["serve", "--port", "0", "--config", cli.config])
        #expect(r.status == 2)
        #expect(r.err.contains("plugins/broken.lua:2: attempt to index a nil value"), "\(r.err)")
    }

    /// A broken plugin stops what it decides (serve, gc, minting tokens), not user administration.
    @Test func adminCommandsWorkDespiteABrokenPlugin() async throws {
        let cli = try Self.cli(["broken": "local x = nil\nreturn { hooks = { x.y } }\n"], yaml: "plugins:\n  enabled: [broken]\n")
        let c = ["--config", cli.config]
        let added = try await cli.run(["user", "add", "ann", "--admin", "--password-stdin"] + c, stdin: "password1\n")
        #expect(added.status == 0, "\(added.err)")
        #expect(try await cli.run(["user", "list"] + c).out.contains("ann"))
        // Minting follows the token policy: with the policy broken it fails closed, naming the problem.
        let token = try await cli.run(["token", "create", "--user", "ann", "--label", "mpd"] + c)
        #expect(token.status == 2 && !token.out.contains("rt_"), "\(token.out)")
        #expect(token.err.contains("plugins/broken.lua:2: attempt to index a nil value"), "\(token.err)")
        #expect(try await cli.run(["token", "list", "--user", "ann"] + c).status == 0)
        #expect(try await cli.run(["session", "list"] + c).status == 0)
        // GC follows the plugin's expiry rules: it refuses to run without them, naming the problem.
        let gc = try await cli.run(["gc", "run"] + c)
        #expect(gc.status == 2)
        #expect(gc.err.contains("plugins/broken.lua:2: attempt to index a nil value"), "\(gc.err)")
    }
}
