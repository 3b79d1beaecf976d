import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseSQLite
import RepriseConfig
import Testing
@testable import RepriseServer

extension TestClientProtocol {
    func post(_ uri: String, bearer: String? = nil, json: String, headers extra: [String: String] = [:]) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json)) { r in
            Reply(status: r.status, headers: r.headers, body: Data(r.body.readableBytesView))
        }
    }
}

extension Reply {
    /// `error.code` of a JSON error body.
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String { ((json["error"] as? [String: Any])?["message"] as? String) ?? "" }
}

/// FINDINGS H1–H22: each request, answer or value that crashed, hung, leaked or answered an empty 5xx.
@Suite struct HardeningTests {
    func run(_ lib: Library, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router, body)
    }

    /// A write that cannot get the database's lock within `database.busy_timeout` (another process
    /// writes) is a 503 `storage_busy` with `Retry-After`; once the lock is free, writes succeed.
    @Test func busyDatabaseIsA503WithRetryAfter() async throws {
        let lib = try Library(busyTimeout: "200ms")
        let (session, _) = try await lib.credentials()
        let other = try DatabaseQueue(path: lib.dir.appendingPathComponent("db.sqlite").path)  // another process's connection
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? other.inDatabase { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                locked.signal()
                release.wait()
                try db.execute(sql: "ROLLBACK")
            }
            locked.signal()
        }
        locked.wait()
        try await run(lib) { client in
            let busy = try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"x"}"#)
            #expect(busy.status == .serviceUnavailable)
            #expect(busy.errorCode == "storage_busy")
            #expect(busy.headers[.retryAfter] == "1")
            release.signal()
            locked.wait()  // rolled back
            #expect(try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"x"}"#).status == .created)
        }
    }

    /// H1, H4: lifetimes out of range and refused labels are JSON 400s naming the field; the server lives on.
    @Test func tokenLifetimesAndLabelsAreCheckedAtTheEdge() async throws {
        let lib = try Library()
        let (session, _) = try await lib.credentials()
        try await run(lib) { client in
            for ttl in ["1e18", "9223372036854775807", "-1", "0", "3155760001"] {
                let r = try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"x","ttl_seconds":\#(ttl)}"#)
                #expect(r.status == .badRequest, "ttl \(ttl)")
                #expect(r.errorMessage.contains("ttl_seconds"), "ttl \(ttl): \(r.errorMessage)")
            }
            let longest = try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"x","ttl_seconds":3155760000}"#)
            #expect(longest.status == .created)
            for label in ["", String(repeating: "a", count: 129), "a\\nINFO forged line", "nul\\u0000"] {
                let r = try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"\#(label)"}"#)
                #expect(r.status == .badRequest, "label \(label)")
                #expect(r.errorCode == "bad_request" && r.errorMessage.contains("label"), "label \(label): \(r.body.count) bytes")
            }
            // 43 characters of 3 code points each: under 128 characters, over 128 code points (SQLite's length()).
            // Found by Schemathesis: it was a 503 from the table's CHECK.
            let zalgo = String(repeating: "a\\u0301\\u0302", count: 43)
            for path in ["/api/v1/tokens", "/api/v1/tokens/rotate"] {
                let r = try await client.post(path, bearer: session, json: #"{"label":"\#(zalgo)"}"#)
                #expect(r.status == .badRequest && r.errorMessage.contains("label"), "\(path): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
            }
            let rotate = try await client.post("/api/v1/tokens/rotate", bearer: session, json: #"{"label":"bad\rlabel"}"#)
            #expect(rotate.status == .badRequest && rotate.errorMessage.contains("label"), "\(rotate.status) \(String(decoding: rotate.body, as: UTF8.self))")
            let search = try await client.get("/api/v1/songs?q=" + String(repeating: "a", count: 60_000), bearer: session)
            #expect(search.status.code < 500 && search.body.count > 0)
            #expect(try await client.get("/healthz").status == .ok)
        }
    }

    /// H4: a token policy's refusal is a 403 naming the reason, not an empty 500.
    @Test func policyRefusalIsA403WithItsReason() async throws {
        struct Refuse: TokenPolicy {
            func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { .deny(reason: "no tokens on sundays") }
            func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
        }
        struct Huge: TokenPolicy {
            func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { .issue(ttlSeconds: .max) }
            func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
        }
        for (policy, reason) in [(Refuse() as any TokenPolicy, "no tokens on sundays"), (Huge(), "ttl_seconds")] {
            let lib = try Library()
            let (session, _) = try await lib.credentials()
            var services = lib.core.services
            services.tokenPolicy = policy
            try await Application(router: buildRouter(services)).test(.router) { client in
                let r = try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"mpd"}"#)
                #expect(r.status == .forbidden)
                #expect(r.errorMessage.contains(reason), "\(r.errorMessage)")
            }
        }
    }

    /// H2, H17: extreme timestamps never trap; the legacy key digest works without `user`.
    @Test func ampacheHandshakeEdges() async throws {
        let lib = try Library()
        let user = try await lib.core.users.add(name: "ann", password: "password1", role: .user)
        let key = try await ApiKeyStore(db: lib.core.db, clock: lib.core.clock).rotate(userId: user.id)
        try await run(lib) { client in
            for ts in ["-9223372036854775808", "9223372036854775807"] {
                let r = try await client.get("/server/json.server.php?action=handshake&user=ann&timestamp=\(ts)&auth=\(sha256Hex(ts + sha256Hex("password1")))")
                #expect((r.json["error"] as? [String: Any])?["errorCode"] as? String == "4701", "\(ts)")
            }
            // The `ampache` client's README flow: sha256(user + sha256(key)), no user, no timestamp.
            let legacy = try await client.get("/server/json.server.php?action=handshake&auth=\(sha256Hex("ann" + sha256Hex(key)))")
            #expect((legacy.json["auth"] as? String)?.hasPrefix("rs_") == true, "\(String(decoding: legacy.body, as: UTF8.self))")
            let wrong = try await client.get("/server/json.server.php?action=handshake&auth=\(sha256Hex("bob" + sha256Hex(key)))")
            #expect((wrong.json["error"] as? [String: Any])?["errorCode"] as? String == "4701")
        }
    }

    /// H8: password guesses are limited per user, natively and through Ampache; the right password then waits too.
    @Test func passwordGuessesAreRateLimited() async throws {
        let lib = try Library()
        _ = try await lib.core.users.add(name: "ann", password: "password1", role: .user)
        try await run(lib) { client in
            for _ in 0..<10 {
                let r = try await client.post("/api/v1/sessions", json: #"{"username":"ann","password":"guess"}"#)
                #expect(r.status == .unauthorized)
            }
            let limited = try await client.post("/api/v1/sessions", json: #"{"username":"ann","password":"password1"}"#)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorCode == "too_many_attempts" && limited.headers[.retryAfter] != nil)
            let ts = "\(Int64(Date().timeIntervalSince1970))"
            let ampache = try await client.get("/server/json.server.php?action=handshake&user=ann&timestamp=\(ts)&auth=\(sha256Hex(ts + sha256Hex("password1")))")
            #expect(((ampache.json["error"] as? [String: Any])?["errorMessage"] as? String)?.contains("too many") == true)
            // Another user is not locked out by ann's guesser.
            _ = try await lib.core.users.add(name: "bob", password: "password2", role: .user)
            #expect(try await client.post("/api/v1/sessions", json: #"{"username":"bob","password":"password2"}"#).status == .created)
        }
    }

    /// `auth.login_failures` and `auth.login_window` set the limit and how long a guesser waits.
    @Test func loginLimitsComeFromTheConfig() async throws {
        let lib = try Library(auth: ["login_failures: 2", "login_window: 10m"])
        _ = try await lib.core.users.add(name: "ann", password: "password1", role: .user)
        try await run(lib) { client in
            for _ in 0..<2 {
                #expect(try await client.post("/api/v1/sessions", json: #"{"username":"ann","password":"guess"}"#).status == .unauthorized)
            }
            let limited = try await client.post("/api/v1/sessions", json: #"{"username":"ann","password":"password1"}"#)
            #expect(limited.status == .tooManyRequests)
            let wait = Int(limited.headers[.retryAfter] ?? "") ?? 0
            #expect(wait > 60 && wait <= 600, "Retry-After \(wait) s is not inside the 10-minute window")
        }
        #expect(throws: ConfigError.self) { _ = try Library(auth: ["login_failures: 0"]) }
    }

    /// H11, H16: client text is capped and single-line; NUL in a user name is refused, not truncated.
    @Test func clientTextIsBoundedAndNamesAreExact() async throws {
        let lib = try Library()
        let (session, _) = try await lib.credentials()
        try await run(lib) { client in
            let agent = String(repeating: "A", count: 1 << 20)
            let big = try await client.post("/api/v1/sessions", json: #"{"username":"ann","password":"password1","client":"\#(String(repeating: "c", count: 100_000))\n"}"#, headers: ["User-Agent": agent])
            #expect(big.status == .created)
            let nul = try await client.post("/api/v1/sessions", json: #"{"username":"ann\u0000xyz","password":"password1"}"#)
            #expect(nul.status == .badRequest && nul.errorMessage.contains("username"))
            let list = try await client.get("/api/v1/admin/sessions", bearer: session)
            let sessions = list.json["sessions"] as? [[String: Any]] ?? []
            #expect(sessions.count == 2)
            for s in sessions {
                #expect(((s["agent"] as? String)?.count ?? 0) <= StoredText.maxAgent)
                #expect(((s["client"] as? String)?.count ?? 0) <= StoredText.maxClient)
                #expect(!((s["client"] as? String) ?? "").contains("\n"))
            }
        }
    }

    /// H12: concurrent rotations of one label leave exactly one working token: the last one issued.
    @Test func concurrentRotationsLeaveOneWorkingToken() async throws {
        let lib = try Library()
        let user = try await lib.core.users.add(name: "ann", password: "password1", role: .user)
        let tokens = lib.core.tokens
        let results = try await withThrowingTaskGroup(of: (Secret, StreamTokenInfo).self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let (s, i, _) = try await tokens.rotate(user: user, label: "mpd", policy: DefaultTokenPolicy())
                    return (s, i)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let active = try await tokens.list(userId: user.id).filter { $0.label == "mpd" && $0.revokedAt == nil }
        #expect(active.count == 1)
        let newest = try #require(results.max { $0.1.id < $1.1.id })
        #expect(active.first?.id == newest.1.id)
        #expect(try await tokens.authenticate(newest.0) != nil)
    }

    /// H16: tag text cannot add M3U entries or break XSPF.
    @Test func playlistsCarryHostileTagsSafely() async throws {
        let lib = try Library()
        try lib.tone("x.flac", tags: ["TITLE": "evil\nhttp://attacker.test/x.mp3", "ARTIST": "ctl\u{01}\u{1b}[31m"])
        _ = try await lib.core.scanner.scan()
        let (session, token) = try await lib.credentials()
        let song = try #require(try await lib.core.catalog.songs(query: nil, artist: nil, album: nil, limit: 1, offset: 0).songs.first)
        try await run(lib) { client in
            let m3u = try await client.get("/api/v1/playlists/adhoc.m3u?ids=\(song.id)&token=\(token)", bearer: session)
            let lines = String(decoding: m3u.body, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 3, "\(lines)")
            #expect(!lines.contains { $0.hasPrefix("http://attacker") })
            let xspf = try await client.get("/api/v1/playlists/adhoc.xspf?ids=\(song.id)&token=\(token)", bearer: session)
            #expect(XMLParser(data: xspf.body).parse())
        }
    }

    /// H10: a full disk is a 507 with a code, /healthz says so, and streaming with a token goes on.
    @Test func fullDiskIsReportedAndStreamsGoOn() async throws {
        let lib = try Library(clock: ManualWallClock(1_800_000_000_000))
        try lib.tone("a.flac")
        _ = try await lib.core.scanner.scan()
        let (session, token) = try await lib.credentials()
        let song = try #require(try await lib.core.catalog.songs(query: nil, artist: nil, album: nil, limit: 1, offset: 0).songs.first)
        try await run(lib) { client in
            #expect(try await client.get("/stream/\(song.id)?token=\(token)").status == .ok)
            // The database may not grow: each connection's page limit, the writer's included.
            try await lib.core.db.barrierWriteWithoutTransaction { db in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count")!
                try db.execute(sql: "PRAGMA max_page_count = \(pages)")
            }
            var full = false
            for i in 0..<2000 where !full {
                do {
                    _ = try await lib.core.tokens.issue(user: try await lib.core.users.find(name: "ann")!, label: "fill-\(i)-" + String(repeating: "x", count: 100), requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
                } catch let e as DatabaseError where e.resultCode == .SQLITE_FULL {
                    full = true
                }
            }
            #expect(full)
            let r = try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"one-more-token-with-a-long-label-to-need-space"}"#)
            #expect(r.status.code == 507, "\(r.status)")
            #expect(r.errorCode == "storage_full" && r.errorMessage.contains("request"))
            let health = try await client.get("/healthz")
            #expect(health.status == .serviceUnavailable)
            #expect(health.json["database"] as? String == "full")
            // Bookkeeping is due (a minute later), the disk is full, and the stream still plays.
            (lib.core.clock as! ManualWallClock).advance(ms: 120_000)
            #expect(try await client.get("/stream/\(song.id)?token=\(token)").status == .ok)
        }
    }

    /// H13: a token in an MPD error, a plugin's log line or a path-form URL is redacted.
    @Test func secretsAreRedactedEverywhere() {
        let token = "rt_" + String(repeating: "A", count: 43)
        let mpd = "Failed to decode http://127.0.0.1:8460/stream/4?token=\(token); CURL failed"
        #expect(!Redactor.redact(mpd).contains(token))
        let path = "/play/index.php/ssid/\(token)/type/song/oid/4/name/a.flac"
        #expect(Redactor.redact(path) == "/play/index.php/ssid/<redacted>/type/song/oid/4/name/a.flac")
        let key = "ak_" + String(repeating: "0", count: 64)
        #expect(!Redactor.redact("key \(key) leaked").contains(key))
        #expect(Redactor.line("label\nINFO forged") == "label\\nINFO forged")
    }

    /// H7: a slow request head is cut, an idle connection too, and one address cannot take every descriptor.
    @Test func slowAndGreedyConnectionsAreClosed() async throws {
        let lib = try Library()
        let limits = ConnectionLimits(requestTimeout: .milliseconds(300), bodyTimeout: .milliseconds(300), maxPerPeer: 3)
        let app = Application(router: buildRouter(lib.core.services), server: .reprise(lib.core.services, serverName: "t", sendfile: true, limits: limits))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // Slowloris: half a request head, then nothing.
            let slow = try RawConnection(port: port)
            try slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            let slowEnd = await slow.readUntilClosed(seconds: 5)
            #expect(slowEnd.closed)
            // A complete request is answered; the idle keep-alive connection is then closed too.
            let idle = try RawConnection(port: port)
            try idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = await idle.readUntilClosed(seconds: 5)
            #expect(answer.closed && answer.text.hasPrefix("HTTP/1.1 200"), "\(answer.text)")
            // Three connections from one address are allowed (the test client may hold one); then they are closed at once.
            let held = try (0..<3).map { _ in try RawConnection(port: port) }
            let extra = try RawConnection(port: port)
            let extraEnd = await extra.readUntilClosed(seconds: 5)
            #expect(extraEnd.closed)
            for c in held { c.shutdown() }
            // Once the server has seen those close, the address is served again.
            var answered = false
            for _ in 0..<100 where !answered {
                let again = try RawConnection(port: port)
                try again.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answered = await again.readUntilClosed(seconds: 5).text.hasPrefix("HTTP/1.1 200")
                if !answered { try await Task.sleep(for: .milliseconds(20)) } // waiting for the server's close events
            }
            #expect(answered)
        }
    }
}

/// A blocking TCP connection to 127.0.0.1, for requests no HTTP client would send.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw CocoaError(.fileReadUnknown) }
    }

    deinit { close(fd) }

    /// Closes both directions now.
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
    }

    /// Reads one response head, byte by byte, so that nothing after it is consumed.
    ///
    /// Blocking reads run on a thread of their own: on Swift's cooperative pool (two threads here)
    /// two tests waiting on sockets starved the servers they waited for.
    func readHead(seconds: Int = 5) async -> String {
        await offPool { [fd] in
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var data: [UInt8] = []
            var byte: UInt8 = 0
            while !data.suffix(4).elementsEqual("\r\n\r\n".utf8), recv(fd, &byte, 1, 0) == 1 { data.append(byte) }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Reads until the server closes the connection (true) or `seconds` pass without that (false).
    func readUntilClosed(seconds: Int) async -> (closed: Bool, text: String) {
        await offPool { [fd] in
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n == 0 { return (true, String(decoding: data, as: UTF8.self)) }
                if n < 0 { return (errno == ECONNRESET, String(decoding: data, as: UTF8.self)) }
                data += buffer[0..<n]
            }
        }
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in DispatchQueue.global().async { c.resume(returning: body()) } }
    }
}
