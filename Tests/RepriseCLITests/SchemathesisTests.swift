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
        defer { mpd.terminate() }
        // Generated logins fail by the hundred from one address; the limit must not lock out the chain's user.
        let server = try await LiveServer(files: [("a.wav", 2), ("b.flac", 2)], extraYAML: LiveServer.playersYAML(mpdPort: mpd.port, names: ["den"]),
                                          environment: ["REPRISE_AUTH_LOGIN_FAILURES": "1000000"])
        defer { server.stop() }
        let admin = try await server.adminSession(songs: 2)
        // The stateful chain "log in -> create token -> list -> revoke" logs in as this user (Tests/schemathesis/reprise_hooks.py).
        #expect(try await server.cli.run(["user", "add", "chain", "--password-stdin", "--config", server.cli.config], stdin: "chain-password\n").status == 0)
        let work = server.cli.dir.appendingPathComponent("schemathesis")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        // Logging out would end the run's session: DELETE /api/v1/sessions/current is covered by CLITests.
        let checks = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"
        let r = try await Child.run(schemathesis, [
            "run", "\(server.base)/api/v1/openapi.json", "--url", server.base,
            "-H", "Authorization: Bearer \(admin)", "--checks", checks,
            "--max-examples", "40", "--request-timeout", "10", "--no-color",
            "--exclude-operation-id", "logout",
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": work.path], directory: work.path, timeout: 300)
        // Schemathesis prints each failure with a curl command that reproduces it.
        #expect(r.status == 0, "\(r.output)\(r.errors)")
        #expect(r.output.contains("Stateful"), "\(r.output)")
        // The chain, with no bearer of its own: only the session a login returned, carried by the links, authenticates.
        let chain = try await Child.run(schemathesis, [
            "run", "\(server.base)/api/v1/openapi.json", "--url", server.base, "--checks", checks,
            // 20 examples missed a link one run in three; 100 (about 5 s) with a fixed seed follow all four every time.
            "--phases", "stateful", "--mode", "positive", "--max-examples", "100", "--seed", "1", "--request-timeout", "10", "--no-color",
            "--include-operation-id", "login", "--include-operation-id", "createToken",
            "--include-operation-id", "listTokens", "--include-operation-id", "revokeToken",
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": work.path, "PYTHONPATH": CLI.root.appendingPathComponent("Tests/schemathesis").path,
                         "SCHEMATHESIS_HOOKS": "reprise_hooks", "REPRISE_CHAIN_USER": "chain", "REPRISE_CHAIN_PASSWORD": "chain-password"],
           directory: work.path, timeout: 300)
        #expect(chain.status == 0, "\(chain.output)\(chain.errors)")
        #expect(chain.output.contains("4 covered / 4 selected"), "not every link of the chain was followed: \(chain.output)")
        let chained = try await curl(["-s", "-H", "Authorization: Bearer \(admin)", "\(server.base)/api/v1/tokens?user=chain"])
        let tokens = (try JSONSerialization.jsonObject(with: chained) as? [String: Any])?["tokens"] as? [[String: Any]] ?? []
        #expect(!tokens.isEmpty, "no token was created with a session of the chain's login: \(String(decoding: chained, as: UTF8.self))")
        #expect(tokens.contains { $0["revoked_at"] is NSNumber }, "no token of the chain was revoked through the link")
        let health = try await http("GET", "\(server.base)/healthz")
        #expect(health.0 == 200)
        let songs = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(admin)", "\(server.base)/api/v1/songs"])
        #expect(String(decoding: songs, as: UTF8.self) == "200")
    }
}
