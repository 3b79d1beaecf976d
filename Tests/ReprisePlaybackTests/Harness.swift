import Foundation
import MPDClient
import MPDTestSupport
import Hummingbird
import Logging
import RepriseConfig
import RepriseCore
import RepriseHTTP
import ReprisePlayback
import RepriseServer
import RepriseSQLite
import ServiceLifecycle
import TestSupport

/// A real Reprise (HTTP on a free port, GC, ledger, playback) over a real MPD, in this process.
final class Stage: @unchecked Sendable {
    /// Web sessions that live 2 s and a GC pass every 500 ms: an idle session is collected within seconds.
    static let quickSessionGC = """
        sessions:
          web_ttl: 2s
          min_age: 0
          extend_interval: 1s
        gc:
          interval: 500ms
          jitter: 0
        """

    let dir: URL
    let mpd: MPDServer!
    let vlc: VLCServer?
    let port: Int
    var core: ServerCore!
    var group: ServiceGroup?
    var runner: Task<Void, any Error>?
    let extraYAML: String
    let tokenPolicy: (any TokenPolicy)?

    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `songs` tones of `seconds` each, as `format` files (`noise`: white noise, about 9 MB of FLAC a minute, a song's real size).
    init(songs: Int, seconds: Double, format: String = "flac", noise: Bool = false, extraYAML: String = "", tokenPolicy: (any TokenPolicy)? = nil, useVLC: Bool = false, mixer: Bool = true) async throws {
        dir = try TempDir("reprise-stage").url
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("music"), withIntermediateDirectories: true)
        for i in 0..<songs {
            try await Tone.write(dir.appendingPathComponent("music/song\(i).\(format)").path, seconds: seconds, frequency: 300 + 40 * i, noise: noise)
        }
        if useVLC {
            vlc = try await VLCServer.start()
            mpd = nil
        } else {
            mpd = try await MPDServer.start(mixer: mixer)
            vlc = nil
        }
        port = try MPDServer.freePort()
        self.extraYAML = extraYAML
        self.tokenPolicy = tokenPolicy
        try start()
        _ = try await core.scanner.scan()
    }

    var configPath: String { dir.appendingPathComponent("reprise.yaml").path }

