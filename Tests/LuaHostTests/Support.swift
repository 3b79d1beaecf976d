import Foundation
import TestSupport
import LuaHost
import Synchronization

/// A temporary plugin directory, removed when released.
final class PluginDir: Sendable {
    let path: String

    init() throws {
        path = try TempDir("luahost").path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `name` (relative, may contain subdirectories) and returns its source.
    @discardableResult
    func write(_ name: String, _ text: String, config: LuaValue = .table([:])) throws -> PluginSource {
        let file = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return PluginSource(path: file, config: config)
    }
}

/// A plugin whose `run` hook evaluates Lua text inside the plugin's sandbox.
let probeSource = """
return {
  name = "probe",
  version = "1.0",
  hooks = {
    run = function(src, ...)
      local chunk, err = load(src, "=probe")
      if not chunk then error(err, 0) end
      return chunk(...)
    end,
  },
}
"""

/// A VM with one `probe` plugin (and its directory, kept alive alongside).
struct Probe {
    let dir: PluginDir
    let vm: LuaVM

    init(limits: LuaLimits = LuaLimits(), registry: HostFunctionRegistry = HostFunctionRegistry(), extra: [(String, String)] = []) throws {
        dir = try PluginDir()
        var sources = [try dir.write("probe.lua", probeSource)]
        for (name, text) in extra { sources.append(try dir.write(name, text)) }
        vm = try LuaVM(limits: limits, registry: registry)
        try vm.load(plugins: sources)
    }

    /// Runs `src` in the probe plugin.
    @discardableResult
    func run(_ src: String, _ args: LuaValue...) throws -> [LuaValue] {
        try vm.call(plugin: "probe", hook: "run", args: [.string(src)] + args)
    }

    /// Runs `src`, expecting a LuaError, and returns it.
    func failure(_ src: String) -> LuaError? {
        do {
            _ = try run(src)
            return nil
        } catch let error as LuaError {
            return error
        } catch {
            return nil
        }
    }

    /// True when the VM still answers a trivial call.
    var stillWorks: Bool {
        (try? run("return 40 + 2")) == [.integer(42)]
    }
}

/// Collects log lines from a log sink.
final class LogRecorder: Sendable {
    struct Line: Sendable, Equatable {
        var level: String
        var plugin: String
        var message: String
        var fields: [String: LuaValue]
    }

    private let storage = Locked<[Line]>([])

    var lines: [Line] { storage.withLock { $0 } }

    var sink: HostFunctionRegistry.LogSink {
        { level, plugin, message, fields in
            self.storage.withLock { $0.append(Line(level: level, plugin: plugin, message: message, fields: fields)) }
        }
    }
}

@_exported import RepriseSync  // `Locked`, a value shared between test tasks
