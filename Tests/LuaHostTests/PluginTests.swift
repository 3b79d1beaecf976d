import Foundation
import LuaHost
import Synchronization
import Testing

@Suite("Plugins: loading, isolation, require, errors, host API")
struct PluginTests {
    @Test func pluginsAreListedWithVersionAndHooks() throws {
        let dir = try PluginDir()
        let source = try dir.write("tagger.lua", """
            return {
              name = "tagger", version = "2.1",
              hooks = { on_scan = function(path) return path .. "!" end, on_play = function() end },
            }
            """)
        let vm = try LuaVM()
        try vm.load(plugins: [source])
        #expect(vm.plugins == [PluginInfo(name: "tagger", version: "2.1", hooks: ["on_play", "on_scan"])])
        #expect(vm.hasHook(plugin: "tagger", hook: "on_scan"))
        #expect(!vm.hasHook(plugin: "tagger", hook: "on_stop"))
        #expect(try vm.call(plugin: "tagger", hook: "on_scan", args: ["a.flac"]) == ["a.flac!"])
        #expect(try vm.call(plugin: "tagger", hook: "on_stop") == [])
        #expect(throws: LuaError.self) { try vm.call(plugin: "missing", hook: "on_scan") }
    }

    @Test func globalsDoNotLeakBetweenPlugins() throws {
        let dir = try PluginDir()
        let a = try dir.write("a.lua", """
            secret = 42
            return { hooks = { set = function() other = "a"; _G.viaG = 1 end, get = function() return secret end } }
            """)
        let b = try dir.write("b.lua", """
            return { hooks = { peek = function() return secret, other, viaG, _G.secret end } }
            """)
        let vm = try LuaVM()
        try vm.load(plugins: [a, b])
        _ = try vm.call(plugin: "a", hook: "set")
        #expect(try vm.call(plugin: "b", hook: "peek") == [.nil, .nil, .nil, .nil])
        #expect(try vm.call(plugin: "a", hook: "get") == [42])
    }

    @Test func requireLoadsSiblingModulesOnly() throws {
        let dir = try PluginDir()
        try dir.write("helper.lua", "loads = (loads or 0) + 1\nreturn { greet = function(n) return 'hi ' .. n end }")
        try dir.write("sub/util.lua", "return { twice = function(x) return x * 2 end }")
        let outside = try PluginDir()
        try outside.write("x.lua", "return { pwned = true }")
        let plugin = try dir.write("main.lua", """
            local helper = require "helper"
            return { hooks = {
              greet = function(n) return helper.greet(n), require("sub.util").twice(21), rawequal(helper, require "helper"), loads end,
              req = function(name) return require(name) end,
            } }
            """)
        let vm = try LuaVM()
        try vm.load(plugins: [plugin])
        #expect(try vm.call(plugin: "main", hook: "greet", args: ["bo"]) == ["hi bo", 42, true, 1])
        for name in ["../x", "..x", "/etc/passwd", "sub/util", "sub..util", ".x", "x."] {
            let error = #expect(throws: LuaError.self) { try vm.call(plugin: "main", hook: "req", args: [.string(name)]) }
            #expect(error?.message.contains("invalid module name") == true, "\(name)")
        }
        #expect(throws: LuaError.self) { try vm.call(plugin: "main", hook: "req", args: ["missing"]) }

        // A symlink that points outside the plugin directory is refused.
        try FileManagerLink.link("\(dir.path)/evil.lua", to: "\(outside.path)/x.lua")
        let escaped = #expect(throws: LuaError.self) { try vm.call(plugin: "main", hook: "req", args: ["evil"]) }
        #expect(escaped?.message.contains("outside the plugin directory") == true)
        #expect(try vm.call(plugin: "main", hook: "greet", args: ["again"]).first == "hi again")
    }

    @Test func syntaxErrorNamesFileAndLine() throws {
        let dir = try PluginDir()
        let bad = try dir.write("bad.lua", "local x = 1\nlocal y = 2\nlocal = 3\nreturn {}\n")
        let vm = try LuaVM()
        let error = #expect(throws: LuaError.self) { try vm.load(plugins: [bad]) }
        #expect(error?.code == .syntax)
        #expect(error?.plugin == "bad")
        #expect(error?.message.contains("bad.lua:3:") == true, "\(String(describing: error))")
    }

