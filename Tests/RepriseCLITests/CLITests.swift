import Foundation
import TestSupport
import Testing

/// Runs the built `reprise` binary.
struct CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `REPRISE_BINARY`, else the `reprise` built beside this test bundle (any scratch path: make sanitize's too).
    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["REPRISE_BINARY"] { return env }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("reprise").path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : root.appendingPathComponent(".build/debug/reprise").path
    }

    let dir: URL
    let config: String

    /// A temporary folder with a config whose database lives inside it.
    init(extraYAML: String = "") throws {
        dir = try TempDir("reprise-cli").url
        config = dir.appendingPathComponent("reprise.yaml").path
        try "database:\n  path: \(dir.path)/db.sqlite\nauth:\n  bcrypt_cost: 4\n\(extraYAML)".write(toFile: config, atomically: true, encoding: .utf8)
    }

    struct Result { var status: Int32; var out: String; var err: String }

    func run(_ args: [String], stdin: String? = nil, env: [String: String] = [:]) async throws -> Result {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPRISE_") }
        environment.merge(env) { $1 }
        let r = try await Child.run(Self.binary, args, input: Data((stdin ?? "").utf8), environment: environment, directory: dir.path)
        return Result(status: r.status, out: r.output, err: r.errors)
    }
}

@Suite struct CLITests {
    @Test func version() async throws {
        let r = try await CLI().run(["--version"])
        #expect(r.status == 0)
        #expect(r.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func usageErrorExitsTwo() async throws {
        let cli = try CLI()
        #expect(try await cli.run(["frobnicate"]).status == 2)
        #expect(try await cli.run(["user", "add", "ann", "--config", cli.config]).status == 2)  // no --password-stdin
        #expect(try await cli.run(["token", "create", "--config", cli.config]).status == 2)  // missing options
    }

    @Test func configErrorsExitTwoNamingFileAndKey() async throws {
        let cli = try CLI(extraYAML: "sessions:\n  web_tll: 1h\n")
        let r = try await cli.run(["user", "list", "--config", cli.config])
        #expect(r.status == 2)
        #expect(r.err.contains(cli.config))
        #expect(r.err.contains("sessions.web_tll"))
        let missing = try await cli.run(["user", "list", "--config", "/nonexistent.yaml"])
        #expect(missing.status == 2)
        #expect(missing.err.contains("/nonexistent.yaml"))
        let env = try await CLI().run(["user", "list", "--config", try CLI().config], env: ["REPRISE_GC_INTERVAL": "soon"])
        #expect(env.status == 2)
        #expect(env.err.contains("REPRISE_GC_INTERVAL"))
        // Tree sections are checked when the server builds: a typo, and a player that is not configured.
        for (yaml, key) in [
            ("ampache:\n  localpay: {}\n", "ampache.localpay"), ("ampache:\n  localplay:\n    ann: nowhere\n", "ampache.localplay.ann"),
            ("playback:\n  keep_playd: 5\n", "playback.keep_playd"), ("playback:\n  keep_played: -1\n", "playback.keep_played"),
            ("playback:\n  shuffle_window: lots\n", "playback.shuffle_window"),
        ] {
            let bad = try CLI(extraYAML: yaml)
            var r = try await bad.run(["serve", "--config", bad.config, "--port", "\(try freePort())"])
            // Another test may take the free port first; the check under test comes after the bind.
            for _ in 0..<3 where r.err.contains("cannot listen") {
                r = try await bad.run(["serve", "--config", bad.config, "--port", "\(try freePort())"])
            }
            #expect(r.status == 2, "\(yaml)")
            #expect(r.err.contains(bad.config) && r.err.contains(key), "\(r.err)")
        }
    }

