import Foundation
import HTTPRanges
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import RepriseCore
import RepriseStorage

/// Who a stream request was authorized as.
public struct StreamCredential: Sendable {
    public var user: User
    public var sessionId: Int64?
    public var token: StreamTokenInfo?

    public init(user: User, sessionId: Int64?, token: StreamTokenInfo?) {
        self.user = user
        self.sessionId = sessionId
        self.token = token
    }

    /// The label prefix of a supervised player's tokens (`player:<name>`), which people cannot mint.
    public static let playerLabelPrefix = "player:"

    /// The player a token belongs to, from its `player:<name>` label.
    var player: String? {
        guard let label = token?.label, label.hasPrefix(Self.playerLabelPrefix) else { return nil }
        return String(label.dropFirst(Self.playerLabelPrefix.count))
    }
}

/// Serves `/stream/{id}` (GET, HEAD): RFC 9110 ranges and validators, leases and accounting.
public struct StreamEndpoint: Sendable {
    let app: AppServices

    public init(app: AppServices) { self.app = app }
    /// Read size per chunk; the writer's back-pressure paces the reads.
    static let chunkSize = 64 * 1024
    /// Read size once a client has shown it reads slower than Reprise sends.
    static let slowChunkSize = 16 * 1024

    /// Authorizes by `?token=` (stream token, then the policy with the song) or a session bearer;
    /// the song is loaded only for a known credential, and before the (synchronous) policy runs.
    public func authorize(_ request: Request, context: RepriseContext, songId: Int64?) async throws -> (StreamCredential, Song?) {
        if let raw = request.uri.queryParameters.get("token") {
            guard let secret = Secret.presented(raw), secret.kind == .streamToken else {
                throw StreamRefusal.invalidToken.error
            }
            return try await authorize(token: secret, request: request, context: context, songId: songId)
        }
        if case .session(let s, _)? = context.identity {
            return try await authorize(session: s, credential: .session, request: request, context: context, songId: songId)
        }
        // The web UI's `<audio>`: its session cookie, for reading only (no CSRF question on GET and HEAD).
        if let secret = WebCookie.session(request), let s = try await app.sessions.authenticate(secret), s.kind == .web {
            return try await authorize(session: s, credential: .web, request: request, context: context, songId: songId)
        }
        throw StreamRefusal.noCredential.error
    }

    /// Checks a session against the token policy with the song (403), as a stand-in token labelled
    /// `session:<kind>`: a rule for a user holds whatever the client.
    func authorize(session s: AuthenticatedSession, credential: CredentialKind, request: Request, context: RepriseContext, songId: Int64?) async throws -> (StreamCredential, Song?) {
        let song = try await song(songId)
        let facts = StreamRequestFacts(
            method: request.method.rawValue, path: request.uri.path, ip: context.remoteAddress,
            userAgent: request.headers[.userAgent], range: request.headers[.range], credential: credential)
        let standIn = StreamTokenInfo.standIn(user: s.user, kind: s.kind, expiresAt: s.expiresAt, now: app.clock.nowMs())
        if let refusal = StreamRefusal.of(await app.tokenPolicy.authorizeOffPool(token: standIn, user: s.user, request: facts, songId: songId, song: song)) {
            throw refusal.error
        }
        return (StreamCredential(user: s.user, sessionId: s.sessionId, token: nil), song)
    }

    /// Checks a user another API authenticated (Subsonic credentials) against the token policy with the
    /// song (403), as a stand-in token labelled `label` (`subsonic:<client>`).
    public func authorize(user: User, kind: CredentialKind, label: String, request: Request, context: RepriseContext, songId: Int64?) async throws -> (StreamCredential, Song?) {
        let song = try await song(songId)
        let facts = StreamRequestFacts(
            method: request.method.rawValue, path: request.uri.path, ip: context.remoteAddress,
            userAgent: request.headers[.userAgent], range: request.headers[.range], credential: kind)
        let now = app.clock.nowMs()
        let standIn = StreamTokenInfo(id: 0, userId: user.id, userName: user.name, label: label, createdAt: now, expiresAt: nil, lastUsedAt: now, revokedAt: nil)
        if let refusal = StreamRefusal.of(await app.tokenPolicy.authorizeOffPool(token: standIn, user: user, request: facts, songId: songId, song: song)) {
            throw refusal.error
        }
        return (StreamCredential(user: user, sessionId: nil, token: nil), song)
    }

