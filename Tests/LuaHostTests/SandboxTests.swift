import LuaHost
import Testing

@Suite("Sandbox escapes fail cleanly and the VM keeps working")
struct SandboxTests {
    @Test func osExecuteIsAbsent() throws {
        let probe = try Probe()
        #expect(try probe.run("return os.execute, os.exit, os.getenv, os.remove") == [.nil, .nil, .nil, .nil])
        let error = try #require(probe.failure("os.execute('touch /tmp/pwned')"))
        #expect(error.code == .runtime)
        #expect(error.message.contains("execute"))
        #expect(try probe.run("return type(os.time()), type(os.clock())") == ["number", "number"])
        #expect(probe.stillWorks)
    }

    @Test func ioDebugPackageAreAbsent() throws {
        let probe = try Probe()
        #expect(try probe.run("return io, debug, package, dofile, loadfile") == [.nil, .nil, .nil, .nil, .nil])
        let error = try #require(probe.failure("return io.open('/etc/passwd')"))
        #expect(error.message.contains("global 'io'"))
        #expect(probe.stillWorks)
    }

    @Test func requireOfAStandardLibraryFails() throws {
        let probe = try Probe()
        let error = try #require(probe.failure("return require 'os'"))
        #expect(error.code == .runtime)
        #expect(error.message.contains("module 'os' not found"))
        #expect(probe.stillWorks)
    }

    @Test func bytecodeCannotBeLoaded() throws {
        let probe = try Probe()
        #expect(try probe.run("return string.dump") == [.nil])
        let dump = try #require(probe.failure("return load(string.dump(function() return 1 end))"))
        #expect(dump.message.contains("dump"))
        let result = try probe.run("return load('\\27Lua\\84\\0 rest of a binary chunk')")
        #expect(result.first == .nil)
        #expect(result.dropFirst().first?.stringValue?.contains("binary") == true)
        let reader = try probe.run("""
            local parts = {'\\27Lua', '\\84'}
            return load(function() return table.remove(parts, 1) end)
            """)
        #expect(reader.first == .nil)
        #expect(probe.stillWorks)
    }

    @Test func textChunksLoadIntoThePluginEnvironment() throws {
        let probe = try Probe()
        #expect(try probe.run("greeting = 'hi'; return load('return greeting .. \"!\"')()") == ["hi!"])
    }

    @Test func stringMetatableCannotBeChanged() throws {
        let probe = try Probe(extra: [("other.lua", "return { hooks = { up = function(s) return s:upper(), string.upper(s) end } }")])
        let error = try #require(probe.failure("getmetatable('').__index.upper = nil"))
        #expect(error.message.contains("read-only"))
        #expect(probe.failure("rawset(getmetatable('').__index, 'upper', nil)") != nil)
        #expect(probe.failure("setmetatable(getmetatable(''), {})") != nil)
        #expect(probe.failure("getmetatable('').__index = {}") != nil)
        #expect(try probe.run("return ('abc'):upper()") == ["ABC"])
        #expect(try probe.vm.call(plugin: "other", hook: "up", args: ["x"]) == ["X", "X"])
    }

    @Test func sharedLibraryTablesAreReadOnly() throws {
        let probe = try Probe(extra: [("other.lua", "return { hooks = { pi = function() return math.pi, type(string.upper) end } }")])
        for attempt in ["string.upper = nil", "math.pi = 4", "rawset(math, 'pi', 4)", "table.insert = print",
                        "os.time = nil", "coroutine.wrap = nil", "setmetatable(math, nil)", "utf8.char = nil"] {
            let error = try #require(probe.failure(attempt), "\(attempt) should fail")
            #expect(error.code == .runtime)
        }
        #expect(try probe.run("return math.pi") == [.number(Double.pi)])
        #expect(try probe.vm.call(plugin: "other", hook: "pi") == [.number(Double.pi), "function"])
        #expect(try probe.run("local n = 0; for k in pairs(math) do n = n + 1 end; return n > 10, #string.rep('a', 3)") == [true, 3])
    }

    @Test func pluginEnvironmentIsLocked() throws {
        let probe = try Probe()
        #expect(try probe.run("return getmetatable(_ENV)") == [false])
        #expect(probe.failure("setmetatable(_ENV, nil)") != nil)
        #expect(probe.failure("collectgarbage()") != nil)
        #expect(try probe.run("return type(collectgarbage('count'))") == ["number"])
        #expect(try probe.run("print = nil; return print") == [.nil]) // its own _ENV only
        #expect(probe.stillWorks)
    }

