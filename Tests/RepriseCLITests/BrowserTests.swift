import Foundation
import MPDTestSupport
import TestSupport
import Testing

let chromedriver = "/usr/bin/chromedriver"

/// The web UI in a real browser: Debian's chromium, headless, driven by selenium (PyPI, pinned)
/// against a live `reprise serve` and a real MPD. Writes the screenshots of docs/screenshots/.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: ampachePython) && FileManager.default.isExecutableFile(atPath: chromedriver),
                "needs .venv/bin/python with selenium and Debian's chromium-driver: run `make test`"))
struct BrowserTests {
    @Test func aPersonUsesTheWebUIInChromium() async throws {
        let mpd = try await MPDServer.start()
        defer { mpd.terminate() }
        let server = try await LiveServer(files: [], extraYAML: LiveServer.playersYAML(mpdPort: mpd.port, names: ["living"])) { music in
            let fm = FileManager.default
            for (dir, title, artist, album, track) in [
                ("Blue", "Morning", "Ada Lake", "Blue Hours", 1), ("Blue", "Noon", "Ada Lake", "Blue Hours", 2), ("Blue", "Night", "Ada Lake", "Blue Hours", 3),
                ("Red", "Ember", "Bo Reed", "Red Room", 1),
            ] {
                try fm.createDirectory(at: music.appendingPathComponent(dir), withIntermediateDirectories: true)
                let file = music.appendingPathComponent("\(dir)/\(track) \(title).flac").path
                try await Tone.write(file, seconds: 6)
                let r = try await Child.run("/usr/bin/metaflac", ["--set-tag=TITLE=\(title)", "--set-tag=ARTIST=\(artist)", "--set-tag=ALBUM=\(album)", "--set-tag=TRACKNUMBER=\(track)", "--set-tag=GENRE=Jazz", file])
                #expect(r.status == 0, "\(r.errors)")
            }
            let wav = music.appendingPathComponent("t.wav").path
            try await Tone.write(wav, seconds: 1, rate: 8_000, channels: 1)
            _ = try await Child.run("/usr/bin/sox", [wav, "-n", "spectrogram", "-o", music.appendingPathComponent("Blue/cover.png").path, "-x", "600", "-y", "600"])
            try fm.removeItem(atPath: wav)
        }
        defer { server.stop() }
        _ = try await server.adminSession(songs: 4)
        let shots = CLI.root.appendingPathComponent("docs/screenshots").path
        let r = try await Child.run(
            ampachePython, [CLI.root.appendingPathComponent("tests/web/browser_flow.py").path, "http://127.0.0.1:\(server.port)", "admin", "password1", "\(mpd.port)", shots],
            timeout: 240)
        #expect(r.status == 0, "\(r.output)\(r.errors)")
        #expect(r.output.contains("PASS"))
        // The browser's processes end with the flow.
        let left = try await Child.run("/usr/bin/pgrep", ["-f", "chromium.*--user-data-dir=/tmp/reprise-browser-"])
        #expect(left.status != 0, "chromium outlived the flow: \(left.output)")
    }
}
