import Foundation
import MPDTestSupport
import TestSupport
import Testing

/// PyPI's Schemathesis in the venv `make test` creates.
let schemathesis = CLI.root.appendingPathComponent(".venv/bin/schemathesis").path

@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: schemathesis), "needs .venv/bin/schemathesis: run `make venv` (make test does)"))
struct SchemathesisTests {
    /// Every operation of docs/openapi.yaml, generated and fuzzed against a live server with a real MPD:
    /// no 5xx, every answer as described, the server alive and serving afterwards.
    @Test func liveServerAnswersEveryGeneratedRequestAsDescribed() async throws {
        let mpd = try await MPDServer.start()
        defer { Task { await mpd.stop() } }
        let server = try await LiveServer(files: [("a.wav", 2), ("b.flac", 2)], extraYAML: LiveServer.playersYAML(mpdPort: mpd.port, names: ["den"]))
        defer { server.stop() }
        let admin = try await server.adminSession(songs: 2)
        let work = server.cli.dir.appendingPathComponent("schemathesis")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        // Logging out would end the run's session: DELETE /api/v1/sessions/current is covered by CLITests.
        let r = try await Child.run(schemathesis, [
            "run", "\(server.base)/api/v1/openapi.json", "--url", server.base,
            "-H", "Authorization: Bearer \(admin)",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
            "--max-examples", "40", "--request-timeout", "10", "--no-color",
            "--exclude-operation-id", "logout",
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": work.path], directory: work.path, timeout: 300)
        // Schemathesis prints each failure with a curl command that reproduces it.
        #expect(r.status == 0, "\(r.output)\(r.errors)")
        #expect(r.output.contains("Stateful"), "\(r.output)")
        let health = try await http("GET", "\(server.base)/healthz")
        #expect(health.0 == 200)
        let songs = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(admin)", "\(server.base)/api/v1/songs"])
        #expect(String(decoding: songs, as: UTF8.self) == "200")
    }
}
