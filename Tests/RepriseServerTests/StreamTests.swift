import Foundation
import GRDB
import HTTPRanges
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
@testable import RepriseHTTP
import RepriseSQLite
import RepriseCore
import TestSupport
import Testing
@testable import RepriseServer

@Suite struct StreamTests {
    /// A library with one FLAC file, scanned; returns the file's bytes and song id.
    /// The token policy is Swift's default: Lua's inline answer gives way on a busy machine (by
    /// design), which would send requests these tests count on the fast path the full way.
    /// PluginWiringTests covers the Lua policy on the fast path.
    func setUp(clock: any WallClock = SystemWallClock()) async throws -> (Library, Data, Int64, String, String) {
        let lib = try Library(clock: clock, tokenPolicy: DefaultTokenPolicy())
        let path = try lib.tone("A/song.flac", seconds: 1, tags: ["TITLE": "Song"])
        _ = try await lib.core.scanner.scan()
        let id = try #require(try await lib.core.catalog.index()[path]?.id)
        let (session, token) = try await lib.credentials()
        return (lib, try Data(contentsOf: URL(fileURLWithPath: path)), id, session, token)
    }

    @Test(arguments: Transport.allCases) func wholeFileAndHead(_ transport: Transport) async throws {
        let (lib, bytes, id, _, token) = try await setUp(clock: ManualWallClock())  // cached credentials stay fresh
        try await lib.test(transport) { client in
            let before = FileRegionHandoff.shared.regionsSent
            // On a connection of its own: a request sent before the router's previous answer has
            // ended on the server goes to the router too (responses keep their order).
            let r = try await client.get("/stream/\(id)?token=\(token)", headers: ["Connection": "close"])
            #expect(r.status == .ok)
            #expect(r.body == bytes)
            if transport == .sendfile { #expect(FileRegionHandoff.shared.regionsSent > before) }
            #expect(r.headers[.contentType] == "audio/flac")
            #expect(r.headers[.acceptRanges] == "bytes")
            #expect(r.headers[.eTag] != nil && r.headers[.lastModified] != nil)
            let fast = lib.core.services.fastPathAnswers.count
            let h = try await client.get("/stream/\(id)?token=\(token)", method: .head)
            #expect(h.status == .ok)
            #expect(h.body.isEmpty)
            #expect(h.headers[.contentLength] == String(bytes.count))
            let again = try await client.get("/stream/\(id)?token=\(token)")
            #expect(again.body == bytes)
            #expect(again.headers[.eTag] == r.headers[.eTag] && again.headers[.lastModified] == r.headers[.lastModified])
            #expect(again.headers[.contentType] == "audio/flac" && again.headers[.contentLength] == String(bytes.count))
            // The first request filled the caches; with the fast path, the next two never reached the router.
            #expect(lib.core.services.fastPathAnswers.count - fast == (transport == .fastPath ? 2 : 0))
        }
    }

    /// Bodies over `StreamFastPath.maxBytes` (1 MiB), whole or ranged, go to the router, which paces them and
    /// holds their leases; a short range of the same file and a HEAD are answered on the event loop.
    @Test func longBodiesTakeTheFullPath() async throws {
        let lib = try Library(clock: ManualWallClock(), tokenPolicy: DefaultTokenPolicy())  // cached credentials stay fresh; no Lua (see setUp)
        let path = try lib.tone("long.wav", seconds: 10)  // 1.7 MB
        _ = try await lib.core.scanner.scan()
        let id = try #require(try await lib.core.catalog.index()[path]?.id)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(Int64(size) > StreamFastPath.maxBytes)
        let (_, token) = try await lib.credentials()
        try await lib.test(.fastPath) { client in
            _ = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-9", "Connection": "close"])  // fills the caches
            let before = lib.core.services.fastPathAnswers.count
            let whole = try await client.get("/stream/\(id)?token=\(token)", headers: ["Connection": "close"])
            #expect(whole.status == .ok && whole.body.count == size)
            let big = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-\(StreamFastPath.maxBytes)", "Connection": "close"])
            #expect(big.status == .partialContent && Int64(big.body.count) == StreamFastPath.maxBytes + 1)
            #expect(lib.core.services.fastPathAnswers.count == before, "a body over 1 MiB was answered on the event loop")
            let small = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=100-199", "Connection": "close"])
            #expect(small.status == .partialContent && small.body.count == 100)
            let head = try await client.get("/stream/\(id)?token=\(token)", method: .head, headers: ["Connection": "close"])
            #expect(head.status == .ok && head.headers[.contentLength] == String(size))
            #expect(lib.core.services.fastPathAnswers.count == before + 2)
        }
    }

    /// The fast path takes only plain `/stream/{id}?token=` targets; anything odd goes to the router.
    @Test func fastPathParsesOnlyPlainTargets() {
        let ok = StreamFastPath.parse("/stream/12?token=rt_abc")
        #expect(ok?.songId == 12 && ok?.token == "rt_abc" && ok?.path == "/stream/12")
        let among = StreamFastPath.parse("/stream/7?x=1&token=rt_t&y=")
        #expect(among?.songId == 7 && among?.token == "rt_t" && among?.path == "/stream/7")
        for odd in [
            "/stream/12", "/stream/12?", "/stream/12?token=", "/stream/12?token=a&token=b", "/stream/12?token=a%2Bb", "/stream/12?token=a+b",
            "/stream/abc?token=a", "/stream/0?token=a", "/stream/-1?token=a", "/stream/99999999999999999999?token=a", "/streams/1?token=a",
            "/stream/1/x?token=a", "/stream/?token=a", "/api/v1/songs?token=a", "",
        ] {
            #expect(StreamFastPath.parse(odd) == nil, "\(odd)")
        }
    }

    /// Sends `requests` at once on one connection; returns each response's status line code, length and body.
    static func pipeline(port: Int, _ requests: [String]) async throws -> [(status: String, body: Data)] {
        let raw = requests.map { $0.replacingOccurrences(of: "\n", with: "\\r\\n") + "\\r\\n\\r\\n" }.joined()
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", \(port)))
            s.sendall("\(raw)".encode())
            f = s.makefile("rb")
            for _ in range(\(requests.count)):
                status = f.readline().split()[1]
                length = 0
                while True:
                    line = f.readline().strip()
                    if not line: break
                    k, v = line.split(b":", 1)
                    if k.lower() == b"content-length": length = int(v)
                sys.stdout.buffer.write(status + b" " + f.read(length).hex().encode() + b"\\n")
            """
        let r = try await Child.run("/usr/bin/python3", ["-c", script], timeout: 30)
        return r.output.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            return (String(parts[0]), Data(hexString: parts.count > 1 ? String(parts[1]) : ""))
        }
    }

    /// With `http.sendfile: false` the fast path still answers what needs no file read (refusals, HEAD)
    /// and leaves every body to the full path.
    @Test func fastPathWithoutSendfileReadsNoFile() async throws {
        let (lib, bytes, id, _, token) = try await setUp(clock: ManualWallClock())
        let limits = ConnectionLimits(requestTimeout: .seconds(30), bodyTimeout: .seconds(30), maxPerPeer: 64)
        let app = Application(router: buildRouter(lib.core.services), server: .reprise(lib.core.services, serverName: "t", sendfile: false, limits: limits))
        try await app.test(.live) { client in
            _ = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-0"])  // fills the caches
            var fast = lib.core.services.fastPathAnswers.count
            let refused = try await client.get("/stream/\(id)?token=rt_unknown")
            #expect(refused.status == .unauthorized)
            #expect(lib.core.services.fastPathAnswers.count == fast + 1)
            fast += 1
            let head = try await client.get("/stream/\(id)?token=\(token)", method: .head)
            #expect(head.status == .ok && head.headers[.contentLength] == String(bytes.count))
            #expect(lib.core.services.fastPathAnswers.count == fast + 1)
            fast += 1
            let small = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-99"])
            #expect(small.status == .partialContent && small.body == bytes.prefix(100))
            #expect(lib.core.services.fastPathAnswers.count == fast, "a body was read on the event loop")
        }
    }

    /// A HEAD answered on the event loop has no body, and the router's next answer on the connection
    /// keeps its body. Found by Schemathesis: the fast path wrote past NIO's encoder, which pairs each
    /// response with its request's method, so the next response was framed as a HEAD's and lost its body.
    @Test func headOnTheFastPathLeavesTheNextAnswerWhole() async throws {
        let (lib, _, id, _, token) = try await setUp(clock: ManualWallClock())
        try await lib.live(.fastPath) { client in
            let port = try #require(client.port)
            _ = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-0"])  // fills the caches
            for target in ["/stream/\(id)?token=rt_unknown", "/stream/\(id)?token=\(token)"] {
                let fast = lib.core.services.fastPathAnswers.count
                let c = try RawConnection(port: port)
                try c.send("HEAD \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = await c.readHead()  // the HEAD alone first: the fast path answers only then
                try c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let rest = await c.readUntilClosed(seconds: 5).text
                #expect(head.hasPrefix("HTTP/1.1 "), "\(head)")
                #expect(rest.hasPrefix("HTTP/1.1 200"), "the HEAD answer had a body, or the next answer is missing: \(rest) (after \(head))")
                #expect(rest.contains(#""status":"ok""#) && rest.hasSuffix("}"), "the next answer lost its body: \(rest)")
                #expect(lib.core.services.fastPathAnswers.count == fast + 1)
            }
        }
    }

    /// Pipelined requests get their responses in order when some are answered on the event loop and some by the router.
    @Test func pipelinedResponsesKeepTheirOrder() async throws {
        let (lib, bytes, id, session, token) = try await setUp(clock: ManualWallClock())  // cached credentials stay fresh
        try await lib.live(.fastPath) { client in
            let port = try #require(client.port)
            _ = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-0"])  // fills the caches
            let range = { (r: String) in "GET /stream/\(id)?token=\(token) HTTP/1.1\nHost: x\nRange: bytes=\(r)" }
            let unknown = "GET /stream/\(id)?token=rt_unknown HTTP/1.1\nHost: x"
            var fast = lib.core.services.fastPathAnswers.count
            let mixed = try await Self.pipeline(port: port, [
                range("0-99"), "GET /api/v1/songs/\(id) HTTP/1.1\nHost: x\nAuthorization: Bearer \(session)", range("100-199"), unknown,
            ])
            try #require(mixed.count == 4, "\(mixed)")
            #expect(mixed[0].status == "206" && mixed[0].body == bytes.subdata(in: 0..<100))
            #expect(mixed[1].status == "200" && String(decoding: mixed[1].body, as: UTF8.self).contains("\"id\":\(id)"))
            #expect(mixed[2].status == "206" && mixed[2].body == bytes.subdata(in: 100..<200))
            #expect(mixed[3].status == "401" && String(decoding: mixed[3].body, as: UTF8.self).contains("invalid_token"))
            // The first range was answered on the event loop; what came behind the router's request waited for it there.
            #expect(lib.core.services.fastPathAnswers.count - fast == 1)
            fast = lib.core.services.fastPathAnswers.count
            let quick = try await Self.pipeline(port: port, [range("-10"), unknown, range("5-5")])
            try #require(quick.count == 3, "\(quick)")
            #expect(quick[0].status == "206" && quick[0].body == bytes.suffix(10))
            #expect(quick[1].status == "401")
            #expect(quick[2].status == "206" && quick[2].body == bytes.subdata(in: 5..<6))
            #expect(lib.core.services.fastPathAnswers.count - fast == 3)
        }
    }

    /// A file the fast path keeps open for a connection serves only while its path still names it,
    /// and closes with the connection.
    @Test func keptFilesFollowTheirPathAndCloseWithTheConnection() async throws {
        let (lib, bytes, id, _, token) = try await setUp(clock: ManualWallClock())  // cached credentials stay fresh
        let path = try #require(try await lib.core.catalog.index().first { $0.value.id == id }?.key)
        let replacement = Data(bytes.reversed())
        try replacement.write(to: URL(fileURLWithPath: path + ".new"))
        try await lib.live(.fastPath) { client in
            let port = try #require(client.port)
            _ = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-0"])  // fills the caches
            let fast = lib.core.services.fastPathAnswers.count
            let script = """
                import os, socket, sys, time
                path, pid = \(String(reflecting: path)), \(getpid())
                def held():
                    n = 0
                    for fd in os.listdir(f"/proc/{pid}/fd"):
                        try: target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        except OSError: continue
                        if target in (path, path + " (deleted)"): n += 1
                    return n
                def get(f):
                    s.sendall(b"GET /stream/\(id)?token=\(token) HTTP/1.1\\r\\nHost: x\\r\\nRange: bytes=0-99\\r\\n\\r\\n")
                    status, length = f.readline().split()[1], 0
                    while True:
                        line = f.readline().strip()
                        if not line: break
                        k, v = line.split(b":", 1)
                        if k.lower() == b"content-length": length = int(v)
                    return status.decode() + " " + f.read(length).hex()
                s = socket.create_connection(("127.0.0.1", \(port)))
                f = s.makefile("rb")
                print(get(f), held())
                st = os.stat(path)
                os.utime(path + ".new", ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime, another file
                os.replace(path + ".new", path)
                print(get(f), held())
                f.close(); s.close()
                deadline = time.time() + 5
                while held() and time.time() < deadline: time.sleep(0.02)
                print("closed", held())
                """
            let lines = try await Child.run("/usr/bin/python3", ["-c", script], timeout: 30).output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            try #require(lines.count == 3, "\(lines)")
            #expect(lines[0] == ["206", bytes.prefix(100).hexString, "1"])
            // The kept descriptor still reads the old file; the path names the new one, which is served.
            #expect(lines[1] == ["206", replacement.prefix(100).hexString, "1"])
            #expect(lines[2] == ["closed", "0"])
            #expect(lib.core.services.fastPathAnswers.count - fast == 2)
        }
    }

    @Test(arguments: Transport.allCases) func singleRangesReturnExactBytes(_ transport: Transport) async throws {
        let (lib, bytes, id, _, token) = try await setUp()
        let n = bytes.count
        let cases: [(String, Range<Int>)] = [
            ("bytes=0-99", 0..<100), ("bytes=100-", 100..<n), ("bytes=-10", (n - 10)..<n), ("bytes=\(n - 1)-", (n - 1)..<n),
            ("bytes=10-999999999", 10..<n), ("bytes=-999999999", 0..<n),
        ]
        try await lib.test(transport) { client in
            for (header, expected) in cases {
                let r = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": header])
                #expect(r.status == .partialContent, "\(header)")
                #expect(r.body == bytes.subdata(in: expected), "\(header)")
                #expect(r.headers[.contentRange] == "bytes \(expected.lowerBound)-\(expected.upperBound - 1)/\(n)", "\(header)")
            }
        }
    }

    @Test(arguments: Transport.allCases) func unsatisfiableAndInvalidRanges(_ transport: Transport) async throws {
        let (lib, bytes, id, _, token) = try await setUp()
        try await lib.test(transport) { client in
            let past = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=\(bytes.count)-"])
            #expect(past.status == .rangeNotSatisfiable)
            #expect(past.headers[.contentRange] == "bytes */\(bytes.count)")
            for bad in ["bytes=5-3", "items=0-10", "bytes=abc", "bytes=", "garbage"] {
                let r = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": bad])
                #expect(r.status == .ok, "\(bad)")
                #expect(r.body == bytes, "\(bad)")
            }
        }
    }

    @Test(arguments: Transport.allCases) func severalRangesAreMultipart(_ transport: Transport) async throws {
        let (lib, bytes, id, _, token) = try await setUp()
        try await lib.test(transport) { client in
            let r = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-9,100-109"])
            #expect(r.status == .partialContent)
            let type = try #require(r.headers[.contentType])
            #expect(type.hasPrefix("multipart/byteranges; boundary="))
            let boundary = String(type.split(separator: "=").last!)
            #expect(r.headers[.contentLength] == String(r.body.count))
            // Each part carries its Content-Range and exactly its bytes.
            for (range, header) in [(0..<10, "bytes 0-9/\(bytes.count)"), (100..<110, "bytes 100-109/\(bytes.count)")] {
                var expected = Data("\r\n--\(boundary)\r\nContent-Type: audio/flac\r\nContent-Range: \(header)\r\n\r\n".utf8)
                expected.append(bytes.subdata(in: range))
                #expect(r.body.range(of: expected) != nil, "\(header)")
            }
            #expect(r.body.suffix(boundary.count + 8) == Data("\r\n--\(boundary)--\r\n".utf8))
        }
    }

    @Test(arguments: Transport.allCases) func conditionalRequests(_ transport: Transport) async throws {
        let (lib, bytes, id, _, token) = try await setUp()
        try await lib.test(transport) { client in
            let first = try await client.get("/stream/\(id)?token=\(token)")
            let etag = try #require(first.headers[.eTag])
            let lastModified = try #require(first.headers[.lastModified])
            let r1 = try await client.get("/stream/\(id)?token=\(token)", headers: ["If-None-Match": etag])
            #expect(r1.status == .notModified)
            let r2 = try await client.get("/stream/\(id)?token=\(token)", headers: ["If-None-Match": "\"other\""])
            #expect(r2.status == .ok)
            let r3 = try await client.get("/stream/\(id)?token=\(token)", headers: ["If-Modified-Since": lastModified])
            #expect(r3.status == .notModified)
            let stale = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-9", "If-Range": "\"stale\""])
            #expect(stale.status == .ok)
            #expect(stale.body == bytes)
            let fresh = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-9", "If-Range": etag])
            #expect(fresh.status == .partialContent)
            #expect(fresh.body == bytes.prefix(10))
        }
    }

    @Test(arguments: Transport.allCases) func credentials(_ transport: Transport) async throws {
        let (lib, bytes, id, session, token) = try await setUp()
        try await lib.test(transport) { client in
            #expect(try await client.get("/stream/\(id)?token=\(token)").body == bytes)  // token and song now in memory
            let r4 = try await client.get("/stream/\(id)")
            #expect(r4.status == .unauthorized)
            let r5 = try await client.get("/stream/\(id)?token=rt_nonsense")
            #expect(r5.status == .unauthorized)
            let r6 = try await client.get("/stream/\(id)?token=\(session)")  // a session is not a stream token
            #expect(r6.status == .unauthorized)
            let r7 = try await client.get("/stream/\(id)", bearer: session)
            #expect(r7.body == bytes)
            let r8 = try await client.get("/stream/\(id)", bearer: token)  // a token is not a bearer session
            #expect(r8.status == .unauthorized)
            let r9 = try await client.get("/stream/999999?token=\(token)")
            #expect(r9.status == .notFound)
            let r10 = try await client.get("/stream/../../etc/passwd?token=\(token)")
            #expect(r10.status == .notFound)
            let r11 = try await client.get("/stream/abc?token=\(token)")
            #expect(r11.status == .notFound)
            let r12 = try await client.get("/stream/999999")  // no catalog probing without credentials
            #expect(r12.status == .unauthorized)
        }
        try await lib.test(transport) { client in
            #expect(try await client.get("/stream/\(id)?token=\(token)").status == .ok)
            // Revocation takes effect at once, on either path.
            let tokens = try await lib.core.tokens.list(userId: nil)
            try await lib.core.tokens.revoke(id: tokens[0].id)
            let r13 = try await client.get("/stream/\(id)?token=\(token)")
            #expect(r13.status == .unauthorized)
        }
    }

    @Test func expiredTokenIsRefused() async throws {
        let (lib, _, id, _, _) = try await setUp()
        let user = try #require(try await lib.core.users.find(name: "ann"))
        let (short, info) = try await lib.core.tokens.issue(user: user, label: "short", requestedTTLSeconds: 1, policy: DefaultTokenPolicy())
        try await lib.core.db.write { db in try db.execute(sql: "UPDATE stream_tokens SET expires_at = created_at WHERE id = ?", arguments: [info.id]) }
        try await lib.test { client in
            let r14 = try await client.get("/stream/\(id)?token=\(short.plaintext)")
            #expect(r14.status == .unauthorized)
        }
    }

    @Test func vanishedAndChangedFilesGetCleanErrors() async throws {
        let (lib, _, id, _, token) = try await setUp()
        let path = try #require(try await lib.core.catalog.song(id: id)?.path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([1, 2, 3]))
        try handle.close()
        try await lib.test { client in
            let changed = try await client.get("/stream/\(id)?token=\(token)")
            #expect(changed.status == .conflict)
            #expect((changed.json["error"] as? [String: Any])?["code"] as? String == "file_changed")
        }
        try FileManager.default.removeItem(atPath: path)
        try await lib.test { client in
            let gone = try await client.get("/stream/\(id)?token=\(token)")
            #expect(gone.status == .gone)
            #expect((gone.json["error"] as? [String: Any])?["code"] as? String == "file_missing")
        }
    }

    /// Songs are cached for the stream path; a rescan by another process (its own store) is still honoured.
    @Test func rescanElsewhereIsSeenDespiteTheSongCache() async throws {
        let (lib, _, id, _, token) = try await setUp()
        let path = try #require(try await lib.core.catalog.song(id: id)?.path)
        try await lib.test { client in
            #expect(try await client.get("/stream/\(id)?token=\(token)").status == .ok)  // now cached
            try Tone.writeBlocking(path, seconds: 2, frequency: 330)
            let other = LibraryScanner(roots: [lib.music.path], catalog: CatalogStore(db: lib.core.db, clock: lib.core.clock), logger: Logger(label: "other"))
            _ = try await other.scan()
            let r = try await client.get("/stream/\(id)?token=\(token)")
            #expect(r.status == .ok)
            #expect(r.body == (try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }

    @Test func streamsAreAccountedAndLeasesReleased() async throws {
        let (lib, bytes, id, session, token) = try await setUp()
        try await lib.test { client in
            _ = try await client.get("/stream/\(id)?token=\(token)", headers: ["Range": "bytes=0-99"])
            _ = try await client.get("/stream/\(id)?token=\(token)")
            let admin = try await client.get("/api/v1/admin/streams", bearer: session)
            let recent = try #require(admin.json["recent"] as? [[String: Any]])
            #expect(recent.count == 2)
            #expect(recent.allSatisfy { $0["status"] as? String == "completed" })
            #expect(recent.first?["bytes_sent"] as? Int == bytes.count)
        }
        #expect(lib.core.ledger.active().isEmpty)
        #expect(lib.core.ledger.leases.count == 0)
        try await lib.core.ledger.flush()
        // The two requests are one playback: one row, its bytes summed.
        let rows = try await lib.core.db.read { db in try Row.fetchAll(db, sql: "SELECT bytes_sent FROM streams WHERE status = 'completed'") }
        #expect(rows.count == 1)
        #expect(rows.first?["bytes_sent"] as Int64? == Int64(100 + bytes.count))
    }

    @Test func playlistsCarryAStreamTokenThatOutlivesTheSession() async throws {
        let lib = try Library()
        try lib.tone("A/1.flac", tags: ["TITLE": "First & <Best>"])
        try lib.tone("A/2.flac", tags: ["TITLE": "Second"])
        _ = try await lib.core.scanner.scan()
        let (session, _) = try await lib.credentials()
        let ids = try await lib.core.catalog.index().values.map(\.id).sorted()
        try await lib.test { client in
            let m3u = try await client.get("/api/v1/playlists/adhoc.m3u?ids=\(ids[1]),\(ids[0])", bearer: session)
            #expect(m3u.status == .ok)
            let text = String(decoding: m3u.body, as: UTF8.self)
            let urls = text.split(separator: "\n").filter { $0.hasPrefix("http") }
            #expect(urls.count == 2)
            #expect(urls[0].hasPrefix("http://music.test:8460/stream/\(ids[1])?token=rt_"))
            #expect(!text.contains(session))
            let xspf = try await client.get("/api/v1/playlists/adhoc.xspf?ids=\(ids[0])", bearer: session)
            let xml = String(decoding: xspf.body, as: UTF8.self)
            #expect(xml.contains("First &amp; &lt;Best&gt;"))
            let r15 = try await client.get("/api/v1/playlists/adhoc.m3u?ids=\(ids[0]),424242", bearer: session)
            #expect(r15.status == .notFound)
            let r16 = try await client.get("/api/v1/playlists/adhoc.m3u?ids=x", bearer: session)
            #expect(r16.status == .badRequest)
            let r17 = try await client.get("/api/v1/playlists/adhoc.m3u?ids=\(ids[0])")
            #expect(r17.status == .unauthorized)
            // The session ends; the playlist's URLs keep working.
            _ = try await client.execute(uri: "/api/v1/sessions/current", method: .delete, headers: [.authorization: "Bearer \(session)"]) { _ in }
            let token = String(urls[0].split(separator: "token=").last!)
            let r18 = try await client.get("/stream/\(ids[1])?token=\(token)")
            #expect(r18.status == .ok)
        }
        let labels = try await lib.core.tokens.list(userId: nil).map(\.label)
        #expect(labels.contains("playlist"))
    }

    @Test func browseAndAdminScan() async throws {
        let lib = try Library()
        try lib.tone("Alpha/1.flac", tags: ["TITLE": "Uno", "ARTIST": "Alpha", "ALBUM": "A1"])
        try lib.tone("Alpha/2.flac", tags: ["TITLE": "Dos", "ARTIST": "Alpha", "ALBUM": "A1"])
        try lib.tone("Beta/3.flac", tags: ["TITLE": "Tres", "ARTIST": "Beta", "ALBUM": "B1"])
        let (session, _) = try await lib.credentials()
        let user = try await lib.core.users.add(name: "bob", password: "password1", role: .user)
        let (bob, _) = try await lib.core.sessions.create(user: user, kind: .web)
        try await lib.test { client in
            let r19 = try await client.get("/api/v1/admin/scan", method: .post, bearer: bob.plaintext)
            #expect(r19.status == .forbidden)
            let scan = try await client.get("/api/v1/admin/scan", method: .post, bearer: session)
            #expect(scan.status == .ok)
            #expect(scan.json["added"] as? Int == 3)
            // Milliseconds to the microsecond, and the rate from the same clock reading.
            let ms = try #require(scan.json["duration_ms"] as? Double)
            let rate = try #require(scan.json["files_per_second"] as? Double)
            #expect(ms > 0 && abs(rate - 3 * 1000 / ms) <= rate / 100)
            let all = try await client.get("/api/v1/songs?limit=2&offset=0", bearer: session)
            #expect(all.json["total"] as? Int == 3)
            #expect((all.json["songs"] as? [Any])?.count == 2)
            #expect((all.json["songs"] as? [[String: Any]])?.first?["path"] == nil)  // server paths stay private
            let q = try await client.get("/api/v1/songs?q=tre", bearer: session)
            #expect((q.json["songs"] as? [[String: Any]])?.map { $0["title"] as? String } == ["Tres"])
            let byArtist = try await client.get("/api/v1/songs?artist=Alpha", bearer: session)
            #expect(byArtist.json["total"] as? Int == 2)
            let r20 = try await client.get("/api/v1/songs?limit=0", bearer: session)
            #expect(r20.status == .badRequest)
            let r21 = try await client.get("/api/v1/songs")
            #expect(r21.status == .unauthorized)
            let albums = try await client.get("/api/v1/albums", bearer: session)
            let list = try #require(albums.json["albums"] as? [[String: Any]])
            #expect(list.count == 2)
            let a1 = try #require(list.first { $0["name"] as? String == "A1" })
            #expect(a1["song_count"] as? Int == 2)
            let songs = try await client.get("/api/v1/albums/\(a1["id"] as! Int)/songs", bearer: session)
            #expect(songs.json["total"] as? Int == 2)
            let r22 = try await client.get("/api/v1/albums/99999/songs", bearer: session)
            #expect(r22.status == .notFound)
            let artists = try await client.get("/api/v1/artists", bearer: session)
            #expect(artists.json["total"] as? Int == 2)
            let one = try await client.get("/api/v1/songs/\((all.json["songs"] as! [[String: Any]])[0]["id"] as! Int)", bearer: session)
            #expect(one.status == .ok)
            let r23 = try await client.get("/api/v1/songs/123456", bearer: session)
            #expect(r23.status == .notFound)
        }
    }
}

/// Clients that request a large file and never read: what Reprise holds for them stays small.
@Suite struct BackPressureTests {
    /// Bytes queued in the kernel on 127.0.0.1 sockets, by local port: send queues and receive queues.
    static func kernelQueues() throws -> (tx: [Int: Int], rx: [Int: Int]) {
        var tx: [Int: Int] = [:], rx: [Int: Int] = [:]
        // procfs files report size 0: read to the end rather than by size.
        let text = String(decoding: try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp")).readToEnd() ?? Data(), as: UTF8.self)
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            guard f.count > 4, let port = Int(f[1].split(separator: ":")[1], radix: 16) else { continue }
            let q = f[4].split(separator: ":")
            guard f[3] == "01" else { continue }  // established
            tx[port, default: 0] += Int(q[0], radix: 16) ?? 0
            rx[port, default: 0] += Int(q[1], radix: 16) ?? 0
        }
        return (tx, rx)
    }

    @Test(arguments: Transport.allCases) func stalledReadersHoldLittleInTheServer(_ transport: Transport) async throws {
        let lib = try Library()
        let path = try lib.tone("big.wav", seconds: 60)  // about 10 MiB
        _ = try await lib.core.scanner.scan()
        let id = try #require(try await lib.core.catalog.index()[path]?.id)
        let (_, token) = try await lib.credentials()
        let clients = 30
        try await lib.live(transport) { client in
            let port = try #require(client.port)
            // Each client asks for the file, then never reads; it prints its local port and waits for stdin to close.
            let stall = try Child("/usr/bin/python3", ["-c", """
                import socket, sys
                socks = []
                for _ in range(\(clients)):
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                    s.connect(("127.0.0.1", \(port)))
                    s.sendall(b"GET /stream/\(id)?token=\(token) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                    socks.append(s)
                print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
                sys.stdin.read()
                """], stdin: .pipe, stdout: .pipe)
            defer { try? stall.stdin?.close(); stall.terminate() }
            let line = String(decoding: await Child.readAvailable(stall.stdout!), as: UTF8.self)
            let clientPorts = line.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
            #expect(clientPorts.count == clients)
            // Wait until every stream is open and no byte has moved for 300 ms: everything is parked.
            var last: Int64 = -1
            for _ in 0..<200 {
                let active = lib.core.ledger.active()
                let sent = active.reduce(0) { $0 + $1.bytesSent }
                if active.count == clients && sent == last { break }
                last = sent
                try await Task.sleep(for: .milliseconds(300))  // polling a condition, not waiting for time to pass
            }
            let active = lib.core.ledger.active()
            #expect(active.count == clients)
            let sent = active.reduce(0) { $0 + Int($1.bytesSent) }
            let (tx, rx) = try Self.kernelQueues()
            let inKernel = (tx[port] ?? 0) + clientPorts.reduce(0) { $0 + (rx[$1] ?? 0) }
            let held = sent - inKernel
            // Headers are sent too but are not in the ledger; 192 KiB covers a chunk, the watermark and more.
            #expect(held <= clients * 192 * 1024, "Reprise holds \(held / clients) bytes per stalled stream (sent \(sent / clients), in the kernel \(inKernel / clients))")
            #expect(sent < clients * 10 * 1024 * 1024, "the stalled streams did not stall")
        }
    }
}

/// A file cut short while it streams ends the response with an error on either path, promptly.
@Suite struct TruncatedFileTests {
    @Test(arguments: Transport.allCases) func fileCutShortMidStreamClosesTheConnection(_ transport: Transport) async throws {
        let lib = try Library()
        let path = try lib.tone("big.wav", seconds: 60)  // about 20 MiB
        _ = try await lib.core.scanner.scan()
        let id = try #require(try await lib.core.catalog.index()[path]?.id)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let (_, token) = try await lib.credentials()
        try await lib.live(transport) { client in
            let port = try #require(client.port)
            // Reads 1 MiB slowly, says so, waits for a line on stdin, then reads to the end (10 s at most).
            let reader = try Child("/usr/bin/python3", ["-c", """
                import socket, sys
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s.connect(("127.0.0.1", \(port)))
                s.sendall(b"GET /stream/\(id)?token=\(token) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                got = 0
                while got < 1 << 20:
                    got += len(s.recv(65536))
                print("started", flush=True)
                sys.stdin.readline()
                s.settimeout(10)
                try:
                    while True:
                        b = s.recv(65536)
                        if not b:
                            break
                        got += len(b)
                    print("closed", got, flush=True)
                except socket.timeout:
                    print("hung", got, flush=True)
                """], stdin: .pipe, stdout: .pipe)
            defer { reader.terminate() }
            let started = String(decoding: await Child.readAvailable(reader.stdout!), as: UTF8.self)
            #expect(started.hasPrefix("started"))
            try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: 2 << 20)
            try reader.stdin!.write(contentsOf: Data("go\n".utf8))
            let result = String(decoding: await Child.readToEnd(reader.stdout!), as: UTF8.self)
            let words = result.split(whereSeparator: \.isWhitespace)
            #expect(words.first == "closed", "the connection stayed open: \(result)")
            let got = words.last.flatMap { Int($0) } ?? 0
            #expect(got < size, "a full-length response for a file cut short")
        }
        let record = try #require(lib.core.ledger.recent().last)
        #expect(record.status == .aborted)
        #expect(record.reason?.contains("shrank") == true, "\(record.reason ?? "no reason")")
        #expect(lib.core.ledger.active().isEmpty)
    }
}

extension Data {
    /// Bytes from a string of hex digit pairs.
    init(hexString: String) {
        var out = Data()
        var chars = hexString.makeIterator()
        while let a = chars.next(), let b = chars.next(), let byte = UInt8(String([a, b]), radix: 16) { out.append(byte) }
        self = out
    }

    /// The bytes as lowercase hex digit pairs, as Python's `bytes.hex()` writes them.
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