    @Test func loadTimeRuntimeErrorNamesFileAndLine() throws {
        let dir = try PluginDir()
        let bad = try dir.write("bad.lua", "local x = 1\n\nundefined_function()\nreturn {}\n")
        let error = #expect(throws: LuaError.self) { try LuaVM().load(plugins: [bad]) }
        #expect(error?.code == .runtime)
        #expect(error?.message.contains("bad.lua:3: attempt to call a nil value") == true, "\(String(describing: error))")
    }

    @Test func hookRuntimeErrorNamesFileAndLine() throws {
        let dir = try PluginDir()
        let source = try dir.write("hooky.lua", """
            return { hooks = {
              boom = function()
                local t = nil
                return t.field
              end,
            } }
            """)
        let vm = try LuaVM()
        try vm.load(plugins: [source])
        let error = #expect(throws: LuaError.self) { try vm.call(plugin: "hooky", hook: "boom") }
        #expect(error?.code == .runtime)
        #expect(error?.plugin == "hooky")
        #expect(error?.message.contains("hooky.lua:4: attempt to index a nil value") == true, "\(String(describing: error))")
    }

    @Test func malformedPluginsAreRejected() throws {
        let dir = try PluginDir()
        let cases: [(String, String)] = [
            ("notable.lua", "return 42"),
            ("badhooks.lua", "return { hooks = { on_play = 'nope' } }"),
            ("failing.lua", "return { check = function() return false, 'database missing' end }"),
        ]
        for (file, text) in cases {
            let source = try dir.write(file, text)
            let error = #expect(throws: LuaError.self, "\(file)") { try LuaVM().load(plugins: [source]) }
            #expect(error?.code == .badPlugin, "\(file)")
        }
        let missing = PluginSource(path: "\(dir.path)/nope.lua")
        let error = #expect(throws: LuaError.self) { try LuaVM().load(plugins: [missing]) }
        #expect(error?.code == .loadFailed)
        let ok = try dir.write("ok.lua", "return { check = function() return true end }")
        let vm = try LuaVM()
        try vm.load(plugins: [ok])
        #expect(throws: LuaError.self) { try vm.load(plugins: [ok]) } // duplicate name
    }

