import Foundation
import MPDTestSupport
import TestSupport
import Testing

/// PyPI's Subsonic clients (py-opensonic, py-sonic) against a live `reprise serve`: token auth with a
/// client password minted by the CLI, the legacy `enc:` password, an API key, GET and form POST;
/// browsing, `search3` with the empty query paged, stars, ratings, scrobbles, playlists, cover art,
/// stream (bytes equal to the file) and download.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: ampachePython), "needs .venv/bin/python with py-opensonic and py-sonic: run `make venv` (make test does)"))
struct SubsonicClientTests {
    @Test func realClientsBrowseSearchStarPlayAndStream() async throws {
        let server = try await LiveServer(files: []) { music in
            let fm = FileManager.default
            for (dir, title, artist, album, genre) in [
                ("First", "Café One", "Alpha", "First", "Jazz"), ("First", "Two", "Alpha", "First", "Jazz"), ("Second", "Three", "Beta", "Second", "Rock"),
            ] {
                try fm.createDirectory(at: music.appendingPathComponent(dir), withIntermediateDirectories: true)
                let file = music.appendingPathComponent("\(dir)/\(title).flac").path
                try await Tone.write(file, seconds: 2)
                let r = try await Child.run("/usr/bin/metaflac", ["--set-tag=TITLE=\(title)", "--set-tag=ARTIST=\(artist)", "--set-tag=ALBUM=\(album)", "--set-tag=GENRE=\(genre)", file])
                #expect(r.status == 0, "\(r.errors)")
            }
            let wav = music.appendingPathComponent("t.wav").path
            try await Tone.write(wav, seconds: 1, rate: 8_000, channels: 1)
            _ = try await Child.run("/usr/bin/sox", [wav, "-n", "spectrogram", "-o", music.appendingPathComponent("First/cover.png").path])
            try fm.removeItem(atPath: wav)
        }
        defer { server.stop() }
        _ = try await server.adminSession(songs: 3)
        let c = ["--config", server.cli.config]
        let minted = try await server.cli.run(["user", "client-password", "add", "admin", "--label", "phone"] + c)
        #expect(minted.status == 0, "\(minted.err)")
        let clientPassword = minted.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try await server.cli.run(["user", "apikey", "admin"] + c).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let file = server.music.appendingPathComponent("First/Two.flac").path
        let r = try await Child.run(
            ampachePython, [CLI.root.appendingPathComponent("tests/subsonic/client_flow.py").path, "http://127.0.0.1", "\(server.port)", "admin", "password1", clientPassword, key, file],
            timeout: 300)
        #expect(r.status == 0, "\(r.output)\(r.errors)")
        #expect(r.output.contains("PASS"))
        // The client password's use is recorded; it is listed, never shown again.
        let list = try await server.cli.run(["user", "client-password", "list", "admin", "--json"] + c)
        let entries = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]] ?? []
        #expect(entries.count == 1 && entries[0]["last_used_at"] != nil && !list.out.contains(clientPassword), "\(list.out)")
    }

    /// py-opensonic drives the jukebox on a real MPD (add, start, status, skip, set, get, setGain);
    /// then the user's web session expires and GC collects it while the jukebox plays on; then stop.
    @Test func realClientDrivesTheJukeboxThroughSessionGC() async throws {
        let mpd = try await MPDServer.start()
        defer { mpd.terminate() }
        let yaml = LiveServer.playersYAML(mpdPort: mpd.port, names: ["living"]) + """
            sessions:
              web_ttl: 2s
              min_age: 0
              extend_interval: 1s
            gc:
              interval: 500ms
              jitter: 0

            """
        let server = try await LiveServer(files: [("a.wav", 8), ("b.wav", 8), ("c.wav", 8)], extraYAML: yaml)
        defer { server.stop() }
        _ = try await server.adminSession(songs: 3)
        let c = ["--config", server.cli.config]
        let clientPassword = try await server.cli.run(["user", "client-password", "add", "admin", "--label", "phone"] + c).out.trimmingCharacters(in: .whitespacesAndNewlines)
        func flow(_ mode: String) async throws -> (Int32, String) {
            let r = try await Child.run(ampachePython, [CLI.root.appendingPathComponent("tests/subsonic/jukebox_flow.py").path, mode, "http://127.0.0.1", "\(server.port)", "admin", clientPassword], timeout: 120)
            return (r.status, r.output + r.errors)
        }
        var (status, output) = try await flow("start")
        #expect(status == 0, "\(output)")
        // The web session (made by adminSession) is never pinged again: GC collects it.
        var collected = false
        for _ in 0..<60 where !collected {
            let list = try await server.cli.run(["session", "list", "--json"] + c)
            collected = ((try? JSONSerialization.jsonObject(with: Data(list.out.utf8))) as? [Any])?.isEmpty == true
            if !collected { try await Task.sleep(for: .milliseconds(250)) }  // waiting for a real GC pass
        }
        #expect(collected, "the web session was not collected")
        (status, output) = try await flow("status")
        #expect(status == 0, "\(output)")
    }
}
