import HTTPRanges
import HTTPTypes
import RepriseCore
@testable import RepriseHTTP
import Testing

/// `StreamPlan`: the one decision every stream transport answers from.
@Suite struct StreamPlanTests {
    let song = Song(id: 7, path: "/music/a.flac", size: 1_000, mtimeMs: 1_700_000_000_000, title: "A", artist: "B", artistId: 1, album: "C", albumId: 1,
                    albumArtist: nil, track: 1, disc: 1, year: nil, genre: nil, durationMs: 1_000, bitrate: 900, sampleRate: 44_100, channels: 2, format: "flac")

    func plan(head: Bool = false, _ fields: [String: String] = [:]) -> StreamPlan {
        StreamPlan.make(song: song, isHead: head, conditions: ConditionalHeaders { fields[$0.lowercased()] }, validators: .init(song))
    }

    func field(_ p: StreamPlan, _ name: String) -> String? { p.fields.first { $0.name == name }?.value }

    @Test func wholeFileRangesAndHead() {
        let full = plan()
        #expect(full.status == .ok && full.body == .file(0...999) && field(full, "Content-Length") == "1000" && field(full, "Accept-Ranges") == "bytes")
        let head = plan(head: true)
        #expect(head.status == .ok && head.body == .none && field(head, "Content-Length") == "1000")
        let part = plan(["range": "bytes=100-199"])
        #expect(part.status == .partialContent && part.body == .file(100...199))
        #expect(field(part, "Content-Range") == "bytes 100-199/1000" && field(part, "Content-Length") == "100")
        let several = plan(["range": "bytes=0-9,500-509"])
        guard case .multipart(let m) = several.body else { Issue.record("not multipart: \(several.body)"); return }
        #expect(several.status == .partialContent && m.parts.map(\.range) == [0...9, 500...509])
        #expect(field(several, "Content-Type") == m.contentType && field(several, "Content-Length") == String(m.contentLength))
    }

    @Test func validatorsAndRefusals() {
        let etag = field(plan(), "ETag")!
        let same = plan(["if-none-match": etag])
        #expect(same.status == .notModified && same.body == .none && field(same, "Content-Type") == nil && field(same, "ETag") == etag)
        let stale = plan(["if-none-match": "\"other\""])
        #expect(stale.status == .ok)
        let past = plan(["range": "bytes=5000-"])
        #expect(past.status == .rangeNotSatisfiable && field(past, "Content-Range") == "bytes */1000")
        #expect(past.body == .error(.rangeNotSatisfiable, "the range starts past the end of the 1000-byte file"))
        #expect(field(past, "Content-Type") == "application/json; charset=utf-8")
        #expect(plan(head: true, ["range": "bytes=5000-"]).body == .none)
    }
}
