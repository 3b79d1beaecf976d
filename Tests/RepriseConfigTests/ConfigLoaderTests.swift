import Foundation
import TestSupport
import Testing
@testable import RepriseConfig

@Suite struct ConfigLoaderTests {
    func write(_ yaml: String) throws -> String {
        let path = try TempDir("reprise-config").file("reprise.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsApplyToAnEmptyFile() throws {
        let s = try ConfigLoader.load(file: try write("# nothing\n"), env: [:])
        #expect(s.httpHost == "127.0.0.1")
        #expect(s.httpPort == 8460)
        #expect(s.publicURL == "http://127.0.0.1:8460")
        #expect(s.databasePath == "data/reprise.sqlite")
        #expect(s.policy.webTTL == 3_600_000)
        #expect(s.gcBatchSize == 500)
        #expect(s.tokenRetention == 30 * 86_400_000)
        #expect(s.sendfile)
    }

    @Test func sendfileCanBeTurnedOffAndIsValidated() throws {
        let file = try write("http:\n  sendfile: false\n")
        #expect(try ConfigLoader.load(file: file, env: [:]).sendfile == false)
        #expect(try ConfigLoader.load(file: file, env: ["REPRISE_HTTP_SENDFILE": "true"]).sendfile)
        let bad = try write("http:\n  sendfile: sometimes\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: bad, env: [:]) }
        #expect(error?.message.contains("http.sendfile") == true)
        #expect(error?.message.contains(bad) == true)
    }

    @Test func eventLoopsDefaultToAutomaticAndAreValidated() throws {
        let plain = try write("http:\n  port: 9000\n")
        #expect(try ConfigLoader.load(file: plain, env: [:]).eventLoops == 0)
        #expect(try ConfigLoader.load(file: plain, env: ["REPRISE_HTTP_EVENT_LOOPS": "3"]).eventLoops == 3)
        let bad = try write("http:\n  event_loops: -1\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: bad, env: [:]) }
        #expect(error?.message.contains("http.event_loops") == true)
        #expect(error?.message.contains(bad) == true)
    }

    @Test func shippedFileLoadsAndDocumentsEveryKey() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("config/reprise.yaml").path
        _ = try ConfigLoader.load(file: path, env: [:])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for key in ConfigLoader.knownKeys {
            let leaf = key.split(separator: ".").last!
            #expect(text.contains("\(leaf):"), "config/reprise.yaml does not document \(key)")
        }
    }

    @Test func layersFlagsOverEnvironmentOverFileOverDefaults() throws {
        let file = try write("http:\n  port: 9000\n  host: 0.0.0.0\nsessions:\n  web_ttl: 2h\n  api_ttl: 90\n")
        let s = try ConfigLoader.load(
            file: file, env: ["REPRISE_HTTP_PORT": "9100", "REPRISE_SESSIONS_WEB_TTL": "5m"], overrides: ["http.port": "9200"])
        #expect(s.httpPort == 9200)
        #expect(s.policy.webTTL == 300_000)
        #expect(s.policy.apiTTL == 90_000)
        #expect(s.httpHost == "0.0.0.0")
        let t = try ConfigLoader.load(file: file, env: ["REPRISE_HTTP_PORT": "9100"])
        #expect(t.httpPort == 9100)
    }

    @Test func unknownKeyNamesFileLineAndSuggestion() throws {
        let file = try write("sessions:\n  web_ttl: 1h\n  web_tll: 2h\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, env: [:]) }
        #expect(error?.message.contains("\(file):3") == true)
        #expect(error?.message.contains("sessions.web_tll") == true)
        #expect(error?.message.contains("did you mean 'sessions.web_ttl'") == true)
    }

    @Test func unknownSectionIsAnError() throws {
        let file = try write("htp:\n  port: 1\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, env: [:]) }
        #expect(error?.message.contains("'htp'") == true)
    }

    @Test func badDurationNamesKeyAndExpectation() throws {
        let file = try write("gc:\n  interval: 5 minutes\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, env: [:]) }
        #expect(error?.message.contains("\(file):2") == true)
        #expect(error?.message.contains("gc.interval") == true)
        #expect(error?.message.contains("duration") == true)
    }

    @Test func wrongTypeIsAnError() throws {
        let file = try write("http:\n  port: eighty\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, env: [:]) }
        #expect(error?.message.contains("http.port") == true)
        #expect(error?.message.contains("integer") == true)
        let nested = try write("http:\n  port:\n    a: 1\n")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(file: nested, env: [:]) }
    }

    @Test func badEnvironmentValueNamesTheVariable() throws {
        let file = try write("{}\n")
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, env: ["REPRISE_GC_BATCH_SIZE": "lots"]) }
        #expect(error?.message.contains("REPRISE_GC_BATCH_SIZE") == true)
    }

    @Test func missingFileIsAnError() {
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(file: "/nonexistent/reprise.yaml", env: [:]) }
        #expect(error?.message.contains("/nonexistent/reprise.yaml") == true)
    }

    @Test func invalidYAMLIsAnError() throws {
        let file = try write("http: [unclosed\n")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(file: file, env: [:]) }
    }

    @Test func pluginSectionsAreKeptAsTrees() throws {
        let file = try write("plugins:\n  enabled: [a, b]\n  config:\n    a:\n      window: \"22:00-07:00\"\n")
        let s = try ConfigLoader.load(file: file, env: [:])
        guard case .map(let plugins) = s.trees["plugins"] else { Issue.record("no plugins tree"); return }
        #expect(plugins.first?.0 == "enabled")
        #expect(plugins.first?.1 == .list([.scalar("a"), .scalar("b")]))
    }

    @Test func publicURLIsValidatedAndTrimmed() throws {
        let s = try ConfigLoader.load(file: try write("http:\n  public_url: http://music.lan:8460/\n"), env: [:])
        #expect(s.publicURL == "http://music.lan:8460")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(file: try write("http:\n  public_url: music.lan\n"), env: [:]) }
    }
}
