import Foundation
import TestSupport
import Testing

/// FINDINGS H3, H18, H19, H20 on the built binary.
@Suite struct HardeningCLITests {
    static let shipped = CLI.root.appendingPathComponent("plugins")

    /// A CLI folder whose plugins folder holds the shipped default_tokens plugin.
    static func withDefaultTokens(_ yaml: String) throws -> CLI {
        let cli = try CLI(extraYAML: yaml)
        let dir = cli.dir.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.shipped.appendingPathComponent("default_tokens.lua"), to: dir.appendingPathComponent("default_tokens.lua"))
        return cli
    }

    /// H3: lifetimes that would overflow are refused by `plugin check`, by the config loader and on the command line.
    @Test func hugeLifetimesAreRefusedBeforeServe() async throws {
        let plugin = try Self.withDefaultTokens("plugins:\n  enabled: [default_tokens]\n  config:\n    default_tokens:\n      max_ttl_seconds: 9300000000000000\n")
        let check = try await plugin.run(["plugin", "check", "--config", plugin.config])
        #expect(check.status == 1)
        #expect(check.out.contains("max_ttl_seconds must be an integer from 1 to 3155760000"), "\(check.out)")
        let serve = try await plugin.run(["serve", "--port", "0", "--config", plugin.config])
        #expect(serve.status == 2, "\(serve.err)")

        let config = try CLI(extraYAML: "sessions:\n  api_ttl: 106751991167d\n")
        let r = try await config.run(["user", "list", "--config", config.config])
        #expect(r.status == 2)
        #expect(r.err.contains("sessions.api_ttl") && r.err.contains("100 years"), "\(r.err)")

        let cli = try CLI()
        _ = try await cli.run(["user", "add", "ann", "--password-stdin", "--config", cli.config], stdin: "password1\n")
        let ttl = try await cli.run(["token", "create", "--user", "ann", "--label", "x", "--ttl", "9223372036854775807", "--config", cli.config])
        #expect(ttl.status == 2 && ttl.err.contains("--ttl"), "\(ttl.err)")
    }

    /// H19: `reprise token create` goes through the token policy: the cap applies to a token asked without a lifetime.
    @Test func tokenCreateAppliesThePolicy() async throws {
        let cli = try Self.withDefaultTokens("plugins:\n  enabled: [default_tokens]\n  config:\n    default_tokens:\n      max_ttl_seconds: 3600\n")
        let c = ["--config", cli.config]
        #expect(try await cli.run(["user", "add", "ann", "--password-stdin"] + c, stdin: "password1\n").status == 0)
        let created = try await cli.run(["token", "create", "--user", "ann", "--label", "mpd"] + c)
        #expect(created.status == 0 && created.out.hasPrefix("rt_"), "\(created.err)")
        let list = try await cli.run(["token", "list", "--user", "ann", "--json"] + c)
        let tokens = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]] ?? []
        let token = try #require(tokens.first)
        let createdAt = try #require(token["created_at"] as? Int64)
        let expires = try #require(token["expires_at"] as? Int64, "\(token)")
        #expect(expires - createdAt == 3_600_000)
    }

    /// H18: a misspelt hook stops `serve` as it fails `plugin check`.
    @Test func misspeltHookStopsServe() async throws {
        let cli = try PluginCommandTests.cli(["typo": "return { hooks = { token_authorise = function() return false end } }"], yaml: "plugins:\n  enabled: [typo]\n")
        let check = try await cli.run(["plugin", "check", "--config", cli.config])
        #expect(check.status == 1 && check.out.contains("unknown hook 'token_authorise'"))
        let serve = try await cli.run(["serve", "--port", "0", "--config", cli.config])
        #expect(serve.status == 2)
        #expect(serve.err.contains("typo.lua") && serve.err.contains("unknown hook 'token_authorise'"), "\(serve.err)")
    }

    /// H20: the database and its WAL are private; a newer schema is refused; a taken port is one clear line.
    @Test func databaseAndPortAreHandledStrictly() async throws {
        let cli = try CLI()
        let c = ["--config", cli.config]
        #expect(try await cli.run(["user", "add", "ann", "--password-stdin"] + c, stdin: "password1\n").status == 0)
        let db = cli.dir.appendingPathComponent("db.sqlite").path
        for path in [db, db + "-wal"] where FileManager.default.fileExists(atPath: path) {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(path): \(String(mode ?? 0, radix: 8))")
        }

        // A port someone else holds.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, len) } }
        _ = listen(holder, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let busy = try await cli.run(["serve", "--port", "\(port)"] + c)
        #expect(busy.status == 2)
        let lines = busy.err.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("127.0.0.1:\(port)") && lines[0].contains("already in use"), "\(busy.err)")

        // A schema from the future.
        let sql = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')\"); c.commit()"
        let insert = try Child.runBlocking("/usr/bin/python3", ["-c", sql, db])
        #expect(insert.status == 0, "\(insert.errors)")
        let newer = try await cli.run(["user", "list"] + c)
        #expect(newer.status == 2)
        #expect(newer.err.contains("newer Reprise") && newer.err.contains("v99-from-the-future"), "\(newer.err)")
    }
}