    func writeConfig() throws {
        try """
            http:
              port: \(port)
            database:
              path: \(dir.path)/db.sqlite
              readers: 2
            auth:
              bcrypt_cost: 4
            catalog:
              paths: [\(dir.path)/music]
              scan_on_start: false
            plugins:
              paths: [\(Self.repoRoot.appendingPathComponent("plugins").path)]
            playback:
              players:
                - name: living
                  owner: ann
                  host: 127.0.0.1
            \(vlc.map { "      backend: vlc_http\n      port: \($0.port)\n      password: \($0.password)" } ?? "      backend: mpd\n      port: \(mpd.port)")
            \(extraYAML)
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Builds the core and runs its services (HTTP, GC, ledger, players).
    func start() throws {
        try writeConfig()
        var logger = Logger(label: "stage")
        logger.logLevel = .error
        let settings = try ConfigLoader.load(file: configPath, env: [:])
        var timing = SupervisorTiming()
        timing.pollMs = 150
        core = try ServerCore(settings: settings, logger: logger, tokenPolicy: tokenPolicy, playbackTiming: timing)
        let group = core.serviceGroup(logger: logger)  // what `reprise serve` runs
        self.group = group
        runner = Task { try await group.run() }
    }

    /// Stops the services (as a restart of `reprise serve` would).
    func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await runner?.value
        group = nil
    }

    func tearDown() async {
        await stop()
        await mpd?.shutdown()
        await vlc?.stop()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Sends a request with curl; returns the status and the JSON object of the body.
    func call(_ method: String, _ path: String, bearer: String? = nil, json: String? = nil) async throws -> (Int, [String: Any]) {
        let (status, body) = try await Child.http(method, base + path, bearer: bearer, json: json)
        return (status, (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:])
    }

    /// Creates user `ann` and logs in; returns the web session.
    func login() async throws -> String {
        if try await core.users.find(name: "ann") == nil {
            try await core.users.add(name: "ann", password: "password1", role: .user)
        }
        // The supervisor connects on its next tick once the owner exists; the session is made after
        // that, so a short `sessions.web_ttl` starts when the test does (slow builds, e.g. TSan, too).
        guard try await eventually(10, { await report()?.connected == true }) else { throw CocoaError(.userCancelled) }
        let (status, body) = try await call("POST", "/api/v1/sessions", json: #"{"username":"ann","password":"password1"}"#)
        guard status == 201, let s = body["session"] as? String else { throw CocoaError(.userCancelled) }
        return s
    }

    /// Queues `ids` on the player; retries while it answers 503 (reconnecting), as a client would, and
    /// fails with the server's answer otherwise.
    func enqueue(_ ids: [Int64], session: String) async throws {
        let json = "{\"song_ids\": [\(ids.map(String.init).joined(separator: ","))]}"
        let deadline = Date().addingTimeInterval(15)
        while true {
            let (status, body) = try await call("POST", "/api/v1/players/living/queue", bearer: session, json: json)
            if (200..<300).contains(status) { return }
            print("queue answered \(status): \(body); player: \(String(describing: await report()))")
            guard status == 503, Date() < deadline else { throw ChildError("queue answered \(status): \(body)") }
            try await Task.sleep(for: .milliseconds(200))  // waiting for the real player to come back
        }
    }

    /// The kinds of the player's recent events, as its API lists them.
    func eventKinds(session: String) async throws -> [String] {
        try await events(session: session).compactMap { $0["kind"] as? String }
    }

    /// The kinds of the player's recent events that another client caused, oldest first.
    func clientEventKinds(session: String) async throws -> [String] {
        try await events(session: session).reversed().filter { $0["source"] as? String == "client" }.compactMap { $0["kind"] as? String }
    }

    /// The player's recent events as its API lists them, newest first.
    func events(session: String) async throws -> [[String: Any]] {
        let (_, detail) = try await call("GET", "/api/v1/players/living", bearer: session)
        return (detail["events"] as? [[String: Any]]) ?? []
    }

    /// Turns random autoplay on (two songs ahead) and returns a second client of the same MPD,
    /// as a person's app would be.
    func autoplayWithAnotherClient(session: String) async throws -> MPDConnection {
        let (status, body) = try await call("POST", "/api/v1/players/living/autoplay", bearer: session, json: #"{"mode": "random", "ahead": 2}"#)
        guard status == 200 else { throw ChildError("autoplay answered \(status): \(body)") }
        return try await MPDConnection.connect(host: "127.0.0.1", port: mpd.port)
    }

    /// Polls `condition` every 100 ms for at most `seconds` (waiting on real players, not on time).
    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    func report() async -> PlayerReport? { await core.playback?.supervisors["living"]?.report() }
}

/// VLC with its HTTP interface, run as an unprivileged user (VLC refuses root).
final class VLCServer: @unchecked Sendable {
    let port: Int
    let password = "reprise-test"
    static let user = "reprise-vlc"
    private var process: Child?

    init(port: Int) { self.port = port }

    static func start() async throws -> VLCServer {
        let server = VLCServer(port: try MPDServer.freePort())
        try await ensureUser()
        try await server.launch()
        return server
    }

    /// Creates the unprivileged user VLC runs as, when missing.
    static func ensureUser() async throws {
        if getpwnam(user) != nil { return }
        _ = try await Child.run("/usr/sbin/useradd", ["-r", "-M", "-s", "/usr/sbin/nologin", user])
    }

    func launch() async throws {
        process = try Child("/usr/sbin/runuser", ["-u", Self.user, "--", "/usr/bin/cvlc", "-I", "http", "--http-host", "127.0.0.1", "--http-port", "\(port)",
                                                  "--http-password", password, "-A", "dummy", "--no-video", "--network-caching=100"])
        for _ in 0..<100 {
            if Self.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(100))  // waiting for a real process to listen
        }
        throw CocoaError(.featureUnsupported)
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    /// Kills VLC (and the runuser wrapper) at once.
    func kill9() async {
        guard let p = process else { return }
        _ = try? await Child.run("/usr/bin/pkill", ["-9", "-f", "http-port \(port) "])
        if await !p.wait(seconds: 5) { p.kill(SIGKILL) }
        _ = await p.wait()
        process = nil
    }

    func stop() async { await kill9() }
}
