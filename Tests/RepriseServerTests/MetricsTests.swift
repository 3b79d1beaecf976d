import Foundation
import Testing
@testable import RepriseServer

@Suite struct MetricsTests {
    @Test func metricsReflectSessionsStreamsGCAndScans() async throws {
        let lib = try Library()
        try lib.tone("a.flac")
        _ = try await lib.core.scanner.scan()
        let (session, token) = try await lib.credentials()
        _ = try await lib.core.gc.runOnce()
        try await lib.test { client in
            _ = try await client.get("/stream/1?token=\(token)")
            let r = try await client.get("/metrics")
            #expect(r.status == .ok)
            let text = String(decoding: r.body, as: UTF8.self)
            #expect(text.contains(#"reprise_sessions{kind="web"} 1"#))
            #expect(text.contains(#"reprise_streams_total{outcome="completed"} 1"#))
            #expect(text.contains("reprise_gc_runs_total 1"))
            #expect(text.contains(#"reprise_last_scan_files{result="added"} 1"#))
            #expect(text.contains("reprise_catalog_songs 1"))
            #expect(!text.contains(session) && !text.contains(token))
            // Counters stay cumulative across scrapes.
            _ = try await client.get("/stream/1?token=\(token)")
            let again = String(decoding: try await client.get("/metrics").body, as: UTF8.self)
            #expect(again.contains(#"reprise_streams_total{outcome="completed"} 2"#))
        }
    }

    @Test func tokenProtectsAndSwitchDisables() async throws {
        let guarded = try Library(extraYAML: "metrics:\n  token: sekrit-metrics")
        try await guarded.test { client in
            let r1 = try await client.get("/metrics")
            #expect(r1.status == .unauthorized)
            let r2 = try await client.get("/metrics", bearer: "wrong")
            #expect(r2.status == .unauthorized)
            let r3 = try await client.get("/metrics", bearer: "sekrit-metrics")
            #expect(r3.status == .ok)
        }
        let off = try Library(extraYAML: "metrics:\n  enabled: false")
        try await off.test { client in
            let r = try await client.get("/metrics")
            #expect(r.status == .notFound)
        }
    }
}
