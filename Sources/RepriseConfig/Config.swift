import Configuration
import Foundation
import RepriseCore
import Yams

/// Reprise's settings after layering CLI flags > `REPRISE_*` environment > YAML file > defaults.
public struct RepriseSettings: Sendable {
    public var httpHost: String
    public var httpPort: Int
    /// The base URL handed to players, without a trailing slash.
    public var publicURL: String
    public var maxBodyBytes: Int
    /// Whether stream bodies go out with `sendfile(2)` (else read and copied on a thread pool).
    public var sendfile: Bool
    /// Event-loop threads; 0 means one per CPU the process may run on.
    public var eventLoops: Int
    public var databasePath: String
    public var policy: SessionPolicy
    public var gcInterval: Int64
    public var gcJitter: Int64
    public var gcBatchSize: Int
    public var tokenRetention: Int64
    public var bcryptCost: Int
    public var logLevel: String
    /// Folders scanned for music.
    public var catalogPaths: [String]
    /// Time between automatic rescans, ms; 0 disables them.
    public var scanInterval: Int64
    /// Whether to scan once at start.
    public var scanOnStart: Bool
    /// Whether `GET /metrics` answers.
    public var metricsEnabled: Bool
    /// A bearer token `/metrics` requires, when set.
    public var metricsToken: String?
    /// Sections passed through as trees (plugin configs, players), keyed by their dotted path.
    public var trees: [String: ConfigTree]
    /// The file the settings came from.
    public var file: String
    /// How long a connection may take to send a complete request head, idle time between requests included, ms.
    public var requestTimeout: Int64 = 30_000
    /// How long a request body may take to arrive, ms.
    public var bodyTimeout: Int64 = 60_000
    /// Open connections allowed from one address.
    public var maxConnectionsPerPeer: Int = 256
    /// How long a write waits for the database's lock before failing (503 `storage_busy`), in ms.
    public var busyTimeoutMs: Int64 = 10_000
    /// Failed logins allowed per user name and per address inside `loginWindow`.
    public var loginFailures: Int = 10
    /// The window failed logins are counted in, ms.
    public var loginWindow: Int64 = 60_000
    /// SQLite connections that read at once.
    public var databaseReaders: Int = 5
    /// The key that seals client passwords, base64 of 32 bytes (`REPRISE_SECRET_KEY`); nil: the file `secret.key` beside the database.
    public var secretKey: String?

    /// The folder beside the database (`secret.key`, `art-cache/`).
    public var dataDirectory: String {
        let dir = (databasePath as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }
}

/// A YAML subtree kept as data: for sections whose keys the core does not own.
public indirect enum ConfigTree: Sendable, Equatable {
    case scalar(String)
    case list([ConfigTree])
    case map([(String, ConfigTree)])

    public static func == (a: ConfigTree, b: ConfigTree) -> Bool {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)): x == y
        case (.list(let x), .list(let y)): x == y
        case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

/// A configuration problem: names the file (or variable or flag), the key and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// The type a key accepts.
enum KeyType: Sendable {
    case string, int(ClosedRange<Int>), bool, duration, url, level, tree, stringList

    var expected: String {
        switch self {
        case .string: "a string"
        case .int(let r): "an integer from \(r.lowerBound) to \(r.upperBound)"
        case .bool: "true or false"
        case .duration: "a duration of at most 100 years (seconds, or a number with ms, s, m, h or d, e.g. 90s, 5m, 1h, 30d)"
        case .url: "an http:// or https:// URL"
        case .level: "one of trace, debug, info, notice, warning, error, critical"
        case .tree: "a mapping or list"
        case .stringList: "a list of strings (in the environment: comma-separated)"
        }
    }
}

/// Every key Reprise reads, with its type and default (nil: no default).
let schema: [(key: String, type: KeyType, default: String?)] = [
    ("http.host", .string, "127.0.0.1"),
    ("http.port", .int(0...65535), "8460"),
    ("http.public_url", .url, nil),
    ("http.max_body_bytes", .int(1024...(64 << 20)), "1048576"),
    ("http.sendfile", .bool, "true"),
    ("http.event_loops", .int(0...256), "0"),
    ("http.request_timeout", .duration, "30s"),
    ("http.body_timeout", .duration, "60s"),
    ("http.max_connections_per_peer", .int(1...100_000), "256"),
    ("database.path", .string, "data/reprise.sqlite"),
    ("database.busy_timeout", .duration, "10s"),
    ("database.readers", .int(1...64), "5"),
    ("sessions.web_ttl", .duration, "1h"),
    ("sessions.api_ttl", .duration, "24h"),
    ("sessions.min_age", .duration, "5m"),
    ("sessions.extend_interval", .duration, "60s"),
    ("gc.interval", .duration, "5m"),
    ("gc.jitter", .duration, "30s"),
    ("gc.batch_size", .int(1...100_000), "500"),
    ("tokens.retention", .duration, "30d"),
    ("auth.bcrypt_cost", .int(4...16), "12"),
    ("auth.login_failures", .int(1...1_000_000), "10"),
    ("auth.login_window", .duration, "1m"),
    ("log.level", .level, "info"),
    ("catalog.paths", .stringList, "music"),
    ("catalog.scan_interval", .duration, "1h"),
    ("catalog.scan_on_start", .bool, "true"),
    ("metrics.enabled", .bool, "true"),
    ("metrics.token", .string, nil),
    ("secret.key", .string, nil),
]

/// Separates list items in flattened values (file lists); environment lists use commas.
let listSeparator: Character = "\u{1F}"

/// Sections whose inner keys belong to someone else (plugins, players); kept as trees.
let treeSections: [String] = ["plugins", "playback", "ampache", "subsonic"]

/// Loads settings from a YAML file, the environment and CLI overrides.
public enum ConfigLoader {
    /// Reads `file` (which must exist), then `env` (`REPRISE_*`), then `overrides` (dotted keys).
    ///
    /// ```swift
    /// let s = try ConfigLoader.load(file: "config/reprise.yaml", env: ProcessInfo.processInfo.environment, overrides: ["http.port": "9000"])
    /// ```
    public static func load(file: String, env: [String: String], overrides: [String: String] = [:]) throws -> RepriseSettings {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(message: "\(file): cannot read the configuration file (does it exist?)")
        }
        return try load(text: text, file: file, env: env, overrides: overrides)
    }

