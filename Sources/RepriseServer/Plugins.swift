import Dispatch
import Foundation
import GRDB
import Hummingbird
import Logging
import LuaHost
import RepriseConfig
import RepriseCore
import RepriseHTTP
import ReprisePlugins
import RepriseSQLite
import RepriseStorage
import ServiceLifecycle

extension RepriseSettings {
    /// The `plugins:` section, validated: unknown keys and wrong values name the file and key.
    public func pluginSettings() throws -> PluginSettings {
        var out = PluginSettings(file: file)
        out.poolSize = max(2, min(64, ProcessInfo.processInfo.activeProcessorCount))
        guard let tree = trees["plugins"] else { return out }
        let entries: [(String, ConfigTree)]
        switch tree {
        case .map(let e): entries = e
        case .scalar(let s) where s.isEmpty: return out
        default: throw RepriseError(.config, "\(file): 'plugins' must be a mapping (paths, enabled, config, budget_instructions, memory_limit, pool_size)")
        }
        func fail(_ key: String, _ what: String) -> RepriseError { RepriseError(.config, "\(file): plugins.\(key): \(what)") }
        for (key, value) in entries {
            switch key {
            case "paths":
                guard let paths = value.strings, !paths.isEmpty, !paths.contains(where: \.isEmpty) else {
                    throw fail(key, "expected a folder or a list of folders")
                }
                out.paths = paths
            case "enabled":
                guard let names = value.strings, case .list = value else { throw fail(key, "expected a list of plugin names") }
                for name in names where name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                    throw fail(key, "'\(name)' is not a plugin name (letters, digits, _ and -)")
                }
                if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) { throw fail(key, "'\(dup)' is listed twice") }
                out.enabled = names
                out.enabledExplicitly = true
            case "config":
                guard case .map(let sections) = value else {
                    if case .scalar(let s) = value, s.isEmpty { continue }
                    throw fail(key, "expected a mapping of plugin name to its settings")
                }
                for (name, section) in sections { out.config[name] = section.luaValue }
            case "budget_instructions":
                guard let n = value.scalar.flatMap({ Int($0.replacingOccurrences(of: "_", with: "")) }), n >= 1_000, n <= 1_000_000_000 else {
                    throw fail(key, "expected an integer from 1000 to 1000000000 (Lua instructions per hook call)")
                }
                out.budgetInstructions = n
            case "memory_limit":
                guard let n = value.scalar.flatMap(Self.bytes), n >= 1 << 20 else {
                    throw fail(key, "expected bytes of at least 1 MiB, e.g. 33554432 or 32MiB")
                }
                out.memoryLimit = n
            case "pool_size":
                guard let n = value.scalar.flatMap({ Int($0) }), (1...256).contains(n) else { throw fail(key, "expected an integer from 1 to 256 (VMs per pool)") }
                out.poolSize = n
            default:
                throw fail(key, "unknown key (known: paths, enabled, config, budget_instructions, memory_limit, pool_size)")
            }
        }
        return out
    }

    /// Bytes from `33554432`, `32MiB`, `512KiB`, `1GiB` (also `M`, `MB`, `K`, `KB`, `G`, `GB`).
    static func bytes(_ text: String) -> Int? {
        let t = text.replacingOccurrences(of: "_", with: "").trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber }
        guard let n = Int(digits) else { return nil }
        let scale: Int? = switch t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "b": 1
        case "k", "kb", "kib": 1 << 10
        case "m", "mb", "mib": 1 << 20
        case "g", "gb", "gib": 1 << 30
        default: nil
        }
        guard let scale else { return nil }
        let (r, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : r
    }
}

extension ConfigTree {
    /// The subtree as a Lua value: `true`/`false` become booleans, numbers become numbers.
    var luaValue: LuaValue {
        switch self {
        case .scalar(let s):
            if s == "true" { return .bool(true) }
            if s == "false" { return .bool(false) }
            if let i = Int64(s) { return .integer(i) }
            if s.contains("."), let d = Double(s), d.isFinite { return .number(d) }
            return .string(s)
        case .list(let items): return .array(items.map(\.luaValue))
        case .map(let entries):
            var t: [String: LuaValue] = [:]
            for (k, v) in entries { t[k] = v.luaValue }
            return .table(t)
        }
    }
}

/// Builds the plugin host of `reprise serve`; a plugin that fails to load is a configuration error.
func makePluginHost(settings: RepriseSettings, db: DatabasePool, logger: Logger) throws -> PluginHost {
    let pluginSettings = try settings.pluginSettings()
    // A reload reads the file's `plugins:` section again (paths, enabled, config, budgets).
    let file = settings.file
    let reread: @Sendable () throws -> PluginSettings = {
        do {
            return try ConfigLoader.load(file: file, env: ProcessInfo.processInfo.environment).pluginSettings()
        } catch let error as RepriseError {
            throw PluginError(.load, error.message)
        }
    }
    do {
        return try PluginHost(settings: pluginSettings, logger: logger, reloadSettings: reread)
    } catch let error as PluginError {
        throw RepriseError(.config, error.message)
    }
}

