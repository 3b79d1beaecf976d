import Foundation
import RepriseCore
@testable import RepriseServer
import TestSupport
import Testing

/// Covers through the server: a folder image found by the scan, scaled, cached, answered again on the
/// event loop (fast path) with the same bytes and ETag, 304 on a match; a wrong token is refused.
@Suite struct ArtRouteTests {
    @Test(arguments: Transport.allCases) func coversAreServedAndCached(_ transport: Transport) async throws {
        let lib = try Library(clock: ManualWallClock())  // cached credentials stay fresh
        let song = try lib.tone("A/song.flac", seconds: 1, tags: ["TITLE": "Song"])
        let wav = lib.dir.appendingPathComponent("t.wav").path
        try Tone.writeBlocking(wav, seconds: 1)
        try sh("sox", [wav, "-n", "spectrogram", "-o", lib.music.appendingPathComponent("A/cover.png").path, "-x", "300", "-y", "200"])
        _ = try await lib.core.scanner.scan()
        let id = try #require(try await lib.core.catalog.index()[song]?.id)
        let (session, token) = try await lib.credentials()
        try await lib.test(transport) { client in
            let first = try await client.get("/art/song/\(id)?token=\(token)&size=120", headers: ["Connection": "close"])
            #expect(first.status == .ok && first.headers[.contentType] == "image/jpeg", "\(first.status)")
            let etag = try #require(first.headers[.eTag])
            let fast = lib.core.services.fastPathAnswers.count
            let again = try await client.get("/art/song/\(id)?token=\(token)&size=120")
            #expect(again.status == .ok && again.body == first.body && again.headers[.eTag] == etag)
            let cached = try await client.get("/art/song/\(id)?token=\(token)&size=120", headers: ["If-None-Match": etag])
            #expect(cached.status == .notModified && cached.body.isEmpty)
            #expect(lib.core.services.fastPathAnswers.count - fast == (transport == .fastPath ? 2 : 0))
            // The session path serves the same picture; a refused token gets no picture.
            let native = try await client.get("/api/v1/art/album/\(try #require(try await lib.core.songs.song(id: id)?.albumId))?size=120", bearer: session)
            #expect(native.status == .ok && native.body == first.body)
            let refused = try await client.get("/art/song/\(id)?token=rt_wrongwrongwrongwrongwrongwrongwrongwrong0&size=120")
            #expect(refused.status == .unauthorized)
            let none = try await client.get("/art/song/424242?token=\(token)")
            #expect(none.status == .notFound && none.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }
}
