import Foundation
import MPDTestSupport
import TestSupport
import Testing

/// The Python interpreter of the venv `make test` creates with PyPI's `ampache` client.
let ampachePython = CLI.root.appendingPathComponent(".venv/bin/python").path

extension LiveServer {
    /// A web session of the first admin, once the startup scan has indexed `count` songs.
    func adminSession(songs count: Int) async throws -> String {
        let login = try await http("POST", "\(base)/api/v1/sessions", body: #"{"username":"admin","password":"password1"}"#)
        let session = try #require((try JSONSerialization.jsonObject(with: login.1) as? [String: Any])?["session"] as? String)
        for _ in 0..<100 {
            let data = try await curl(["-s", "-H", "Authorization: Bearer \(session)", "\(base)/api/v1/songs"])
            if (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["total"] as? Int == count { return session }
            try await Task.sleep(for: .milliseconds(100))  // waiting for the startup scan
        }
        throw CocoaError(.featureUnsupported)
    }

    /// Runs `tests/ampache/client_flow.py` with the venv's Python; returns its status and output.
    func python(_ args: [String]) async throws -> (Int32, String) {
        let r = try await Child.run(ampachePython, [CLI.root.appendingPathComponent("tests/ampache/client_flow.py").path] + args, timeout: 300)
        return (r.status, r.output + r.errors)
    }
}

@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: ampachePython), "needs .venv/bin/python with PyPI's ampache: run `make venv` (make test does)"))
struct AmpacheClientTests {
    /// handshake (password, API key) -> ping -> songs -> bytes -> localplay on a real MPD -> goodbye -> the URL still streams.
    @Test func realClientHandshakesListsStreamsPlaysAndSaysGoodbye() async throws {
        let mpd = try await MPDServer.start()
        defer { mpd.terminate() }
        // Two players owned by admin on one MPD; `ampache.localplay` picks the second, not the first by name.
        let yaml = LiveServer.playersYAML(mpdPort: mpd.port, names: ["den", "living"]) + """
            ampache:
              localplay:
                admin: living

            """
        let server = try await LiveServer(files: ["a.wav", "b.wav", "c.wav"].map { ($0, 6) }, extraYAML: yaml)
        defer { server.stop() }
        let admin = try await server.adminSession(songs: 3)
        let c = ["--config", server.cli.config]
        let key = try await server.cli.run(["user", "apikey", "admin"] + c)
        #expect(key.status == 0)
        let apiKey = key.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(apiKey.hasPrefix("ak_"))
        let file = server.music.appendingPathComponent("a.wav").path
        let (status, output) = try await server.python(["flow", server.base, "admin", "password1", apiKey, file])
        #expect(status == 0, "\(output)")
        #expect(output.contains("PASS"))
        // MPD fetched the songs over HTTP, as the player `ampache.localplay` chose.
        let data = try await curl(["-s", "-H", "Authorization: Bearer \(admin)", "\(server.base)/api/v1/admin/streams"])
        let streams = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let all = ((streams?["active"] as? [[String: Any]]) ?? []) + ((streams?["recent"] as? [[String: Any]]) ?? [])
        #expect(Set(all.compactMap { $0["player"] as? String }) == ["living"], "streams: \(all)")
        // `reprise token rotate` revokes the ampache tokens and prints a new one that streams.
        let rotated = try await server.cli.run(["token", "rotate", "--user", "admin"] + c)
        #expect(rotated.status == 0)
        let token = rotated.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("rt_"))
        let bytes = try await curl(["-s", "-f", "\(server.base)/play/index.php?ssid=\(token)&type=song&oid=1"])
        #expect(bytes == (try Data(contentsOf: URL(fileURLWithPath: file))))
        let list = try await server.cli.run(["token", "list", "--user", "admin", "--json"] + c)
        let tokens = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]] ?? []
        let ampache = tokens.filter { $0["label"] as? String == "ampache" }
        #expect(ampache.filter { $0["revoked_at"] == nil }.count == 1 && ampache.count >= 2)
    }

    /// The library actions through the real client, JSON and XML: art (embedded and folder, scaled),
    /// genres, playlists, ratings, flags, plays, stats, advanced search, similar, index, user, `id=`.
    @Test func libraryActionsThroughTheRealClient() async throws {
        var cover: [UInt8] = []
        let server = try await LiveServer(files: []) { music in
            let fm = FileManager.default
            let png = music.appendingPathComponent("spec.png").path
            try await Tone.write(music.appendingPathComponent("t.wav").path, seconds: 1, rate: 8_000, channels: 1)
            _ = try await Child.run("/usr/bin/sox", [music.appendingPathComponent("t.wav").path, "-n", "spectrogram", "-o", png, "-x", "300", "-y", "200"])
            try fm.removeItem(at: music.appendingPathComponent("t.wav"))
            cover = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
            for (dir, title, artist, album, genre, year) in [
                ("Emile", "Café Noir", "Émile", "Nuit à Paris", "Jazz", 1961), ("Miles", "So What", "Miles", "Kind of Blue", "Jazz", 1959),
                ("Revolver", "Rain", "Beatles", "Revolver", "Rock", 1966),
            ] {
                try fm.createDirectory(at: music.appendingPathComponent(dir), withIntermediateDirectories: true)
                let file = music.appendingPathComponent("\(dir)/song.flac").path
                try await Tone.write(file, seconds: 2)
                var args = ["--set-tag=TITLE=\(title)", "--set-tag=ARTIST=\(artist)", "--set-tag=ALBUM=\(album)", "--set-tag=GENRE=\(genre)", "--set-tag=DATE=\(year)"]
                if dir == "Miles" { args.append("--import-picture-from=3|image/png|||\(png)") }
                let r = try await Child.run("/usr/bin/metaflac", args + [file])
                #expect(r.status == 0, "\(r.errors)")
            }
            try fm.moveItem(atPath: png, toPath: music.appendingPathComponent("Revolver/cover.png").path)
        }
        defer { server.stop() }
        _ = try await server.adminSession(songs: 3)
        let width = Int(cover[16]) << 24 | Int(cover[17]) << 16 | Int(cover[18]) << 8 | Int(cover[19])
        let height = Int(cover[20]) << 24 | Int(cover[21]) << 16 | Int(cover[22]) << 8 | Int(cover[23])
        let (status, output) = try await server.python(["library", server.base, "admin", "password1", "\(width)", "\(height)"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("PASS"))
    }

    @Test func sessionCollectedMidListWhileTheClientKeepsStreaming() async throws {
        let yaml = "sessions:\n  api_ttl: 2s\n  min_age: 0\n  extend_interval: 1s\ngc:\n  interval: 500ms\n  jitter: 0\n"
        let server = try await LiveServer(files: ["a.wav", "b.wav", "c.wav"].map { ($0, 1) }, extraYAML: yaml)
        defer { server.stop() }
        let admin = try await server.adminSession(songs: 3)
        let file = server.music.appendingPathComponent("a.wav").path
        let (status, output) = try await server.python(["gc", server.base, "admin", "password1", admin, file])
        #expect(status == 0, "\(output)")
        #expect(output.contains("GC collected the idle API session"))
    }
}