/// `GET /api/v1/admin/plugins` and `POST /api/v1/admin/plugins/reload` (admins only).
public func pluginRoutes(_ plugins: PluginHost, app: AppServices) -> RouteModule {
    RouteModule.build { on in
        on("/api/v1/admin/plugins", .get) { request, context in
            _ = try context.requireAdmin()
            return try json(.ok, PluginList(plugins: plugins.report()))
        }
        on("/api/v1/admin/plugins/reload", .post) { request, context in
            _ = try context.requireAdmin()
            do {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    DispatchQueue.global().async {
                        do { try plugins.reload(); c.resume() } catch { c.resume(throwing: error) }
                    }
                }
            } catch let error as PluginError {
                throw APIError(.unprocessableContent, code: .pluginLoadFailed, "reload failed, the running plugins stay: \(error.message)")
            }
            return try json(.ok, PluginList(plugins: plugins.report()))
        }
    }
}

/// The body of the plugin admin endpoints.
struct PluginList: Encodable {
    var plugins: [PluginReport]
}

/// Reloads the plugins on SIGHUP until graceful shutdown.
public struct PluginReloadService: Service {
    let plugins: PluginHost
    let logger: Logger

    /// Creates the service.
    public init(plugins: PluginHost, logger: Logger) {
        self.plugins = plugins
        self.logger = logger
    }

    public func run() async throws {
        let plugins = self.plugins
        let logger = self.logger
        signal(SIGHUP, SIG_IGN)
        let queue = DispatchQueue(label: "reprise.plugins.sighup")
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        source.setEventHandler {
            logger.notice("SIGHUP: reloading plugins")
            // A failure is logged by the host; the running plugins stay.
            try? plugins.reload()
        }
        source.resume()
        try? await gracefulShutdown()
        source.cancel()
    }
}

/// `reprise plugin check`: every enabled plugin loaded on its own, as lines for people.
public func pluginCheckReport(settings: RepriseSettings) throws -> (text: String, failed: Bool) {
    let report = PluginCheck.run(try settings.pluginSettings())
    var lines: [String] = []
    for e in report.entries {
        let head = [e.name, e.version.map { "v\($0)" }, e.file].compactMap { $0 }.joined(separator: "  ")
        if e.problems.isEmpty {
            lines.append("ok      \(head)  hooks: \(e.hooks.isEmpty ? "none" : e.hooks.joined(separator: ", "))")
        } else {
            lines.append("FAILED  \(head)")
            for p in e.problems { lines.append("        \(p)") }
        }
    }
    for w in report.warnings { lines.append("warning: \(w)") }
    let bad = report.entries.filter { !$0.problems.isEmpty }.count
    lines.append("\(report.entries.count) plugin\(report.entries.count == 1 ? "" : "s") checked, \(bad) with problems")
    return (lines.joined(separator: "\n"), report.failed)
}

/// What `reprise plugin bench` measured: the cost of the token policy per stream request.
public struct HookBenchResult: Codable, Sendable {
    /// Calls per batch and batches run.
    public var calls: Int
    public var batches: Int
    /// Median nanoseconds per `authorize` through the enabled plugins, and through the built-in policy.
    public var hookNs: Double
    public var builtinNs: Double
    /// `hookNs - builtinNs`: what the Lua hooks add to one stream request.
    public var overheadNs: Double
}

/// Times the configured token policy's `authorize` (as `/stream` calls it) against the built-in one.
public func pluginBench(settings: RepriseSettings, calls: Int, batches: Int) throws -> HookBenchResult {
    let host = try PluginHost(settings: try settings.pluginSettings(), logger: Logger(label: "bench"))
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let token = StreamTokenInfo(id: 1, userId: 1, userName: "bench", label: "bench", createdAt: now, expiresAt: nil, lastUsedAt: now, revokedAt: nil)
    let user = User(id: 1, name: "bench", role: .user, disabled: false, createdAt: now)
    let request = StreamRequestFacts(method: "GET", path: "/stream/1", ip: "127.0.0.1", userAgent: "wrk", range: "bytes=0-65535")
    let song = Song(id: 1, path: "/music/a.flac", size: 4096, mtimeMs: now, title: "A", artist: "B", artistId: 1, album: "C", albumId: 1,
                    albumArtist: nil, track: 1, disc: nil, year: nil, genre: nil, durationMs: 1000, bitrate: 320, sampleRate: 44100, channels: 2, format: "flac")
    func median(_ policy: any TokenPolicy) -> Double {
        var perCall: [Double] = []
        for _ in 0..<batches {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls {
                guard case .allow = policy.authorize(token: token, user: user, request: request, songId: 1, song: song) else { continue }
            }
            perCall.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls))
        }
        return perCall.sorted()[perCall.count / 2]
    }
    _ = median(host)  // warm-up: VMs, caches
    let hook = median(host), builtin = median(DefaultTokenPolicy())
    return HookBenchResult(calls: calls, batches: batches, hookNs: hook, builtinNs: builtin, overheadNs: hook - builtin)
}