    @Test func usersTokensSessionsAndGC() async throws {
        let cli = try CLI()
        let c = ["--config", cli.config]
        #expect(try await cli.run(["user", "add", "ann", "--admin", "--password-stdin"] + c, stdin: "password1\n").status == 0)
        let dup = try await cli.run(["user", "add", "ann", "--password-stdin"] + c, stdin: "password1\n")
        #expect(dup.status == 1)
        #expect(dup.err.contains("already exists"))
        let list = try await cli.run(["user", "list", "--json"] + c)
        #expect(list.status == 0)
        let users = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]]
        #expect(users?.first?["name"] as? String == "ann")
        #expect(users?.first?["role"] as? String == "admin")
        #expect(try await cli.run(["user", "passwd", "ann", "--password-stdin"] + c, stdin: "password2\n").status == 0)
        #expect(try await cli.run(["user", "passwd", "zed", "--password-stdin"] + c, stdin: "password2\n").status == 1)

        let created = try await cli.run(["token", "create", "--user", "ann", "--label", "mpd", "--ttl", "30d"] + c)
        #expect(created.status == 0)
        let token = created.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("rt_") && token.count == 46 && !token.contains(" "))
        #expect(try await cli.run(["token", "create", "--user", "ann", "--label", "x", "--ttl", "soon"] + c).status == 2)
        #expect(try await cli.run(["token", "create", "--user", "zed", "--label", "x"] + c).status == 1)

        let tokens = try await cli.run(["token", "list", "--user", "ann", "--json"] + c)
        #expect(tokens.status == 0)
        #expect(!tokens.out.contains(token))
        let parsed = try JSONSerialization.jsonObject(with: Data(tokens.out.utf8)) as? [[String: Any]]
        let id = try #require(parsed?.first?["id"] as? Int)
        #expect(parsed?.first?["label"] as? String == "mpd")
        #expect(try await cli.run(["token", "revoke", "\(id)"] + c).status == 0)
        #expect(try await cli.run(["token", "revoke", "\(id)"] + c).status == 1)

        let sessions = try await cli.run(["session", "list", "--json"] + c)
        #expect(sessions.status == 0)
        #expect(sessions.out.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || sessions.out.contains("[]") || sessions.out.contains("[\n\n]"))

        let gc = try await cli.run(["gc", "run", "--dry-run", "--json"] + c)
        #expect(gc.status == 0)
        let stats = try JSONSerialization.jsonObject(with: Data(gc.out.utf8)) as? [String: Any]
        #expect(stats?["dry_run"] as? Bool == true)
        #expect(stats?["deleted"] as? Int == 0)
    }
}

@Suite(.serialized) struct ServeTests {
    /// Starts `reprise serve` on a free port, logs in with curl-like requests, and stops it with SIGTERM.
    @Test func serveCreatesFirstAdminAndAnswers() async throws {
        let cli = try CLI()
        let port = try freePort()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPRISE_") }
        env["REPRISE_ADMIN_PASSWORD"] = "first-admin-pw"
        let errors = cli.dir.appendingPathComponent("serve.err").path
        let p = try Child(CLI.binary, ["serve", "--config", cli.config, "--port", "\(port)"], environment: env, directory: cli.dir.path, stderr: .file(errors))
        defer { p.terminate() }
        let base = "http://127.0.0.1:\(port)"
        var health: (Int, Data)?
        for _ in 0..<100 {
            if let h = try? await http("GET", "\(base)/healthz"), h.0 == 200 { health = h; break }
            try await Task.sleep(for: .milliseconds(100))  // waiting for a real process to bind, not for time to pass
        }
        #expect(health?.0 == 200)
        let login = try await http("POST", "\(base)/api/v1/sessions", body: #"{"username":"admin","password":"first-admin-pw"}"#)
        #expect(login.0 == 201)
        p.kill(SIGTERM)
        #expect(await p.wait(seconds: 30), "reprise serve did not stop on SIGTERM")
        #expect(p.status == 0)
        let log = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(log.contains("created the first admin"))
        #expect(!log.contains("first-admin-pw"))
    }

    @Test func serveWithoutUsersExplainsHowToCreateAdmin() async throws {
        let cli = try CLI()
        let port = try freePort()
        let errors = cli.dir.appendingPathComponent("serve.err").path
        let p = try Child(CLI.binary, ["serve", "--config", cli.config, "--port", "\(port)"], environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPRISE_") }, stderr: .file(errors))
        defer { p.terminate() }
        // Up to 30 s for the advice and the server (a busy machine starts slowly).
        var log = ""
        for _ in 0..<300 {
            log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            if log.contains("setup code"), let h = try? await http("GET", "http://127.0.0.1:\(port)/healthz"), h.0 == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        p.kill(SIGTERM)
        #expect(await p.wait(seconds: 30), "reprise serve did not stop on SIGTERM")
        log = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(log.contains("reprise user add admin --admin --password-stdin"))
        // Or in a browser, with the one-time code.
        #expect(log.contains("/setup in a browser and enter the setup code "))
    }
}

/// Asks the kernel for a free TCP port on 127.0.0.1.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// One HTTP request through curl; returns status and body.
func http(_ method: String, _ url: String, body: String? = nil) async throws -> (Int, Data) {
    let r = try await Child.http(method, url, json: body)
    guard r.status != 0 else { throw CocoaError(.fileReadCorruptFile) }
    return (r.status, r.body)
}

/// `reprise scan` names each file it could not read or flagged, and why.
@Suite struct ScanCommandTests {
    @Test func scanNamesEachFailingFile() async throws {
        let music = try TempDir("reprise-scan-music")
        defer { music.remove() }
        let cli = try CLI(extraYAML: "catalog:\n  paths: [\(music.url.path), \(music.url.path)/missing]\n")
        try await Tone.write(music.file("good.flac").path, seconds: 1)
        try Data("junk".utf8).write(to: music.file("bad.mp3"))
        let r = try await cli.run(["scan", "--config", cli.config])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("added 1,") && r.out.contains("errors 1"), "\(r.out)")
        #expect(r.out.contains("\(music.file("bad.mp3").path): "), "\(r.out)")
        #expect(r.out.contains("\(music.url.path)/missing: catalog folder"), "\(r.out)")
    }
}
