import Prometheus
import RepriseCore
import RepriseSQLite
import RepriseStorage
import RepriseSync

/// Prometheus metrics, collected from the stores and services when scraped.
public final class RepriseMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let core: ServerCore
    /// Extra collectors run before each scrape (plugins, players).
    let collectors = Locked<[@Sendable (PrometheusCollectorRegistry, inout [String: Int64]) -> Void]>([])
    /// Values counters last reported, so cumulative totals become increments.
    private let seen = Locked<[String: Int64]>([:])

    public init(core: ServerCore) {
        self.core = core
    }

    /// Adds a collector run at each scrape.
    public func addCollector(_ c: @escaping @Sendable (PrometheusCollectorRegistry, inout [String: Int64]) -> Void) {
        collectors.withLock { $0.append(c) }
    }

    /// Brings a counter up to a cumulative `total`.
    func counter(_ name: String, _ labels: [(String, String)] = [], total: Int64, help: String) {
        let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = seen.withLock { s -> Int64 in
            let d = total - (s[key] ?? 0)
            s[key] = max(total, s[key] ?? 0)
            return d
        }
        let c = labels.isEmpty ? registry.makeCounter(name: name, help: help) : registry.makeCounter(name: name, labels: labels, help: help)
        if delta > 0 { c.increment(by: delta) }
    }

    func gauge(_ name: String, _ labels: [(String, String)] = [], value: Double, help: String) {
        let g = labels.isEmpty ? registry.makeGauge(name: name, help: help) : registry.makeGauge(name: name, labels: labels, help: help)
        g.set(value)
    }

    /// The metrics in Prometheus text format.
    public func scrape() async throws -> String {
        let byKind = try await core.sessions.countByKind()
        for kind in SessionKind.allCases {
            gauge("reprise_sessions", [("kind", kind.rawValue)], value: Double(byKind[kind] ?? 0), help: "Sessions in the store, by kind.")
        }
        let tokens = try await core.tokens.list(userId: nil)
        let now = core.clock.nowMs()
        gauge("reprise_stream_tokens", [("state", "active")], value: Double(tokens.filter { $0.isUsable(now: now) }.count), help: "Stream tokens, by state.")
        gauge("reprise_stream_tokens", [("state", "inactive")], value: Double(tokens.filter { !$0.isUsable(now: now) }.count), help: "Stream tokens, by state.")
        gauge("reprise_streams_active", value: Double(core.ledger.active().count), help: "Streams in progress.")
        let t = core.ledger.totals()
        counter("reprise_stream_bytes_total", total: t.bytes, help: "Bytes of media sent.")
        counter("reprise_streams_total", [("outcome", "completed")], total: Int64(t.completed), help: "Finished streams, by outcome.")
        counter("reprise_streams_total", [("outcome", "aborted")], total: Int64(t.aborted), help: "Finished streams, by outcome.")
        counter("reprise_stream_refusals_total", total: Int64(t.refused), help: "Stream requests refused (401, 403).")
        counter("reprise_stream_fast_path_total", total: Int64(core.fastPathAnswers.count), help: "Stream requests answered on the event loop from memory.")
        counter("reprise_policy_handed_on_total", total: Int64(core.plugins.inlineHandedOn.load(ordering: .relaxed)), help: "Stream requests whose token_authorize an event loop handed to the full path (no idle VM, too slow).")
        gauge("reprise_policy_inline_longest_seconds", value: Double(core.plugins.inlineLongestNs.load(ordering: .relaxed)) / 1e9, help: "The longest an event loop spent in token_authorize (bound: 5 ms deadline).")
        if let playback = core.playback {
            for (key, n) in playback.counters.snapshot.sorted(by: { ($0.key.kind, $0.key.source.rawValue) < ($1.key.kind, $1.key.source.rawValue) }) {
                counter("reprise_player_events_total", [("kind", key.kind), ("source", key.source.rawValue)], total: Int64(n), help: "Player events (recoveries, skips, rotations, other clients' stop, clear, add...), by kind and source.")
            }
        }
        let gc = core.gc.totals.snapshot
        counter("reprise_gc_runs_total", total: Int64(gc.runs), help: "GC passes run by this process.")
        counter("reprise_gc_sessions_deleted_total", total: Int64(gc.sums.deleted), help: "Sessions deleted by GC.")
        for (reason, n) in [("grace", gc.sums.sparedByGrace), ("lease", gc.sums.sparedByLease), ("rule", gc.sums.sparedByRule)] {
            counter("reprise_gc_sessions_spared_total", [("reason", reason)], total: Int64(n), help: "Expired sessions GC kept, by reason.")
        }
        counter("reprise_gc_tokens_purged_total", total: Int64(gc.sums.tokensPurged), help: "Stream tokens purged after retention.")
        if let scan = core.scanner.lastScan {
            for (what, n) in [("added", scan.added), ("updated", scan.updated), ("removed", scan.removed), ("unchanged", scan.unchanged), ("skipped", scan.skipped), ("errors", scan.errors)] {
                gauge("reprise_last_scan_files", [("result", what)], value: Double(n), help: "Files in the latest catalog scan, by result.")
            }
            gauge("reprise_last_scan_duration_seconds", value: Double(scan.durationMs) / 1000, help: "Duration of the latest catalog scan.")
        }
        let counts = try await core.catalog.counts()
        gauge("reprise_catalog_songs", value: Double(counts.songs), help: "Songs in the catalog.")
        var extra = seen.withLock { $0 }
        for c in collectors.withLock({ $0 }) { c(registry, &extra) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