    /// Checks a stream token (401 unless known and usable), then the policy with the song (403).
    public func authorize(token secret: Secret, request: Request, context: RepriseContext, songId: Int64?) async throws -> (StreamCredential, Song?) {
        guard let t = try await app.tokens.authenticate(secret) else {
            throw StreamRefusal.invalidToken.error
        }
        let song = try await song(songId)
        let facts = StreamRequestFacts(
            method: request.method.rawValue, path: request.uri.path, ip: context.remoteAddress,
            userAgent: request.headers[.userAgent], range: request.headers[.range])
        if let refusal = StreamRefusal.of(await app.tokenPolicy.authorizeOffPool(token: t.token, user: t.user, request: facts, songId: songId, song: song)) {
            throw refusal.error
        }
        return (StreamCredential(user: t.user, sessionId: nil, token: t.token), song)
    }

    /// Runs `body`, counting a 401 or 403 it throws as a refused stream request.
    public func countingRefusals<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let e as APIError where e.status == .unauthorized || e.status == .forbidden {
            app.ledger.refused()
            throw e
        }
    }

    /// The song with `id`, nil when there is none or no id.
    public func song(_ id: Int64?) async throws -> Song? {
        guard let id else { return nil }
        return try await app.catalog.song(id: id)
    }

    func respond(_ request: Request, context: RepriseContext, songId rawId: String?) async throws -> Response {
        let songId = rawId.flatMap { Int64($0) }
        let (credential, found) = try await countingRefusals { try await authorize(request, context: context, songId: songId) }
        guard let song = found else {
            throw APIError(.notFound, code: .notFound, "no song \(rawId ?? "")")
        }
        return try await serve(song, request: request, context: context, credential: credential)
    }

    /// Serves `song`, reading it once more from the database when the cached copy no longer matches the file.
    public func serve(_ song: Song, request: Request, context: RepriseContext, credential: StreamCredential) async throws -> Response {
        do {
            return try await answer(song, request: request, credential: credential, channel: context.channel)
        } catch let e as APIError where e.status == .gone || e.status == .conflict {
            // The song may come from the cache while another process rescanned: ask the database once more.
            guard let fresh = try await app.catalog.song(id: song.id, fresh: true), fresh != song else { throw e }
            return try await answer(fresh, request: request, credential: credential, channel: context.channel)
        }
    }

    /// Answers for a song as the scan saw it (`StreamPlan`); `channel` (the connection) bounds the bytes in flight.
    func answer(_ song: Song, request: Request, credential: StreamCredential, channel: (any Channel)?) async throws -> Response {
        try Self.check(song)
        let conditions = ConditionalHeaders { name in request.headers[HTTPField.Name(name)!] }
        let plan = StreamPlan.make(song: song, isHead: request.method == .head, conditions: conditions, validators: .init(song))
        var headers = HTTPFields()
        for f in plan.fields { headers[HTTPField.Name(f.name)!] = f.value }
        switch plan.body {
        case .none:
            return Response(status: plan.status, headers: headers)
        case .error(let code, let message):
            return Response(status: plan.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: StreamPlan.errorJSON(code: code, message: message))))
        case .file(let range):
            let length = range.upperBound - range.lowerBound + 1
            return Response(status: plan.status, headers: headers, body: body(song.path, song: song, credential: credential, channel: channel, pieces: [.file(range)], expected: length))
        case .multipart(let multipart):
            var pieces: [Piece] = []
            for part in multipart.parts { pieces += [.text(part.header), .file(part.range)] }
            pieces.append(.text(multipart.closingDelimiter))
            return Response(status: plan.status, headers: headers, body: body(song.path, song: song, credential: credential, channel: channel, pieces: pieces, expected: multipart.contentLength))
        }
    }

    /// A part of a response body: literal text or a slice of the file.
    enum Piece: Sendable {
        case text(String)
        case file(ClosedRange<Int64>)
    }

    /// Confirms the file is still what the scan saw and returns its `stat`; a clean error otherwise.
    @discardableResult
    static func check(_ song: Song) throws -> stat {
        var st = stat()
        guard stat(song.path, &st) == 0 else {
            throw APIError(.gone, code: .fileMissing, "the file of song \(song.id) is gone since the last scan")
        }
        let mtimeMs = Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000
        guard Int64(st.st_size) == song.size, mtimeMs == song.mtimeMs else {
            throw APIError(.conflict, code: .fileChanged, "the file of song \(song.id) changed since the last scan; rescan the catalog")
        }
        return st
    }

    /// Streams the pieces with back-pressure, accounting bytes and holding a lease until done.
    ///
    /// On connections set up by `FileRegionHTTP1Channel` file slices go out with `sendfile(2)` in
    /// regions of 1 MiB, doubling up to 8 MiB while the client takes each within 100 ms (64 KiB
    /// once one took over half a second), each awaited until the kernel took it: nothing is copied
    /// and nothing waits in the server.
    ///
    /// Elsewhere slices are read on NIO's thread pool and copied. Hummingbird's writer returns once a
    /// buffer is queued for the event loop, not once the loop took it, so after each chunk the body
    /// waits for one turn of the connection's event loop: by then the chunk is in the channel, and
    /// over the high watermark (32 KiB on stream connections) the next write suspends. A client
    /// that leaves the channel unwritable after a turn is slower than Reprise: it gets 16 KiB chunks.
    func body(_ path: String, song: Song, credential: StreamCredential, channel: (any Channel)?, pieces: [Piece], expected: Int64) -> ResponseBody {
        let app = self.app
        let first: ClosedRange<Int64> = pieces.lazy.compactMap { if case .file(let r) = $0 { r } else { nil } }.first ?? 0...0
        return ResponseBody(contentLength: Int(expected)) { writer in
            let account = StreamAccount.start(app.ledger, song: song, credential: credential, range: first, expected: expected)
            // Revocation (StreamWatch) closes the connection, which ends a write in progress at once.
            app.ledger.onCut(account.id) { channel?.close(promise: nil) }
            var failure: String?
            var lease = DurableStreamLease(leases: app.leases, credential: credential, holder: "stream:\(account.id)", now: app.clock.nowMs())
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            var regions: NIOFileHandle?
            defer {
                if let regions { try? regions.close() } else if fd >= 0 { close(fd) }
                account.finish(reason: failure)
                lease.release()
            }
            /// Counts bytes the client took and keeps the lease; a cut stream goes no further.
            func sent(_ bytes: Int) async throws {
                account.sent(Int64(bytes))
                await lease.keep(now: app.clock.nowMs())
                if let why = app.ledger.cutReason(account.id) { throw APIError(.forbidden, code: .invalidToken, why) }
            }
            do {
                guard fd >= 0 else { throw APIError(.gone, code: .fileMissing, "cannot open the file of song \(song.id)") }
                if let channel, try await channel.eventLoop.submit({ FileRegionHTTP1Channel.accepts(channel) }).get() {
                    regions = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
                } else {
                    _ = channel?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 16 * 1024, high: 32 * 1024))
                }
                var step = regions == nil ? Self.chunkSize : Self.regionSize
                for piece in pieces {
                    switch piece {
                    case .text(let s):
                        try await writer.write(ByteBuffer(string: s))
                        try await sent(s.utf8.count)
                    case .file(let range):
                        var offset = range.lowerBound
                        while offset <= range.upperBound {
                            let want = Int(min(Int64(step), range.upperBound - offset + 1))
                            if let regions, let channel {
                                let region = FileRegion(fileHandle: regions, readerIndex: Int(offset), endIndex: Int(offset) + want)
                                let began = app.clock.nowMs()
                                try await Self.send(region, through: &writer, channel: channel, fd: fd, song: song)
                                step = Self.nextRegionSize(after: step, tookMs: app.clock.nowMs() - began)
                                offset += Int64(want)
                            } else {
                                let buffer = try await Self.read(fd: fd, offset: offset, count: want)
                                guard buffer.readableBytes == want else {
                                    throw APIError(.conflict, code: .fileChanged, "the file of song \(song.id) shrank while streaming")
                                }
                                try await writer.write(buffer)
                                offset += Int64(want)
                                // The last chunk needs no pacing: nothing follows it.
                                if let channel, offset <= range.upperBound {
                                    let writable = try await channel.eventLoop.submit { channel.isWritable }.get()
                                    if !writable { step = Self.slowChunkSize }
                                }
                            }
                            try await sent(want)
                        }
                    }
                }
                try await writer.finish(nil)
            } catch {
                failure = (error as? APIError)?.message ?? StreamRecord.clientLeft
                throw error
            }
        }
    }

    /// First region size for `sendfile`.
    static let regionSize = 1024 * 1024
    /// The largest region, reached by a client that takes each region within `fastRegionMs`.
    static let maxRegionSize = 8 * 1024 * 1024
    /// A region taken within this many ms doubles the next one, up to `maxRegionSize`.
    static let fastRegionMs: Int64 = 100
    /// Region size once a client has shown it reads slowly, so that accounting and leases keep up.
    static let slowRegionSize = 64 * 1024

    /// The size of the region after one of `size` bytes that the client took in `tookMs`: slow
    /// clients (over half a second) get small regions from then on, fast ones larger ones, each
    /// region costing the body two thread hops.
    ///
    ///     nextRegionSize(after: 1 << 20, tookMs: 3)    // 2 MiB
    ///     nextRegionSize(after: 1 << 20, tookMs: 700)  // 64 KiB
    static func nextRegionSize(after size: Int, tookMs: Int64) -> Int {
        if size <= slowRegionSize || tookMs > 500 { return slowRegionSize }
        return tookMs <= fastRegionMs ? min(size * 2, maxRegionSize) : size
    }

    /// Sends one file region and waits until the kernel took all of it.
    static func send(_ region: FileRegion, through writer: inout any ResponseBodyWriter, channel: any Channel, fd: Int32, song: Song) async throws {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let (id, marker) = FileRegionHandoff.shared.register(region, promise: promise)
        do {
            try await writer.write(marker)
        } catch {
            // Never written: withdraw it; written but the connection failed: the promise fails too.
            if let pending = FileRegionHandoff.shared.cancel(id) { pending.promise.fail(error) }
            _ = try? await promise.futureResult.get()
            throw error
        }
        do {
            try await promise.futureResult.get()
        } catch {
            var st = stat()
            if fstat(fd, &st) == 0, Int(st.st_size) < region.endIndex {
                throw APIError(.conflict, code: .fileChanged, "the file of song \(song.id) shrank while streaming")
            }
            throw error
        }
    }

    /// Reads `count` bytes at `offset` on NIO's blocking-I/O thread pool.
    static func read(fd: Int32, offset: Int64, count: Int) async throws -> ByteBuffer {
        try await NIOThreadPool.singleton.runIfActive {
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            _ = preadFully(fd: fd, offset: offset, count: count, into: &buffer)
            return buffer
        }
    }
}

extension StreamRecord {
    static func leaseTarget(_ c: StreamCredential) -> LeaseTarget? {
        if let t = c.token { return .token(t.id) }
        if let s = c.sessionId { return .session(s) }
        return nil
    }
}