    @Test func memoryCapStopsHugeAllocationsAndTheVMRecovers() throws {
        let probe = try Probe(limits: LuaLimits(memoryLimitBytes: 16 << 20))
        let error = try #require(probe.failure("return string.rep('x', 1e9)"))
        #expect(error.code == .memoryLimit)
        #expect(error.message.contains("not enough memory"))
        let table = try #require(probe.failure("local t = {} for i = 1, 1e8 do t[i] = i end"))
        #expect(table.code == .memoryLimit)
        #expect(try probe.run("return #string.rep('x', 1000)") == [1000])
        #expect(probe.vm.memoryInUse < 16 << 20)
        #expect(probe.stillWorks)
    }

    @Test func instructionBudgetStopsInfiniteLoops() throws {
        let probe = try Probe(limits: LuaLimits(instructionBudget: 100_000))
        let error = try #require(probe.failure("while true do end"))
        #expect(error.code == .budgetExceeded)
        #expect(error.message.contains("instruction budget exceeded"))
        #expect(error.message.contains("probe:1:"))
        #expect(probe.stillWorks)
        // The budget is per call: many cheap calls in a row all succeed.
        for _ in 0..<5 { #expect(try probe.run("local s = 0 for i = 1, 10000 do s = s + i end return s") == [50_005_000]) }
    }

    @Test func pcallCannotSwallowTheBudgetError() throws {
        let probe = try Probe(limits: LuaLimits(instructionBudget: 100_000))
        let loops = [
            "while true do pcall(function() while true do end end) end",
            "while true do pcall(error, 'x') end",
            "local n = 0 while true do local ok = xpcall(function() while true do end end, function(e) n = n + 1 return e end) end",
            "local function f() return pcall(f) end while true do f() end",
        ]
        for loop in loops {
            let error = try #require(probe.failure(loop), "\(loop) should be stopped")
            #expect(error.code == .budgetExceeded, "\(loop): \(error)")
            #expect(probe.stillWorks)
        }
    }

    @Test func deepRecursionIsACleanError() throws {
        // No deadline: under ThreadSanitizer the recursion takes longer than the default 500 ms.
        let probe = try Probe(limits: LuaLimits(instructionBudget: 100_000_000, memoryLimitBytes: 256 << 20, hookDeadlineMs: 0))
        let lua = try #require(probe.failure("local function f(n) return 1 + f(n + 1) end return f(1)"))
        #expect(lua.code == .runtime)
        #expect(lua.message.contains("stack overflow"))
        let c = try #require(probe.failure("local function f(s) return (s:gsub('.', f)) end return f('x')"))
        #expect(c.message.contains("stack overflow"))
        #expect(probe.stillWorks)
    }

    @Test func endlessCoroutinesAreStopped() throws {
        let probe = try Probe(limits: LuaLimits(instructionBudget: 100_000))
        let wrapped = try #require(probe.failure("coroutine.wrap(function() while true do end end)()"))
        #expect(wrapped.code == .budgetExceeded)
        let resumed = try #require(probe.failure("""
            local co = coroutine.create(function() while true do end end)
            while true do coroutine.resume(co) end
            """))
        #expect(resumed.code == .budgetExceeded)
        let yielding = try #require(probe.failure("""
            local co = coroutine.wrap(function() while true do coroutine.yield() end end)
            while true do co() end
            """))
        #expect(yielding.code == .budgetExceeded)
        let swallowing = try #require(probe.failure("""
            coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()
            """))
        #expect(swallowing.code == .budgetExceeded)
        // A coroutine created in one call and kept runs under later calls' budgets too.
        try probe.run("keep = coroutine.create(function() while true do end end)")
        // Even when resume catches the error, the call as a whole fails: the budget is gone.
        let kept = try #require(probe.failure("local ok, err = coroutine.resume(keep) return ok, err"))
        #expect(kept.code == .budgetExceeded)
        #expect(probe.stillWorks)
    }
}

@Suite struct ValueTests {
    /// A record reaches Lua as a table in which nil fields are absent; Lua hands it back as `.table`.
    @Test func recordsArePlainTables() throws {
        let probe = try Probe()
        let rec: LuaValue = .record([LuaField("a", 1), LuaField("b", .nil), LuaField("c", .record([LuaField("d", "x")]))])
        let out = try probe.run("local r = ...; local n = 0; for _ in pairs(r) do n = n + 1 end; return n, r.b == nil, r.c.d, r", rec)
        #expect(out[0] == 2 && out[1] == true && out[2] == "x")
        #expect(out[3] == .table(["a": 1, "c": .table(["d": "x"])]))
        #expect(rec["c"]["d"] == "x" && rec.tableValue?.keys.sorted() == ["a", "c"])
    }
}
