import Foundation
import HTTPRanges
import RepriseAmpache
import RepriseConfig
import RepriseCore
import RepriseHTTP
import RepriseServer

/// The fuzz targets: each takes any bytes and must neither trap nor hang.
///
/// `make fuzz` runs them under libFuzzer with AddressSanitizer; `make test` replays the corpus in
/// `Fuzz/corpus/<name>/` (FuzzCorpusTests).
public enum FuzzTargets {
    /// Every target by name.
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "range": range,
        "conditions": conditions,
        "stream-target": streamTarget,
        "ampache-params": ampacheParams,
        "duration": duration,
        "config": config,
        "json-body": jsonBody,
    ]

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// A `Range` header against files of edge sizes.
    static func range(_ bytes: [UInt8]) {
        let header = text(bytes)
        for size: Int64 in [0, 1, 100, 705_680, Int64.max] { _ = evaluateRange(header: header, size: size) }
    }

    /// Lines as If-None-Match, If-Modified-Since, If-Range and Range, for GET and HEAD.
    static func conditions(_ bytes: [UInt8]) {
        let lines = text(bytes).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func line(_ i: Int) -> String? { i < lines.count ? lines[i] : nil }
        let headers = ConditionalHeaders(ifNoneMatch: line(0), ifModifiedSince: line(1), ifRange: line(2), range: line(3))
        let etag = EntityTag.strong(id: 1, size: 705_680, mtimeMs: 1_796_515_189_986)
        for method in ["GET", "HEAD"] {
            _ = planResponse(method: method, headers: headers, size: 705_680, etag: etag, lastModifiedMs: 1_796_515_189_986)
        }
        _ = EntityTagList.parse(text(bytes))
    }

    static func streamTarget(_ bytes: [UInt8]) { _ = HTTPParserEntryPoints.streamTarget(text(bytes)) }

    static func ampacheParams(_ bytes: [UInt8]) {
        _ = AmpacheParserEntryPoints.form(text(bytes))
        _ = AmpacheParserEntryPoints.playURL(text(bytes))
    }

    /// Durations as config files and `--ttl` give them.
    static func duration(_ bytes: [UInt8]) {
        let t = text(bytes)
        if let ms = DurationText.milliseconds(t) { _ = DurationText.format(ms: ms) }
        _ = Lifetime.parse(t)
        if let n = Int64(t) { _ = Lifetime(seconds: n); _ = EpochMs.after(n, .clamped(ms: n)); _ = EpochMs.distance(n, 0 &- n); _ = EpochMs.adding(n, n) }
    }

    /// A whole configuration file, then the sections read later (plugins, players, Ampache).
    static func config(_ bytes: [UInt8]) {
        guard let settings = try? ConfigLoader.load(text: text(bytes), file: "fuzz.yaml", env: [:]) else { return }
        _ = try? settings.pluginSettings()
        if let players = try? settings.playerEntries() { _ = try? settings.ampacheLocalplay(players: players.compactMap { $0["name"] }) }
    }

    static func jsonBody(_ bytes: [UInt8]) { HTTPParserEntryPoints.jsonBody(Data(bytes)) }
}