    /// Settings from configuration text as if read from `file` (which only names it in errors).
    public static func load(text: String, file: String, env: [String: String], overrides: [String: String] = [:]) throws -> RepriseSettings {
        let parsed = try parseYAML(text, file: file)
        return try resolve(file: file, fileValues: parsed.scalars, lines: parsed.lines, trees: parsed.trees, env: env, overrides: overrides)
    }

    static func envName(_ key: String) -> String {
        "REPRISE_" + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    static func resolve(file: String, fileValues: [String: String], lines: [String: Int], trees: [String: ConfigTree], env: [String: String], overrides: [String: String]) throws -> RepriseSettings {
        for key in overrides.keys where !schema.contains(where: { $0.key == key }) {
            throw ConfigError(message: "command line: unknown setting '\(key)'")
        }
        func provider(_ name: String, _ values: [String: String]) -> InMemoryProvider {
            InMemoryProvider(name: name, values: Dictionary(uniqueKeysWithValues: values.map { (AbsoluteConfigKey(ConfigKey($0.key)), ConfigValue(.string($0.value), isSecret: false)) }))
        }
        let defaults = Dictionary(uniqueKeysWithValues: schema.compactMap { e in e.default.map { (e.key, $0) } })
        let reader = ConfigReader(providers: [
            provider("flags", overrides),
            EnvironmentVariablesProvider(environmentVariables: env).prefixKeys(with: ConfigKey("reprise")),
            provider(file, fileValues),
            provider("defaults", defaults),
        ])
        var values: [String: String] = [:]
        for entry in schema {
            guard let raw = reader.string(forKey: ConfigKey(entry.key)) else { continue }
            let source: String
            if overrides[entry.key] != nil {
                source = "command line"
            } else if env[envName(entry.key)] != nil {
                source = "environment variable \(envName(entry.key))"
            } else if fileValues[entry.key] != nil {
                source = lines[entry.key].map { "\(file):\($0)" } ?? file
            } else {
                source = "built-in default"
            }
            guard valid(raw, entry.type) else {
                throw ConfigError(message: "\(source): '\(entry.key)' must be \(entry.type.expected), got '\(raw)'")
            }
            values[entry.key] = raw
        }
        func ms(_ k: String) -> Int64 { DurationText.milliseconds(values[k]!)! }
        func int(_ k: String) -> Int { Int(values[k]!)! }
        let host = values["http.host"]!
        let port = int("http.port")
        var publicURL = values["http.public_url"] ?? "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        while publicURL.hasSuffix("/") { publicURL.removeLast() }
        let policy = SessionPolicy(webTTL: ms("sessions.web_ttl"), apiTTL: ms("sessions.api_ttl"), minAge: ms("sessions.min_age"), extendInterval: ms("sessions.extend_interval"))
        if policy.webTTL <= 0 || policy.apiTTL <= 0 {
            throw ConfigError(message: "\(file): 'sessions.web_ttl' and 'sessions.api_ttl' must be greater than zero")
        }
        if int("gc.batch_size") < 1 { throw ConfigError(message: "\(file): 'gc.batch_size' must be at least 1") }
        if ms("gc.interval") <= 0 { throw ConfigError(message: "\(file): 'gc.interval' must be greater than zero") }
        if ms("http.request_timeout") <= 0 || ms("http.body_timeout") <= 0 {
            throw ConfigError(message: "\(file): 'http.request_timeout' and 'http.body_timeout' must be greater than zero")
        }
        var settings = RepriseSettings(
            httpHost: host, httpPort: port, publicURL: publicURL, maxBodyBytes: int("http.max_body_bytes"),
            sendfile: values["http.sendfile"] == "true", eventLoops: int("http.event_loops"), databasePath: values["database.path"]!, policy: policy,
            gcInterval: ms("gc.interval"), gcJitter: ms("gc.jitter"), gcBatchSize: int("gc.batch_size"),
            tokenRetention: ms("tokens.retention"), bcryptCost: int("auth.bcrypt_cost"), logLevel: values["log.level"]!,
            catalogPaths: values["catalog.paths"]!.split(separator: values["catalog.paths"]!.contains(listSeparator) ? listSeparator : ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            scanInterval: ms("catalog.scan_interval"), scanOnStart: values["catalog.scan_on_start"] == "true",
            metricsEnabled: values["metrics.enabled"] == "true", metricsToken: values["metrics.token"].flatMap { $0.isEmpty ? nil : $0 },
            trees: trees, file: file)
        settings.requestTimeout = ms("http.request_timeout")
        settings.bodyTimeout = ms("http.body_timeout")
        settings.maxConnectionsPerPeer = int("http.max_connections_per_peer")
        settings.busyTimeoutMs = max(1, ms("database.busy_timeout"))
        settings.loginFailures = int("auth.login_failures")
        settings.loginWindow = max(1, ms("auth.login_window"))
        settings.secretKey = values["secret.key"].flatMap { $0.isEmpty ? nil : $0 }
        settings.databaseReaders = int("database.readers")
        return settings
    }

    static func valid(_ raw: String, _ type: KeyType) -> Bool {
        switch type {
        case .string: return true
        case .int(let r): return Int(raw).map(r.contains) ?? false
        case .bool: return ["true", "false"].contains(raw)
        case .duration: return Lifetime.parse(raw) != nil
        case .url: return (raw.hasPrefix("http://") || raw.hasPrefix("https://")) && URL(string: raw)?.host != nil
        case .level: return ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(raw)
        case .tree, .stringList: return true
        }
    }

    struct Parsed {
        var scalars: [String: String] = [:]
        var lines: [String: Int] = [:]
        var trees: [String: ConfigTree] = [:]
    }

    static func parseYAML(_ text: String, file: String) throws -> Parsed {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(message: "\(file): not valid YAML: \(error)")
        }
        var out = Parsed()
        guard let root else { return out }
        guard case .mapping(let top) = root else {
            throw ConfigError(message: "\(file):\(root.mark.map { "\($0.line)" } ?? "1"): the top level must be a mapping of sections")
        }
        func walk(_ mapping: Node.Mapping, prefix: String) throws {
            for (k, v) in mapping {
                let line = k.mark?.line ?? 0
                guard case .scalar(let ks) = k else { throw ConfigError(message: "\(file):\(line): keys must be plain names") }
                let key = prefix.isEmpty ? ks.string : prefix + "." + ks.string
                if treeSections.contains(key) {
                    out.trees[key] = tree(v)
                    out.lines[key] = line
                    continue
                }
                if let entry = schema.first(where: { $0.key == key }), case .stringList = entry.type {
                    switch v {
                    case .scalar(let s): out.scalars[key] = s.string
                    case .sequence(let seq) where seq.allSatisfy({ $0.scalar != nil }):
                        out.scalars[key] = seq.compactMap { $0.scalar?.string }.joined(separator: String(listSeparator))
                    default: throw ConfigError(message: "\(file):\(line): '\(key)' must be \(entry.type.expected)")
                    }
                    out.lines[key] = line
                    continue
                }
                if let entry = schema.first(where: { $0.key == key }) {
                    guard case .scalar(let s) = v else {
                        throw ConfigError(message: "\(file):\(line): '\(key)' must be \(entry.type.expected), got a \(v.isMapping ? "mapping" : "list")")
                    }
                    out.scalars[key] = s.string
                    out.lines[key] = line
                    continue
                }
                if case .mapping(let inner) = v, schema.contains(where: { $0.key.hasPrefix(key + ".") }) {
                    try walk(inner, prefix: key)
                    continue
                }
                throw ConfigError(message: "\(file):\(line): unknown key '\(key)'\(suggestion(for: key))")
            }
        }
        try walk(top, prefix: "")
        return out
    }

    static func tree(_ node: Node) -> ConfigTree {
        switch node {
        case .scalar(let s): .scalar(s.string)
        case .sequence(let seq): .list(seq.map(tree))
        case .mapping(let m): .map(m.compactMap { k, v in k.scalar.map { ($0.string, tree(v)) } })
        case .alias: .scalar("")
        }
    }

    static func suggestion(for key: String) -> String {
        let known = schema.map(\.key) + treeSections
        let best = known.min { distance($0, key) < distance($1, key) }
        guard let best, distance(best, key) <= 3 else {
            return "; known keys: " + schema.map(\.key).joined(separator: ", ")
        }
        return " (did you mean '\(best)'?)"
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }

    /// The dotted keys the core reads, for docs and tests.
    public static var knownKeys: [String] { schema.map(\.key) }
}

extension Node {
    var isMapping: Bool { if case .mapping = self { true } else { false } }
}