    @Test func loadPhaseHasItsOwnBudget() throws {
        let dir = try PluginDir()
        let slow = try dir.write("slow.lua", "while true do end")
        let error = #expect(throws: LuaError.self) {
            try LuaVM(limits: LuaLimits(loadInstructionBudget: 100_000)).load(plugins: [slow])
        }
        #expect(error?.code == .budgetExceeded)
        #expect(error?.message.contains("slow.lua:1:") == true)
    }

    @Test func hostFunctionsReturnNilAndMessageOnError() throws {
        var registry = HostFunctionRegistry()
        registry.register("media", "lookup") { args in
            guard let id = args.first?.stringValue else { throw LuaError(.runtime, "lookup: expected an id") }
            return [.table(["id": .string(id), "tracks": [1, 2]])]
        }
        registry.register("media", "fail") { _ in throw LuaError(.runtime, "no such track") }
        let probe = try Probe(registry: registry)
        #expect(try probe.run("local v, err = reprise.media.fail() return v, err") == [.nil, "no such track"])
        #expect(try probe.run("return reprise.media.lookup('t1').tracks[2]") == [2])
        #expect(try probe.run("return reprise.media.lookup()") == [.nil, "lookup: expected an id"])
        #expect(try probe.run("return select('#', reprise.media.fail())") == [2])
        #expect(probe.failure("reprise.media.fail = nil") != nil)
        #expect(probe.failure("reprise.evil = 1") != nil)
        #expect(probe.stillWorks)
    }

    @Test func builtinsNowLogAndConfig() throws {
        let log = LogRecorder()
        var registry = HostFunctionRegistry(clock: { 1_234_567 }, logSink: log.sink)
        registry.register(value: ["name": "Reprise"], as: "server")
        let dir = try PluginDir()
        let source = try dir.write("cfg.lua", """
            return { hooks = {
              run = function()
                reprise.log.info("played", { track = "t1", n = 3 })
                reprise.log.warn("careful")
                print("a", 1, nil)
                return reprise.now(), reprise.config.greeting, reprise.config.nested.list[2], reprise.server.name
              end,
              mutate = function() reprise.config.greeting = "x" end,
              mutate_nested = function() reprise.config.nested.list[1] = 0 end,
            } }
            """, config: ["greeting": "hello", "nested": ["list": ["a", "b"]]])
        let vm = try LuaVM(registry: registry)
        try vm.load(plugins: [source])
        #expect(try vm.call(plugin: "cfg", hook: "run") == [1_234_567, "hello", "b", "Reprise"])
        #expect(log.lines == [
            .init(level: "info", plugin: "cfg", message: "played", fields: ["track": "t1", "n": 3]),
            .init(level: "warn", plugin: "cfg", message: "careful", fields: [:]),
            .init(level: "info", plugin: "cfg", message: "a\t1\tnil", fields: [:]),
        ])
        #expect(throws: LuaError.self) { try vm.call(plugin: "cfg", hook: "mutate") }
        #expect(throws: LuaError.self) { try vm.call(plugin: "cfg", hook: "mutate_nested") }
    }

    @Test func jsonRoundTripsThroughLua() throws {
        let probe = try Probe()
        let value: LuaValue = ["a": 1, "b": [1, 2, 3], "c": "x\n\"y\" é", "d": 1.5, "e": true, "f": ["g": [:]]]
        #expect(try probe.run("return reprise.json.decode(reprise.json.encode(...))", value) == [value])
        #expect(try probe.run("return reprise.json.encode({1, 2, {x = false}})") == [#"[1,2,{"x":false}]"#])
        #expect(try probe.run(#"return reprise.json.decode('{"a":[1,2.5,"\\u00e9"],"b":null}').a[3]"#) == ["é"])
        let bad = try probe.run("return reprise.json.decode('{oops')")
        #expect(bad.first == .nil)
        #expect(bad.dropFirst().first?.stringValue?.contains("json.decode") == true)
    }

    @Test func backendsRegisterAndAreCallable() throws {
        let dir = try PluginDir()
        let source = try dir.write("store.lua", """
            assert(reprise.backend.register { name = "files", search = function(q) return { q, q .. "2" } end })
            local ok, err = reprise.backend.register { name = "files" }
            assert(ok == nil and err:find("already"))
            assert(reprise.backend.register { name = "cloud", search = function() error("offline") end })
            return { hooks = {} }
            """)
        let vm = try LuaVM()
        try vm.load(plugins: [source])
        #expect(vm.registeredBackends == ["store": ["files", "cloud"]])
        #expect(vm.backends(plugin: "store") == ["files", "cloud"])
        #expect(try vm.callBackend(plugin: "store", backend: "files", function: "search", args: ["q"]) == [["q", "q2"]])
        let missing = #expect(throws: LuaError.self) { try vm.callBackend(plugin: "store", backend: "nope", function: "search") }
        #expect(missing?.code == .notFound)
        let offline = #expect(throws: LuaError.self) { try vm.callBackend(plugin: "store", backend: "cloud", function: "search") }
        #expect(offline?.code == .runtime)
        #expect(offline?.message.contains("store.lua:4: offline") == true)
    }

    @Test func valuesConvertBothWays() throws {
        let probe = try Probe()
        #expect(try probe.run("return {1, 2, 3}, {a = 1}, {1, x = 2}, {}, 2^53, 7 // 2, 7 / 2") == [
            [1, 2, 3], ["a": 1], ["1": 1, "x": 2], .table([:]), .number(9007199254740992), 3, 3.5,
        ])
        // A function inside a table reads as nothing; answering one is an error, not "no answer".
        let function = #expect(throws: LuaError.self) { try probe.run("return print") }
        #expect(function?.message.contains("answered a function") == true)
        #expect(try probe.run("local t = {} t.self = t return t") != []) // cycles terminate
        let nested: LuaValue = ["list": [["k": "v"], .nil, 3], "flag": false]
        #expect(try probe.run("return ...", nested) == [["list": ["1": ["k": "v"], "3": 3], "flag": false]])
        #expect(LuaValue.table(["a": "x"])["a"].stringValue == "x")
        #expect(LuaValue.integer(3).intValue == 3)
        #expect(LuaValue.number(3.5).intValue == nil)
        #expect(LuaValue.bool(true).boolValue == true)
        #expect(LuaValue.array([1, 2])[2] == 2)
    }
}

enum FileManagerLink {
    static func link(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }
}
