import Foundation
import LuaHost
import Testing

/// Hook contexts whose fields are built when the hook first reads them.
@Suite("Hook contexts: fields built on first read")
struct HookContextTests {
    static let shape = LuaContextShape("token", "user", "song")

    /// A VM with one plugin whose hooks are `hooks`, a Lua table constructor's body.
    func vm(_ hooks: String) throws -> LuaVM {
        let dir = try PluginDir()
        let source = try dir.write("ctx.lua", "local kept\nreturn { name = \"ctx\", hooks = {\n\(hooks)\n} }")
        let vm = try LuaVM()
        try vm.load(plugins: [source])
        return vm
    }

    /// Calls `hook` with a context for user `name`: token 3 "kitchen", no song; records the fields filled.
    func call(_ vm: LuaVM, _ hook: String, user name: String = "ann", filled: inout [Int]) throws -> [LuaValue] {
        var log: [Int] = []
        defer { filled += log }
        return try vm.call(plugin: "ctx", hook: hook, context: Self.shape) { field, t in
            log.append(field)
            switch field {
            case 0: t.set("token", fields: 2) { t in t.set("id", 3); t.set("label", "kitchen") }
            case 1: t.set("user", fields: 2) { u in u.set("id", 7); u.set("name", name) }
            default: break // no song
            }
        }
    }

    @Test func aHookThatReadsNothingBuildsNothing() throws {
        let vm = try vm("run = function(ctx) return type(ctx), #ctx end")
        var filled: [Int] = []
        #expect(try call(vm, "run", filled: &filled) == ["table", 0])
        #expect(filled.isEmpty)
    }

    @Test func eachFieldIsBuiltOnceWhenFirstRead() throws {
        let vm = try vm("""
            run = function(ctx)
              local a, b = ctx.user.name, ctx.user.id
              return a, b, ctx.song, ctx.song, ctx.nothing, ctx[1]
            end
            """)
        var filled: [Int] = []
        #expect(try call(vm, "run", filled: &filled) == ["ann", 7, .nil, .nil, .nil, .nil])
        #expect(filled == [1, 2])
    }

    @Test func pairsNextRawgetAndHostFunctionsSeeEveryField() throws {
        let vm = try vm("""
            keys = function(ctx)
              local keys = {}
              for k in pairs(ctx) do keys[#keys + 1] = k end
              table.sort(keys)
              return table.concat(keys, ",")
            end,
            next = function(ctx)
              local n, k = 0, next(ctx)
              while k ~= nil do n = n + 1; k = next(ctx, k) end
              return n
            end,
            rawget = function(ctx) return rawget(ctx, "token").label, rawget(ctx, "song"), rawget(ctx, 1) end,
            json = function(ctx) return reprise.json.encode({ctx = ctx}) end,
            """)
        var filled: [Int] = []
        #expect(try call(vm, "keys", filled: &filled) == ["token,user"])
        #expect(filled == [0, 1, 2])
        filled = []
        #expect(try call(vm, "next", filled: &filled) == [2])
        #expect(filled == [0, 1, 2])
        filled = []
        #expect(try call(vm, "rawget", filled: &filled) == ["kitchen", .nil, .nil])
        #expect(filled == [0, 2])
        filled = []
        let json = try #require(call(vm, "json", filled: &filled).first?.stringValue)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: [String: Any]]]
        #expect(decoded?["ctx"]?["user"]?["name"] as? String == "ann")
        #expect(decoded?["ctx"]?["token"]?["label"] as? String == "kitchen")
        #expect(filled == [0, 1, 2])
    }

    @Test func whatTheHookWritesFirstIsWhatItReads() throws {
        let vm = try vm("run = function(ctx) ctx.user = 'mine'; ctx.extra = 1; return ctx.user, ctx.extra end")
        var filled: [Int] = []
        #expect(try call(vm, "run", filled: &filled) == ["mine", 1])
        #expect(filled.isEmpty)
    }

    @Test func aKeptContextHoldsOnlyTheFieldsReadDuringItsCall() throws {
        let vm = try vm("""
            keep = function(ctx) kept = ctx; return ctx.user.name end,
            keep_unread = function(ctx) kept = ctx; return true end,
            other = function(ctx) return true end,
            user = function() return kept.user.name end,
            token = function() return kept.token end,
            raw = function() return rawget(kept, "token") end,
            count = function() local n = 0; for _ in pairs(kept) do n = n + 1 end; return n end,
            """)
        var filled: [Int] = []
        #expect(try call(vm, "keep", user: "ann", filled: &filled) == ["ann"])
        #expect(try call(vm, "other", user: "bob", filled: &filled) == [true])
        #expect(try vm.call(plugin: "ctx", hook: "user") == ["ann"])
        #expect(try vm.call(plugin: "ctx", hook: "count") == [1])
        for hook in ["token", "raw"] {
            let error = #expect(throws: LuaError.self) { try vm.call(plugin: "ctx", hook: hook) }
            #expect(error?.message.contains("hook context field 'token' read after the hook returned") == true)
        }

        // A context kept unread never shows a later call's values, even while that call runs.
        #expect(try call(vm, "keep_unread", user: "carol", filled: &filled) == [true])
        let error = #expect(throws: LuaError.self) { try call(vm, "user", user: "dave", filled: &filled) }
        #expect(error?.message.contains("'user'") == true)
        #expect(filled == [1])
    }

    @Test func theMetatableIsLockedAndCoroutinesReadTheContext() throws {
        let vm = try vm("""
            meta = function(ctx) return getmetatable(ctx), (pcall(setmetatable, ctx, {})) end,
            co = function(ctx) return coroutine.wrap(function() return ctx.user.name end)() end,
            """)
        var filled: [Int] = []
        #expect(try call(vm, "meta", filled: &filled) == [false, false])
        #expect(try call(vm, "co", filled: &filled) == ["ann"])
        #expect(filled == [1])
    }
}
