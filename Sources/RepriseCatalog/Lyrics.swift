import CTagLibShim
import Foundation

/// A song's lyrics: plain lines, or lines with their start times (an `.lrc` file).
public struct SongLyrics: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        /// Start, ms from the song's start (nil: unsynchronised).
        public var startMs: Int64?
        public var text: String
    }

    public var synced: Bool
    public var lines: [Line]
    /// The `.lrc` file's `[offset:]`, ms.
    public var offsetMs: Int64

    /// The lyrics beside a song (`<name>.lrc`, synchronised) and in its tags, in that order. Blocking file I/O.
    public static func read(songPath: String) -> [SongLyrics] {
        var out: [SongLyrics] = []
        let lrc = (songPath as NSString).deletingPathExtension + ".lrc"
        if let data = FileManager.default.contents(atPath: lrc), data.count <= 1 << 20, let text = String(data: data, encoding: .utf8), let parsed = parseLRC(text) {
            out.append(parsed)
        }
        if let c = reprise_taglib_lyrics(songPath) {
            defer { free(c) }
            let text = String(cString: c)
            // An embedded text may itself be LRC.
            if let parsed = parseLRC(text), parsed.synced { out.append(parsed) } else {
                let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map { Line(startMs: nil, text: String($0)) }
                out.append(SongLyrics(synced: false, lines: lines, offsetMs: 0))
            }
        }
        return out
    }

    /// Parses LRC (`[mm:ss.xx]text`, several stamps per line allowed, `[offset:+/-ms]`); nil when no line has a stamp.
    public static func parseLRC(_ text: String) -> SongLyrics? {
        var lines: [Line] = []
        var offset: Int64 = 0
        for raw in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n").prefix(10_000) {
            var rest = Substring(raw)
            var stamps: [Int64] = []
            while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                let tag = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                if tag.lowercased().hasPrefix("offset:"), let n = Int64(tag.dropFirst(7).trimmingCharacters(in: .whitespaces)) { offset = n; continue }
                let parts = tag.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let m = Int64(parts[0]), m >= 0, m < 10_000, let s = Double(parts[1]), s >= 0, s < 60 else { continue }
                stamps.append(m * 60_000 + Int64((s * 1000).rounded()))
            }
            for stamp in stamps { lines.append(Line(startMs: stamp, text: String(rest))) }
        }
        guard !lines.isEmpty else { return nil }
        return SongLyrics(synced: true, lines: lines.sorted { ($0.startMs ?? 0) < ($1.startMs ?? 0) }, offsetMs: offset)
    }
}
