import Foundation
import TestSupport
import Testing

/// A `reprise serve` process on a free port with generated tones (name, seconds) and extra configuration.
final class LiveServer {
    let cli: CLI
    let port: Int
    private(set) var process: Child!
    let music: URL
    var base: String { "http://127.0.0.1:\(port)" }

    /// `prepare` adds to the music folder before the server starts (and scans it).
    init(files: [(String, Int)], extraYAML: String = "", environment: [String: String] = [:], prepare: ((URL) async throws -> Void)? = nil) async throws {
        cli = try CLI(extraYAML: extraYAML)
        music = cli.dir.appendingPathComponent("music")
        try FileManager.default.createDirectory(at: music, withIntermediateDirectories: true)
        for (name, seconds) in files {
            try await Tone.write(music.appendingPathComponent(name).path, seconds: Double(seconds))
        }
        try await prepare?(music)
        port = try freePort()
        let config = try String(contentsOfFile: cli.config, encoding: .utf8) + "catalog:\n  paths: [\(music.path)]\nhttp:\n  public_url: http://127.0.0.1:\(port)\n"
        try config.write(toFile: cli.config, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPRISE_") }
        env["REPRISE_ADMIN_PASSWORD"] = "password1"
        env.merge(environment) { _, new in new }
        process = try Child(CLI.binary, ["serve", "--config", cli.config, "--port", "\(port)"], environment: env)
        for _ in 0..<100 {
            if let h = try? await http("GET", "\(base)/healthz"), h.0 == 200 { return }
            try await Task.sleep(for: .milliseconds(100))  // waiting for a real process to bind
        }
        throw CocoaError(.featureUnsupported)
    }

    /// Asks the server to stop (SIGTERM, SIGKILL 10 s later); does not wait.
    func stop() {
        process.terminate()
    }

    /// Logs in as the first admin and mints a stream token.
    func login() async throws -> (String, String) {
        let login = try await http("POST", "\(base)/api/v1/sessions", body: #"{"username":"admin","password":"password1"}"#)
        let session = try #require((try JSONSerialization.jsonObject(with: login.1) as? [String: Any])?["session"] as? String)
        let t = try await curl(["-s", "-X", "POST", "-H", "Authorization: Bearer \(session)", "-d", #"{"label":"live"}"#, "\(base)/api/v1/tokens"])
        let token = try #require((try JSONSerialization.jsonObject(with: t) as? [String: Any])?["token"] as? String)
        return (session, token)
    }
}

extension LiveServer {
    /// YAML for the shipped plugins and MPD players `names`, owned by admin, on one MPD.
    static func playersYAML(mpdPort: Int, names: [String]) -> String {
        """
        plugins:
          paths: [\(CLI.root.appendingPathComponent("plugins").path)]
        playback:
          players:
        \(names.map { "    - {name: \($0), backend: mpd, owner: admin, host: 127.0.0.1, port: \(mpdPort)}" }.joined(separator: "\n"))

        """
    }
}

func run(_ tool: String, _ args: [String]) async throws {
    let r = try await Child.run(tool, args)
    guard r.status == 0 else { throw ChildError("\(tool) exited \(r.status): \(r.errors)") }
}

/// Runs `tool` with `args` and returns its standard output.
func output(_ tool: String, _ args: [String]) async throws -> Data {
    try await Child.run(tool, args).stdout
}

/// Runs `script` with bash and returns its standard output.
func shell(_ script: String) async throws -> Data { try await output("/bin/bash", ["-c", script]) }

func curl(_ args: [String]) async throws -> Data { try await output("/usr/bin/curl", args) }

@Suite(.serialized) struct LiveStreamTests {
    @Test func curlReadsWholeAndRangedStreams() async throws {
        let server = try await LiveServer(files: [("tone.flac", 2)])
        defer { server.stop() }
        let (_, token) = try await server.login()
        let file = try Data(contentsOf: server.cli.dir.appendingPathComponent("music/tone.flac"))
        let whole = try await curl(["-s", "-f", "\(server.base)/stream/1?token=\(token)"])
        #expect(whole == file)
        let ranged = try await curl(["-s", "-f", "-r", "100-199", "\(server.base)/stream/1?token=\(token)"])
        #expect(ranged == file.subdata(in: 100..<200))
        // curl resuming a partial download (Range: bytes=N-) ends with the whole file.
        let partial = server.cli.dir.appendingPathComponent("partial.flac")
        try file.prefix(1000).write(to: partial)
        _ = try await curl(["-s", "-f", "-C", "-", "-o", partial.path, "\(server.base)/stream/1?token=\(token)"])
        #expect(try Data(contentsOf: partial) == file)
    }

    /// 200 simultaneous first requests through the Lua token policy all get answers: the hook never
    /// waits on SQL from Swift's cooperative pool (which once deadlocked the server).
    @Test func twoHundredConcurrentStreamsAllAnswer() async throws {
        let server = try await LiveServer(files: [("tone.flac", 2)])
        defer { server.stop() }
        let (_, token) = try await server.login()
        let url = "\(server.base)/stream/1?token=\(token)"
        let script = "seq 200 | xargs -P 200 -I{} curl -s -m 30 -r 0-65535 -o /dev/null -w '%{http_code}\\n' '\(url)'"
        let out = String(decoding: try await shell(script), as: UTF8.self)
        let codes = out.split(separator: "\n").map(String.init)
        #expect(codes.count == 200)
        #expect(codes.allSatisfy { $0 == "206" }, "\(Dictionary(grouping: codes, by: { $0 }).mapValues(\.count))")
    }

    @Test func disconnectMidStreamReleasesTheLeaseAndRecordsAnAbort() async throws {
        // About 10 MB of WAV so the transfer is still running when the client goes away.
        let server = try await LiveServer(files: [("big.wav", 60)])
        defer { server.stop() }
        let (session, token) = try await server.login()
        let fd = try stalledReader(server, token: token)
        // While the client stalls, the stream is active and holds its credential.
        let during = try await streams(server, session)
        #expect((during["active"] as? [[String: Any]])?.count == 1)
        close(fd)
        var recent: [[String: Any]] = []
        for _ in 0..<100 {
            let s = try await streams(server, session)
            recent = s["recent"] as? [[String: Any]] ?? []
            if (s["active"] as? [Any])?.isEmpty == true, !recent.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))  // waiting for the server to notice the closed socket
        }
        let record = try #require(recent.first)
        #expect(record["status"] as? String == "aborted")
        #expect((record["bytes_sent"] as? Int ?? 0) < (record["bytes_expected"] as? Int ?? 0))
        #expect(record["reason"] as? String != nil)
    }

    /// Revoking a token (API) or disabling a user (the CLI, another process) ends that credential's
    /// stream in progress within a second: the connection closes and the ledger says why.
    @Test func revocationEndsStreamsInProgress() async throws {
        let server = try await LiveServer(files: [("big.wav", 60)])
        defer { server.stop() }
        let (session, token) = try await server.login()
        // A token revoked through the API.
        let revokedAt = try await stalledStream(server, session: session, token: token) {
            let list = try JSONSerialization.jsonObject(with: try await curl(["-s", "-H", "Authorization: Bearer \(session)", "\(server.base)/api/v1/tokens"])) as? [String: Any]
            let id = try #require((list?["tokens"] as? [[String: Any]])?.first { $0["label"] as? String == "live" }?["id"] as? Int)
            _ = try await curl(["-s", "-f", "-X", "DELETE", "-H", "Authorization: Bearer \(session)", "\(server.base)/api/v1/tokens/\(id)"])
        }
        #expect(revokedAt < .seconds(3), "the stream went on \(revokedAt) after the revocation")
        let first = try await lastRecord(server, session)
        #expect(first["status"] as? String == "aborted")
        #expect(first["reason"] as? String == "the stream token was revoked")
        // A user disabled from the CLI while their stream plays.
        _ = try await server.cli.run(["user", "add", "bob", "--password-stdin", "--config", server.cli.config], stdin: "password2\n")
        let login = try await http("POST", "\(server.base)/api/v1/sessions", body: #"{"username":"bob","password":"password2"}"#)
        let bob = try #require((try JSONSerialization.jsonObject(with: login.1) as? [String: Any])?["session"] as? String)
        let minted = try await curl(["-s", "-X", "POST", "-H", "Authorization: Bearer \(bob)", "-d", #"{"label":"bob"}"#, "\(server.base)/api/v1/tokens"])
        let bobToken = try #require((try JSONSerialization.jsonObject(with: minted) as? [String: Any])?["token"] as? String)
        let disabledAt = try await stalledStream(server, session: session, token: bobToken) {
            let r = try await server.cli.run(["user", "disable", "bob", "--config", server.cli.config])
            #expect(r.status == 0, "\(r.err)")
        }
        #expect(disabledAt < .seconds(3), "the stream went on \(disabledAt) after the user was disabled")
        let second = try await lastRecord(server, session)
        #expect(second["reason"] as? String == "the user was disabled")
        // Disabled means every credential: new requests are refused once the token cache looks again (seconds).
        var refused = false
        for _ in 0..<100 where !refused {
            let again = try await http("GET", "\(server.base)/stream/1?token=\(bobToken)")
            refused = again.0 == 401 || again.0 == 403
            if !refused { try await Task.sleep(for: .milliseconds(200)) }  // waiting for the server's cache to re-read the row
        }
        #expect(refused)
    }

    /// A client that asks for song 1 with a 4 KiB receive buffer and reads 4 KiB: the server then
    /// waits on it, mid-stream. The caller closes the descriptor.
    func stalledReader(_ server: LiveServer, token: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(connected == 0)
        let request = "GET /stream/1?token=\(token) HTTP/1.1\r\nHost: x\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect(recv(fd, &buffer, buffer.count, 0) > 0)
        return fd
    }

    /// Starts a stream for a stalled client, runs `act`, and returns how long after it the server ended the stream.
    func stalledStream(_ server: LiveServer, session: String, token: String, _ act: () async throws -> Void) async throws -> Duration {
        let fd = try stalledReader(server, token: token)
        defer { close(fd) }
        #expect((try await streams(server, session)["active"] as? [Any])?.count == 1)
        try await act()
        let start = ContinuousClock.now
        for _ in 0..<100 {
            if (try await streams(server, session)["active"] as? [Any])?.isEmpty == true { break }
            try await Task.sleep(for: .milliseconds(50))  // waiting for the real server to end the stream
        }
        return ContinuousClock.now - start
    }

    func lastRecord(_ server: LiveServer, _ session: String) async throws -> [String: Any] {
        for _ in 0..<50 {
            let s = try await streams(server, session)
            if (s["active"] as? [Any])?.isEmpty == true, let r = (s["recent"] as? [[String: Any]])?.first { return r }  // newest first
            try await Task.sleep(for: .milliseconds(100))  // waiting for the server to record the end
        }
        throw ChildError("the stream did not end")
    }

    func streams(_ server: LiveServer, _ session: String) async throws -> [String: Any] {
        let data = try await curl(["-s", "-H", "Authorization: Bearer \(session)", "\(server.base)/api/v1/admin/streams"])
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}
