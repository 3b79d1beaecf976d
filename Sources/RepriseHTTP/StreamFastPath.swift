import Foundation
import HTTPRanges
import NIOCore
import NIOHTTP1
import RepriseCore
import RepriseStorage
import RepriseSync

/// Answers `GET`/`HEAD /stream/{id}?token=` on the connection's event loop when memory holds all
/// it needs; hands every other request to Hummingbird unchanged.
///
/// Hummingbird answers each request in a task on Swift's cooperative pool, two thread hops per
/// request; for short stream requests (a player's probes and seeks, refusals) they cost more than
/// the work. Here the token and the song come from the stores' caches, the token policy runs
/// inline within a small bound (`PluginHost.authorizeInline`), and the body,
/// at most `maxBytes`, is one `sendfile(2)` region, or, up to `copyBytes`, read and sent with the
/// head. Anything else (a cache miss, a session credential, a longer body, several ranges, a
/// changed file, a request body, HTTP/1.0) takes the full path, which holds durable leases and
/// paces long streams. A request is answered here only when no earlier request on the connection
/// still waits for its response, so pipelined responses keep their order, and only while the
/// connection is writable, so a client that pipelines without reading cannot pile up regions.
final class StreamFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The longest body answered here; longer ones take the full path with its leases and pacing.
    static let maxBytes: Int64 = 1 << 20

    private let services: Services
    private let serverName: String?
    private var state = State.idle
    /// Requests handed to Hummingbird whose responses have not ended yet.
    private var handedOn = 0
    /// Whether the pipeline has NIO's response encoder; the fast path answers only then.
    ///
    /// Answers go out through the encoder, never past it: NIO's encoder pairs each response with
    /// the method its decoder queued, and an answer that skipped it shifted every later pairing (the
    /// next response lost its body as if it answered a HEAD; found by Schemathesis).
    private var hasEncoder = false
    /// The event loop's flushes, done together after its turn.
    private var flushes: FlushBatch?

    // What a connection remembers between its requests: players ask for one song with one token,
    // again and again.
    /// The client's address, formatted once.
    private var remoteIP: String??
    /// The last token presented and its SHA-256.
    private var lastToken: (text: String, hash: SecretHash)?
    /// The last song answered and its validators, formatted once.
    private var lastValidators: (songId: Int64, size: Int64, mtimeMs: Int64, validators: StreamPlan.Validators)?
    /// Files this connection read lately, still open: a player's probes and seeks, and a client
    /// that asks for one song again and again, then cost a `stat` of the path instead of `open`,
    /// `stat` and `close`. Used only while the path still names the same file (device and inode);
    /// closed with the connection.
    private var openFiles: [OpenFile] = []
    static let openFilesPerConnection = 4

    struct OpenFile {
        let songId: Int64
        let fd: Int32
        let file: FileIdentity
    }

    /// A file on disk, by device and inode.
    struct FileIdentity: Equatable {
        let device: UInt64
        let inode: UInt64
        init(_ st: stat) { (device, inode) = (UInt64(st.st_dev), UInt64(st.st_ino)) }
    }

    private enum State {
        case idle
        /// Passing the parts of the current request on.
        case forwarding
        /// Reading the rest of a request answered here.
        case answering(Answer, keepAlive: Bool, isHead: Bool)
    }

    /// What the fast path uses of `AppServices`, held once per server: copying the whole struct
    /// per request retained and released every store it holds.
    final class Services: Sendable {
        let tokens: any StreamTokenRepository
        let catalog: any CatalogRepository
        let tokenPolicy: any TokenPolicy
        let ledger: StreamLedger
        let answers: Counter
        let art: (any ArtServing)?
        let modules: FastAnswers

        init(_ app: AppServices) {
            (tokens, catalog, tokenPolicy, ledger, answers, art) = (app.tokens, app.catalog, app.tokenPolicy, app.ledger, app.fastPathAnswers, app.art)
            modules = app.fastAnswers
        }
    }

    /// With `sendfile: false` (`http.sendfile`, for slow disks) no file is read here: refusals,
    /// HEAD and 304 are answered, every body is left to the full path's thread pool.
    init(services: Services, serverName: String?, sendfile: Bool = true) {
        self.services = services
        self.serverName = serverName
        self.maxBody = sendfile ? Self.maxBytes : 0
    }

    /// The longest body answered here on this connection.
    private let maxBody: Int64

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            // An unwritable channel has a client that reads slower than it asks: the router paces it.
            if handedOn == 0, context.channel.isWritable, let answer = plan(head, channel: context.channel) {
                state = .answering(answer, keepAlive: head.isKeepAlive, isHead: head.method == .HEAD)
            } else {
                state = .forwarding
                handedOn += 1
                context.fireChannelRead(data)
            }
        case (.answering(let answer, let keepAlive, let isHead), .end):
            state = .idle
            respond(answer, keepAlive: keepAlive, isHead: isHead, context: context)
        case (.answering, _):
            break  // no body is expected: `plan` refuses requests that announce one
        case (_, .end):
            state = .idle
            context.fireChannelRead(data)
        default:
            context.fireChannelRead(data)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        hasEncoder = (try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)) != nil
        flushes = FlushBatch.current
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        hasEncoder = false
        for f in openFiles { Glibc.close(f.fd) }
        openFiles.removeAll()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { handedOn = max(0, handedOn - 1) }
        context.write(data, promise: promise)
    }

    // MARK: - Deciding

    /// What to send for a request answered here.
    enum Answer {
        /// An error response, head fields and body ready.
        case refusal(Refusal)
        /// A head with no body (HEAD, 304).
        case headers(HTTPResponseStatus, HTTPHeaders)
        case file(HTTPResponseStatus, HTTPHeaders, song: Song, file: FileIdentity, range: ClosedRange<Int64>, credential: StreamCredential)
        /// A body held in memory (a cover).
        case bytes(HTTPResponseStatus, HTTPHeaders, ByteBuffer)
    }

    /// The answer for `head`, or nil when the full path must take the request.
    func plan(_ head: HTTPRequestHead, channel: any Channel) -> Answer? {
        guard hasEncoder, head.version == .http1_1, head.method == .GET || head.method == .HEAD,
              !head.headers.contains(name: "transfer-encoding"),
              head.headers["content-length"].allSatisfy({ $0 == "0" })
        else { return nil }
        if head.uri.utf8.starts(with: "/art/".utf8) { return planArt(head) }
        if head.uri.utf8.starts(with: "/rest/".utf8) { return planModule(head) }
        guard let target = Self.parse(head.uri) else { return nil }
        guard let secret = Secret.presented(target.token), secret.kind == .streamToken else {
            services.ledger.refused()
            return .refusal(Self.invalidToken)
        }
        let t: AuthenticatedToken
        switch services.tokens.authenticateCached(secret, hash: hash(of: secret)) {
        case .unknown: return nil
        case .invalid:
            services.ledger.refused()
            return .refusal(Self.invalidToken)
        case .valid(let valid): t = valid
        }
        // A missing or changed file goes to the full path, which says what is wrong.
        guard let song = services.catalog.cachedSong(id: target.songId), let st = try? StreamEndpoint.check(song) else { return nil }
        let file = FileIdentity(st)
        if remoteIP == nil { remoteIP = .some(channel.remoteAddress?.ipAddress) }
        let facts = StreamRequestFacts(
            method: head.method.rawValue, path: target.path, ip: remoteIP ?? nil,
            userAgent: head.headers.first(name: "user-agent"), range: head.headers.first(name: "range"))
        // Lua runs here only on an idle VM and within a few ms (PluginHost.authorizeInline); else the full path decides.
        guard let decision = services.tokenPolicy.authorizeInline(token: t.token, user: t.user, request: facts, songId: song.id, song: song) else { return nil }
        if let refusal = StreamRefusal.of(decision) {
            services.ledger.refused()
            return .refusal(Refusal(refusal))
        }
        let conditions = ConditionalHeaders { name in head.headers.first(name: name) }
        let plan = StreamPlan.make(song: song, isHead: head.method == .HEAD, conditions: conditions, validators: validators(song))
        // Answered here: what needs no file or one slice short enough; the rest (412, 416, several ranges, long bodies) goes on.
        let body: ClosedRange<Int64>?
        switch (plan.status, plan.body) {
        case (.ok, .none), (.partialContent, .none), (.notModified, .none): body = nil
        case (.ok, .file(let range)) where range.upperBound - range.lowerBound < maxBody: body = range
        case (.partialContent, .file(let range)) where range.upperBound - range.lowerBound < maxBody: body = range
        default: return nil
        }
        let headers = HTTPHeaders(plan.fields.map { ($0.name, $0.value) })
        let status = HTTPResponseStatus(statusCode: plan.status.code)
        guard let body else { return .headers(status, headers) }
        return .file(status, headers, song: song, file: file, range: body, credential: StreamCredential(user: t.user, sessionId: nil, token: t.token))
    }

    /// A cover (`/art/{kind}/{id}?token=&size=`) that memory holds, for a token that memory knows; nil otherwise.
    func planArt(_ head: HTTPRequestHead) -> Answer? {
        guard let art = services.art, let target = Self.parseArt(head.uri), let secret = Secret.presented(target.token), secret.kind == .streamToken,
              case .valid = services.tokens.authenticateCached(secret, hash: hash(of: secret)),
              let image = art.cachedImage(kind: target.kind, id: target.id, size: target.size)
        else { return nil }
        let etag = "\"\(image.etag)\""
        var headers = HTTPHeaders([("ETag", etag), ("Cache-Control", "private, max-age=86400")])
        if let match = head.headers.first(name: "if-none-match"), match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0 == "*" }) {
            return .headers(.notModified, headers)
        }
        headers.add(name: "Content-Type", value: image.mime)
        headers.add(name: "Content-Length", value: String(image.bytes.count))
        return .bytes(.ok, headers, ByteBuffer(bytes: image.bytes))
    }

    /// A feature module's answer from memory (`FastAnswers`), or nil.
    func planModule(_ head: HTTPRequestHead) -> Answer? {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, head.method == .GET, let handler = services.modules.handler(for: parts[0]),
              let a = handler(parts[1], { head.headers.first(name: $0) })
        else { return nil }
        var headers = HTTPHeaders(a.headers)
        if a.status != 304 { headers.replaceOrAdd(name: "Content-Length", value: String(a.body.count)) }
        return a.body.isEmpty && a.status == 304 ? .headers(.notModified, headers) : .bytes(HTTPResponseStatus(statusCode: a.status), headers, ByteBuffer(bytes: a.body))
    }

    /// The kind, id, size and token of `/art/{kind}/{id}?token=...&size=N`; nil for anything else or unusual.
    static func parseArt(_ uri: String) -> (kind: ItemKind, id: Int64, size: Int?, token: String)? {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts[0].split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, path.count == 4, path[1] == "art", let kind = ItemKind(rawValue: String(path[2])),
              path[3].count <= 18, let id = Int64(path[3]) else { return nil }
        var token: String?, size: Int?
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[1].contains(where: { $0 == "%" || $0 == "+" }) else { return nil }
            switch kv[0] {
            case "token": guard token == nil else { return nil }; token = String(kv[1])
            case "size": guard size == nil, kv[1].count <= 4, let n = Int(kv[1]), (16...2_048).contains(n) else { return nil }; size = n
            default: return nil
            }
        }
        guard let token, !token.isEmpty else { return nil }
        return (kind, id, size, token)
    }

    /// `secret.hash`, computed once per token per connection.
    private func hash(of secret: Secret) -> SecretHash {
        if let last = lastToken, last.text == secret.plaintext { return last.hash }
        let hash = secret.hash
        lastToken = (secret.plaintext, hash)
        return hash
    }

    /// The song's validators, from `lastValidators` when it is the same file.
    private func validators(_ song: Song) -> StreamPlan.Validators {
        if let v = lastValidators, v.songId == song.id, v.size == song.size, v.mtimeMs == song.mtimeMs { return v.validators }
        let made = StreamPlan.Validators(song)
        lastValidators = (song.id, song.size, song.mtimeMs, made)
        return made
    }

    /// The song id, token and path of `/stream/{id}?token=...`; nil for anything else (or anything unusual).
    static func parse(_ uri: String) -> (songId: Int64, token: String, path: String)? {
        var uri = uri
        return uri.withUTF8 { b -> (Int64, String, String)? in
            // Bytes, not String indices: this runs on every stream request.
            let stream: StaticString = "/stream/"
            guard b.count > stream.utf8CodeUnitCount,
                  memcmp(b.baseAddress!, stream.utf8Start, stream.utf8CodeUnitCount) == 0 else { return nil }
            var i = stream.utf8CodeUnitCount
            var songId: Int64 = 0
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                guard songId < Int64.max / 10 - 10 else { return nil }
                songId = songId * 10 + Int64(b[i] - UInt8(ascii: "0"))
                i += 1
            }
            guard i > stream.utf8CodeUnitCount, songId > 0, i < b.count, b[i] == UInt8(ascii: "?") else { return nil }
            let question = i
            var token: Range<Int>?
            var start = i + 1
            while start <= b.count {
                var end = start
                while end < b.count, b[end] != UInt8(ascii: "&") { end += 1 }
                if end - start >= 6, memcmp(b.baseAddress! + start, "token=", 6) == 0 {
                    guard token == nil else { return nil }  // two tokens: let the full path decide
                    token = (start + 6)..<end
                }
                start = end + 1
            }
            guard let token, !token.isEmpty,
                  !b[token].contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return nil }
            return (songId, String(decoding: b[token], as: UTF8.self), String(decoding: b[0..<question], as: UTF8.self))
        }
    }

    // MARK: - Answering

    private func respond(_ answer: Answer, keepAlive: Bool, isHead: Bool, context: ChannelHandlerContext) {
        services.answers.increment()
        switch answer {
        case .refusal(let refusal):
            write(refusal, keepAlive: keepAlive, isHead: isHead, context: context)
        case .headers(let status, let headers):
            send(head(status, headers, keepAlive: keepAlive), keepAlive: keepAlive, context: context)
        case .bytes(let status, let headers, let body):
            send(head(status, headers, keepAlive: keepAlive), body: isHead ? nil : body, keepAlive: keepAlive, context: context)
        case .file(let status, let headers, let song, let file, let range, let credential):
            sendFile(status, headers, song: song, file: file, range: range, credential: credential, keepAlive: keepAlive, context: context)
        }
    }

    /// The response head (HTTP/1.1, the only version answered here) with `Date` and `Server`.
    private func head(_ status: HTTPResponseStatus, _ fields: HTTPHeaders, keepAlive: Bool) -> HTTPResponseHead {
        var headers = fields
        headers.add(name: "Date", value: Self.date())
        if let serverName { headers.add(name: "Server", value: serverName) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }

    /// Writes the head, `body` and `region` if any, and the end through the encoder, flushed with
    /// the rest of the event loop's turn; `promise` completes when the kernel took the last byte.
    /// Without keep-alive the connection closes then.
    private func send(_ head: HTTPResponseHead, body: ByteBuffer? = nil, region: FileRegion? = nil, promise: EventLoopPromise<Void>? = nil, keepAlive: Bool, context: ChannelHandlerContext) {
        // Most answers keep the connection and need no promise: none is made for them.
        let sent = promise ?? (keepAlive ? nil : context.eventLoop.makePromise(of: Void.self))
        if !keepAlive, let sent {
            let channel = context.channel
            sent.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
        guard hasEncoder else {
            sent?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        if let region { context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: sent)
        flushes?.add(context)
    }

    /// Writes a whole JSON error response, as `APIError` renders it; to a HEAD, its head only.
    ///
    /// A body after a HEAD answer would be read by the client as the start of the next response
    /// (found by Schemathesis: the next answer on the connection lost its body).
    private func writeError(_ status: HTTPResponseStatus, json: String, keepAlive: Bool, isHead: Bool = false, context: ChannelHandlerContext) {
        write(Refusal(status, json: json), keepAlive: keepAlive, isHead: isHead, context: context)
    }

    private func write(_ refusal: Refusal, keepAlive: Bool, isHead: Bool, context: ChannelHandlerContext) {
        send(head(refusal.status, refusal.headers, keepAlive: keepAlive), body: isHead ? nil : refusal.body, keepAlive: keepAlive, context: context)
    }

    /// An error response as `APIError` renders it, built once where it is always the same.
    struct Refusal {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: ByteBuffer

        init(_ refusal: StreamRefusal) {
            self.init(HTTPResponseStatus(statusCode: refusal.status.code), json: StreamPlan.errorJSON(code: refusal.code, message: refusal.message))
        }

        init(_ status: HTTPResponseStatus, json: String) {
            var headers = HTTPHeaders([("Content-Type", "application/json; charset=utf-8"), ("Content-Length", String(json.utf8.count))])
            if status == .unauthorized { headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"reprise\"") }
            (self.status, self.headers, self.body) = (status, headers, ByteBuffer(string: json))
        }
    }

    /// Bodies up to this size are read (`pread`) and written with the head; longer ones go out as a
    /// `sendfile` region. B2's 64 KiB range ran at half the rate copied (docs/performance.md, 2026-12-06).
    static let copyBytes: Int64 = 16 * 1024

    /// Sends a slice of the song's file, accounted in the ledger like any stream: up to `copyBytes`
    /// read (`pread`, from the page cache as `sendfile` would) behind the head, longer as one
    /// `sendfile(2)` region.
    private func sendFile(_ status: HTTPResponseStatus, _ headers: HTTPHeaders, song: Song, file identity: FileIdentity, range: ClosedRange<Int64>, credential: StreamCredential, keepAlive: Bool, context: ChannelHandlerContext) {
        let length = range.upperBound - range.lowerBound + 1
        let missing = { StreamPlan.errorJSON(code: .fileMissing, message: "cannot open the file of song \(song.id)") }
        var out: ByteBuffer?
        let region: FileRegion?
        if length <= Self.copyBytes {
            guard let fd = openFile(song, identity) else {
                // Gone or replaced since the stat a moment ago: answer as the full path does.
                return writeError(.gone, json: missing(), keepAlive: keepAlive, context: context)
            }
            var bytes = context.channel.allocator.buffer(capacity: Int(length))
            guard Self.read(fd: fd, range: range, into: &bytes) else {
                // Shorter than the scan saw: answer as the full path does for a changed file.
                forget(fd)
                let message = "the file of song \(song.id) changed since the last scan; rescan the catalog"
                return writeError(.conflict, json: StreamPlan.errorJSON(code: .fileChanged, message: message), keepAlive: keepAlive, context: context)
            }
            out = bytes
            region = nil
        } else {
            // A region owns its descriptor until the kernel took the last byte: a duplicate of the kept one.
            guard let kept = openFile(song, identity) else { return writeError(.gone, json: missing(), keepAlive: keepAlive, context: context) }
            let fd = fcntl(kept, F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else { return writeError(.gone, json: missing(), keepAlive: keepAlive, context: context) }
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
            out = nil
            region = FileRegion(fileHandle: handle, readerIndex: Int(range.lowerBound), endIndex: Int(range.upperBound) + 1)
        }
        // Accounted as every stream is; bodies this short never need a durable lease.
        let account = StreamAccount.start(services.ledger, song: song, credential: credential, range: range, expected: length)
        let sent = context.eventLoop.makePromise(of: Void.self)
        if let region { FileRegionHandler.watchForTruncation(region, channel: context.channel, until: sent.futureResult) }
        send(head(status, headers, keepAlive: keepAlive), body: out, region: region, promise: sent, keepAlive: keepAlive, context: context)
        sent.futureResult.whenComplete { result in
            var reason: String?
            switch result {
            case .success:
                account.sent(length)
            case .failure:
                var st = stat()
                let shrank = (try? region?.fileHandle.withUnsafeFileDescriptor { fstat($0, &st) == 0 && Int64(st.st_size) <= range.upperBound }) ?? false
                reason = shrank ? "the file of song \(song.id) shrank while streaming" : StreamRecord.clientLeft
            }
            try? region?.fileHandle.close()
            account.finish(reason: reason)
        }
    }

    /// A descriptor of the file at the song's path, which must be `identity`: kept open from an
    /// earlier request on this connection, or opened now (and kept, closing the oldest).
    private func openFile(_ song: Song, _ identity: FileIdentity) -> Int32? {
        if let kept = openFiles.firstIndex(where: { $0.songId == song.id }) {
            if openFiles[kept].file == identity { return openFiles[kept].fd }
            forget(openFiles[kept].fd)  // replaced under the same path
        }
        let fd = open(song.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, FileIdentity(st) == identity else {
            Glibc.close(fd)
            return nil
        }
        if openFiles.count >= Self.openFilesPerConnection { forget(openFiles[0].fd) }
        openFiles.append(OpenFile(songId: song.id, fd: fd, file: identity))
        return fd
    }

    /// Closes a kept descriptor.
    private func forget(_ fd: Int32) {
        openFiles.removeAll { $0.fd == fd }
        Glibc.close(fd)
    }

    /// Appends the bytes of `range` to `out`; false when the file is shorter.
    static func read(fd: Int32, range: ClosedRange<Int64>, into out: inout ByteBuffer) -> Bool {
        let length = Int(range.upperBound - range.lowerBound + 1)
        return preadFully(fd: fd, offset: range.lowerBound, count: length, into: &out) == length
    }

    /// The refusal of most fast-path requests that fail (B3 in docs/performance.md): made once.
    static let invalidToken = Refusal(.invalidToken)


    private static let dates = Locked<(second: Int64, text: String)>((-1, ""))

    /// The `Date` header value, formatted once per second.
    static func date() -> String {
        let ms = Int64(Date().timeIntervalSince1970 * 1000)
        return dates.withLock { d in
            if d.second != ms / 1000 { d = (ms / 1000, HTTPDate.format(epochMs: ms)) }
            return d.text
        }
    }
}

@available(*, unavailable)
extension StreamFastPath: Sendable {}
