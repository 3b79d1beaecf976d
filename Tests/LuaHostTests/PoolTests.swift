import Foundation
import LuaHost
import Synchronization
import Testing

@Suite("Pool, stats and reload")
struct PoolTests {
    static func versioned(_ version: String) -> String {
        """
        return { version = "\(version)", hooks = {
          which = function() return "\(version)" end,
          fail = function() error("failing on purpose") end,
        } }
        """
    }

    @Test func poolCountsCallsErrorsAndTime() throws {
        let dir = try PluginDir()
        let source = try dir.write("p.lua", Self.versioned("v1"))
        let pool = try LuaPool.make(plugins: [source], size: 2)
        #expect(pool.plugins.map(\.name) == ["p"])
        for _ in 0..<3 { #expect(try pool.call(plugin: "p", hook: "which") == ["v1"]) }
        #expect(throws: LuaError.self) { try pool.call(plugin: "p", hook: "fail") }
        let which = pool.stats[plugin: "p", hook: "which"]
        #expect(which.calls == 3)
        #expect(which.errors == 0)
        #expect(which.totalNanoseconds > 0)
        let fail = pool.stats[plugin: "p", hook: "fail"]
        #expect(fail.calls == 1)
        #expect(fail.errors == 1)
        #expect(pool.stats.snapshot().count == 2)
    }

    /// `tryWithVM` (for event loops) neither waits nor creates a VM; `withVM` sleeps until one is returned.
    @Test func tryNeverWaitsAndWaitersWakeWhenAVMComesBack() async throws {
        let dir = try PluginDir()
        let source = try dir.write("p.lua", Self.versioned("v1"))
        let pool = try LuaPool.make(plugins: [source], size: 1, maxSize: 1)
        let held = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? pool.withVM { _ in
                held.signal()
                release.wait()
            }
        }
        held.wait()
        #expect(pool.tryWithVM { _ in 1 } == nil)
        #expect(pool.vmCount == 1)
        // The waiter blocks, so it runs on a thread of its own, not on Swift's cooperative pool.
        let answer = try await withCheckedThrowingContinuation { (c: CheckedContinuation<[LuaValue], any Error>) in
            DispatchQueue.global().async { c.resume(with: Result { try pool.call(plugin: "p", hook: "which") }) }
            release.signal()
        }
        #expect(answer == ["v1"])
        let again = try pool.tryWithVM { vm in try vm.call(plugin: "p", hook: "which") }
        #expect(again == ["v1"])
        #expect(pool.vmCount == 1)
    }

    @Test func poolLendsEachVMToOneCallerAndGrowsUpToMax() async throws {
        let dir = try PluginDir()
        let source = try dir.write("p.lua", """
            local n = 0
            return { hooks = { bump = function() n = n + 1; local s = 0 for i = 1, 20000 do s = s + i end; return n end } }
            """)
        let pool = try LuaPool.make(plugins: [source], size: 1, maxSize: 3)
        let total = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    for _ in 0..<50 {
                        if (try? pool.call(plugin: "p", hook: "bump")) != nil { total.withLock { $0 += 1 } }
                    }
                }
            }
        }
        #expect(total.withLock { $0 } == 300)
        #expect(pool.vmCount >= 1 && pool.vmCount <= 3)
        #expect(pool.stats[plugin: "p", hook: "bump"].calls == 300)
    }

    @Test func trivialHookCallOverheadIsSmall() throws {
        let dir = try PluginDir()
        let source = try dir.write("p.lua", "return { hooks = { noop = function() end } }")
        let pool = try LuaPool.make(plugins: [source], size: 1)
        let n = 20_000
        let start = ContinuousClock.now
        for _ in 0..<n { _ = try pool.call(plugin: "p", hook: "noop") }
        let perCall = (ContinuousClock.now - start) / n
        print("trivial hook call through the pool: \(perCall)")
        #expect(perCall < .microseconds(100)) // generous: debug builds on a shared machine
    }

    @Test func reloadSwapsInTheNewSet() throws {
        let dir = try PluginDir()
        let source = try dir.write("p.lua", Self.versioned("v1"))
        let plugins = try LuaPlugins(plugins: [source], size: 2)
        #expect(try plugins.call(plugin: "p", hook: "which") == ["v1"])
        try dir.write("p.lua", Self.versioned("v2"))
        try plugins.reload()
        #expect(try plugins.call(plugin: "p", hook: "which") == ["v2"])
        #expect(plugins.plugins.first?.version == "v2")
        #expect(plugins.stats[plugin: "p", hook: "which"].calls == 2) // stats survive reloads
    }

    @Test func failedReloadKeepsTheOldSet() throws {
        let dir = try PluginDir()
        let source = try dir.write("p.lua", Self.versioned("v1"))
        let plugins = try LuaPlugins(plugins: [source])
        let before = plugins.pool
        try dir.write("p.lua", "return { hooks = { which = function() return 'v2' end }\n") // missing brace
        let error = #expect(throws: LuaError.self) { try plugins.reload() }
        #expect(error?.code == .syntax)
        #expect(error?.message.contains("p.lua:2:") == true, "\(String(describing: error))")
        #expect(plugins.pool === before)
        #expect(try plugins.call(plugin: "p", hook: "which") == ["v1"])

        // One bad plugin among good ones fails the whole reload.
        let other = try dir.write("q.lua", "return { check = function() return nil, 'missing key' end }")
        try dir.write("p.lua", Self.versioned("v3"))
        #expect(throws: LuaError.self) { try plugins.reload(plugins: [source, other]) }
        #expect(try plugins.call(plugin: "p", hook: "which") == ["v1"])
    }

    @Test func reloadWhileOtherThreadsCallHooks() throws {
        let a = try PluginDir()
        let b = try PluginDir()
        let v1 = try a.write("p.lua", Self.versioned("v1"))
        let v2 = try b.write("p.lua", Self.versioned("v2"))
        let plugins = try LuaPlugins(plugins: [v1], size: 2, maxSize: 4)
        let answers = Locked<[String: Int]>([:])
        let stop = Locked(false)
        let callers = DispatchGroup()
        // Real threads: callers spin without suspending, which would starve a cooperative pool.
        for _ in 0..<4 {
            callers.enter()
            Thread.detachNewThread {
                while !stop.withLock({ $0 }) {
                    let key: String
                    do { key = try plugins.call(plugin: "p", hook: "which").first?.stringValue ?? "empty" } catch { key = "error: \(error)" }
                    answers.withLock { $0[key, default: 0] += 1 }
                }
                callers.leave()
            }
        }
        // Reloads start once the callers are calling (on a loaded machine the threads start late).
        while answers.withLock({ $0.isEmpty }) { Thread.sleep(forTimeInterval: 0.001) }
        for i in 0..<8 {
            try plugins.reload(plugins: [i.isMultiple(of: 2) ? v2 : v1])
        }
        stop.withLock { $0 = true }
        callers.wait()
        let seen = answers.withLock { $0 }
        #expect(Set(seen.keys).isSubset(of: ["v1", "v2"]), "\(seen)")
        #expect(seen.values.reduce(0, +) > 0)
        #expect(try plugins.call(plugin: "p", hook: "which") == ["v1"])
    }
}
