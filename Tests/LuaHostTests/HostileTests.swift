import Foundation
import LuaHost
import Testing

/// FINDINGS H5, H6, H15, H18: plugins that try to run away, expand, write shared tables or fail oddly.
@Suite struct HostileTests {
    /// H5: a backtracking pattern is stopped by the budget inside the matcher, and the VM lives on.
    @Test(arguments: ["find", "match", "gsub", "gmatch"])
    func backtrackingPatternsAreBudgeted(_ fn: String) throws {
        let probe = try Probe(limits: LuaLimits(instructionBudget: 2_000_000))
        let call = fn == "gmatch" ? "for _ in s:gmatch(p) do end" : fn == "gsub" ? "s:gsub(p, '')" : "s:\(fn)(p)"
        let error = try #require(probe.failure("""
            local s = string.rep('a', 5000)
            local p = string.rep('a*', 30) .. 'b'
            \(call)
            """))
        #expect(error.code == .budgetExceeded, "\(error)")
        #expect(error.message.contains("pattern matching exceeded the instruction budget"), "\(error.message)")
        // pcall cannot swallow it either.
        let swallowed = try #require(probe.failure("pcall(string.find, string.rep('a', 5000), string.rep('a*', 30) .. 'b'); return 1"))
        #expect(swallowed.code == .budgetExceeded)
        #expect(probe.stillWorks)
    }

    /// H5: the shipped example's pattern over a crafted 7 KB agent ends within the budget.
    @Test func agentPatternOnACraftedAgentIsBounded() throws {
        let probe = try Probe()
        let agent = "vlc" + String(repeating: "libvlc", count: 1200)
        // Lua's own matcher took 21 s here and answered false; the budget stops it instead.
        let error = try #require(throws: LuaError.self) { try probe.run("return (...):find('vlc.*libvlc.*linux') ~= nil", .string(agent)) }
        #expect(error.code == .budgetExceeded, "\(error)")
        #expect(try probe.run("return ('vlc 3.0 libvlc linux'):find('vlc.*libvlc.*linux') ~= nil") == [true])
        #expect(probe.stillWorks)
    }

    /// H5: patterns behave as Lua's own do.
    @Test func patternsKeepLuaSemantics() throws {
        let probe = try Probe()
        #expect(try probe.run("return ('hello world'):find('o w')") == [5, 7])
        #expect(try probe.run("return ('hello world'):find('l+')") == [3, 4])
        #expect(try probe.run("return ('a.b'):find('.', 1, true)") == [2, 2])
        #expect(try probe.run("return ('key = value'):match('(%w+)%s*=%s*(%w+)')") == ["key", "value"])
        #expect(try probe.run("return ('  trim  '):match('^%s*(.-)%s*$')") == ["trim"])
        #expect(try probe.run("return ('abc'):match('()b()')") == [2, 3])
        #expect(try probe.run("return ('THE (quick) fox'):find('%((%a+)%)')") == [5, 11, "quick"])
        #expect(try probe.run("return ('f(a(b)c)d'):match('%b()')") == ["(a(b)c)"])
        #expect(try probe.run("return ('THE (quick) fox'):gsub('%f[%a]%a+', function(w) return w:lower() end)") == ["the (quick) fox", 3])
        #expect(try probe.run("return ('hello'):gsub('l', {l = 'L'})") == ["heLLo", 2])
        #expect(try probe.run("return ('abc'):gsub('%w', '%0%0')") == ["aabbcc", 3])
        #expect(try probe.run("return ('abc'):gsub('', '-')") == ["-a-b-c-", 4])
        #expect(try probe.run("return ('x = 1, y = 2'):gsub('(%w+) = (%w+)', '%2 = %1', 1)") == ["1 = x, y = 2", 1])
        #expect(try probe.run("local t = {} for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do t[#t+1] = k .. v end return table.concat(t, ',')") == ["a1,b2"])
        #expect(try probe.run("return ('hello'):find('l', -2)") == [4, 4])
        #expect(try probe.run("return ('aaa'):match('^(a-)a$')") == ["aa"])
        #expect(try probe.run("return ('abab'):match('(ab)%1')") == ["ab"])
        #expect(try probe.run("return ('x'):find('y')") == [.nil])
        #expect(try probe.run("return ('[x]'):match('[%[](.)[%]]')") == ["x"])
        #expect(try probe.run("return ('a-b'):match('[a-]+')") == ["a-"])
        let bad = try #require(probe.failure("return ('x'):find('[a')"))
        #expect(bad.message.contains("missing ']'"))
        let esc = try #require(probe.failure("return ('x'):gsub('x', '%2')"))
        #expect(esc.message.contains("invalid capture index"))
    }

    /// H6: an answer of shared subtables is refused, not expanded exponentially.
    @Test func sharedSubtablesCannotExpand() throws {
        let probe = try Probe()
        let error = try #require(probe.failure("local t = {} for i = 1, 30 do t = {t, t} end return t"))
        #expect(error.code == .memoryLimit)
        #expect(error.message.contains("too large to convert"))
        // The same through a host function's arguments: reprise.log raises instead of converting.
        let host = try #require(probe.failure("local t = {} for i = 1, 30 do t = {t, t} end reprise.log.info('x', {t = t})"))
        #expect(host.message.contains("too large to convert"), "\(host.message)")
        #expect(probe.stillWorks)
    }

    /// H15: the table pairs() hands out is the proxy, never the shared table behind it.
    @Test func readOnlyTablesStayReadOnlyThroughPairs() throws {
        let probe = try Probe(extra: [("other.lua", "return { hooks = { date = function() return type(os.date), math.pi end } }")])
        for attempt in [
            "local _, raw = pairs(os); raw.date = function() return 'x' end",
            "local f, raw = pairs(math); rawset(raw, 'pi', 4)",
            "local f, raw, k = pairs(string); raw.upper = nil",
            "for k, v in pairs(os) do end; local _, s = pairs(os); s.time = nil",
        ] {
            #expect(probe.failure(attempt) != nil, "\(attempt) should fail")
        }
        #expect(try probe.vm.call(plugin: "other", hook: "date") == ["function", .number(Double.pi)])
        #expect(try probe.run("local n = 0 for k, v in pairs(os) do n = n + 1 end return n") == [4])
    }

    /// H18: a load-time error names file and line whatever the error value is.
    @Test(arguments: [
        ("error({})", "error object is a table value"),
        ("coroutine.yield()", "yield"),
        ("local t = {} while true do t[#t + 1] = string.rep('x', 1024) end", "not enough memory"),
    ])
    func loadErrorsNameFileAndLine(_ body: String, _ expected: String) throws {
        let dir = try PluginDir()
        let source = try dir.write("bad.lua", "local x = 1\n\(body)\nreturn {}\n")
        let vm = try LuaVM(limits: LuaLimits(memoryLimitBytes: 4 << 20))
        let error = try #require(throws: LuaError.self) { try vm.load(plugins: [source]) }
        #expect(error.message.contains("bad.lua"), "\(error.message)")
        #expect(error.message.contains(expected), "\(error.message)")
    }
}
