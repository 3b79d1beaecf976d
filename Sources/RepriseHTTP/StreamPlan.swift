import Foundation
import HTTPRanges
import HTTPTypes
import RepriseCore
import RepriseStorage

/// What an authorized stream request gets: status, header fields and body, decided from the song
/// and the request's method and headers alone (no I/O). The router (`StreamEndpoint`), the fast path
/// (`StreamFastPath`) and Ampache's `/play` all answer from it.
///
/// ```swift
/// let plan = StreamPlan.make(song: song, isHead: false, conditions: conditions, validators: .init(song))
/// // plan.status == .partialContent, plan.body == .file(0...65535) for "Range: bytes=0-65535"
/// ```
struct StreamPlan: Sendable, Equatable {
    /// A response header field, its name as sent.
    struct Field: Sendable, Equatable {
        let name: String
        let value: String
    }

    enum Body: Sendable, Equatable {
        /// Nothing follows the head (HEAD, 304, 412, an empty file).
        case none
        /// One slice of the file.
        case file(ClosedRange<Int64>)
        /// Several slices as `multipart/byteranges`.
        case multipart(MultipartByteRanges)
        /// A JSON error body (416), as `APIError` renders it.
        case error(APIError.Code, String)
    }

    let status: HTTPResponse.Status
    let fields: [Field]
    let body: Body

    /// A song's `ETag` and `Last-Modified`, formatted.
    struct Validators: Sendable, Equatable {
        let etag: EntityTag
        let etagText: String
        let lastModified: String

        init(_ song: Song) {
            etag = EntityTag.strong(id: song.id, size: song.size, mtimeMs: song.mtimeMs)
            etagText = etag.headerValue
            lastModified = HTTPDate.format(epochMs: song.mtimeMs)
        }
    }

    static func make(song: Song, isHead: Bool, conditions: ConditionalHeaders, validators v: Validators) -> StreamPlan {
        var fields = [
            Field(name: "Accept-Ranges", value: "bytes"), Field(name: "ETag", value: v.etagText), Field(name: "Last-Modified", value: v.lastModified),
            Field(name: "Content-Type", value: song.mimeType), Field(name: "Cache-Control", value: "private, max-age=0"),
        ]
        func without(_ name: String) -> [Field] { fields.filter { $0.name != name } }
        let size = song.size
        switch planResponse(method: isHead ? "HEAD" : "GET", headers: conditions, size: size, etag: v.etag, lastModifiedMs: song.mtimeMs) {
        case .notModified:
            return StreamPlan(status: .notModified, fields: without("Content-Type"), body: .none)
        case .preconditionFailed:
            return StreamPlan(status: .preconditionFailed, fields: fields, body: .none)
        case .unsatisfiable:
            let message = "the range starts past the end of the \(size)-byte file"
            let json = errorJSON(code: .rangeNotSatisfiable, message: message)
            fields = without("Content-Type") + [
                Field(name: "Content-Range", value: ContentRange.unsatisfied(size: size)),
                Field(name: "Content-Type", value: "application/json; charset=utf-8"), Field(name: "Content-Length", value: String(json.utf8.count)),
            ]
            return StreamPlan(status: .rangeNotSatisfiable, fields: fields, body: isHead ? .none : .error(.rangeNotSatisfiable, message))
        case .full:
            fields.append(Field(name: "Content-Length", value: String(size)))
            return StreamPlan(status: .ok, fields: fields, body: isHead || size == 0 ? .none : .file(0...(size - 1)))
        case .partial(let range):
            fields.append(Field(name: "Content-Range", value: ContentRange.satisfied(range, size: size)))
            fields.append(Field(name: "Content-Length", value: String(range.upperBound - range.lowerBound + 1)))
            return StreamPlan(status: .partialContent, fields: fields, body: isHead ? .none : .file(range))
        case .multiple(let ranges):
            let multipart = MultipartByteRanges(ranges: ranges, size: size, contentType: song.mimeType)
            fields = without("Content-Type") + [
                Field(name: "Content-Type", value: multipart.contentType), Field(name: "Content-Length", value: String(multipart.contentLength)),
            ]
            return StreamPlan(status: .partialContent, fields: fields, body: isHead ? .none : .multipart(multipart))
        }
    }

    /// The error shape of `APIError`, as JSON text.
    static func errorJSON(code: APIError.Code, message: String) -> String {
        let data = (try? JSONEncoder().encode(ErrorBody(error: .init(code: code.rawValue, message: message)))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// One stream's accounting, the same for every transport: its ledger record, which also holds the
/// in-memory lease on its credential that GC respects, from `start` to `finish`.
struct StreamAccount: Sendable {
    let ledger: StreamLedger
    let id: Int64

    /// Records a stream of `song`'s `range` (`expected` bytes on the wire) by `credential`.
    static func start(_ ledger: StreamLedger, song: Song, credential: StreamCredential, range: ClosedRange<Int64>, expected: Int64) -> StreamAccount {
        let id = ledger.start(
            songId: song.id, userId: credential.user.id, sessionId: credential.sessionId, tokenId: credential.token?.id,
            player: credential.player, range: range, bytesExpected: expected)
        return StreamAccount(ledger: ledger, id: id)
    }

    /// Counts bytes the client took.
    func sent(_ bytes: Int64) { ledger.progress(id, bytes: bytes) }

    /// Ends the record: completed, or aborted with `reason`.
    func finish(reason: String?) { ledger.finish(id, reason: reason) }
}

/// A lease row for a stream that lasts (other processes' GC sees it, unlike the ledger's in-memory
/// lease): taken once the stream has run `after` ms, renewed every third of its lifetime, released at the end.
struct DurableStreamLease: Sendable {
    let leases: any LeaseRepository
    let target: LeaseTarget?
    let holder: String
    let started: Int64
    static let after: Int64 = 2_000
    private(set) var id: Int64?
    private var renewedAt: Int64

    init(leases: any LeaseRepository, credential: StreamCredential, holder: String, now: Int64) {
        (self.leases, self.holder, started, renewedAt) = (leases, holder, now, now)
        target = StreamRecord.leaseTarget(credential)
    }

    /// Takes or renews the lease as the stream's age asks.
    mutating func keep(now: Int64) async {
        if id == nil, now - started >= Self.after, let target {
            id = try? await leases.acquire(target, holder: holder)
            renewedAt = now
        } else if let id, now - renewedAt >= leases.ttlMs / 3 {
            _ = try? await leases.renew(id)
            renewedAt = now
        }
    }

    /// Releases the lease, if one was taken, in the background.
    func release() {
        guard let id else { return }
        let leases = self.leases
        Task { try? await leases.release(id) }
    }
}

/// Why a stream request is refused: the same status, code and words on every transport.
enum StreamRefusal: Equatable, Sendable {
    /// The stream token is unknown, revoked or expired (or not a stream token at all).
    case invalidToken
    /// No credential a stream takes was presented.
    case noCredential
    /// The token policy said no, with its reason.
    case denied(String)

    var status: HTTPResponse.Status {
        switch self {
        case .invalidToken, .noCredential: .unauthorized
        case .denied: .forbidden
        }
    }

    var code: APIError.Code {
        switch self {
        case .invalidToken: .invalidToken
        case .noCredential: .unauthorized
        case .denied: .policyDenied
        }
    }

    var message: String {
        switch self {
        case .invalidToken: "the stream token is unknown, revoked or expired"
        case .noCredential: "a stream token (?token=) or a session (Authorization: Bearer) is required"
        case .denied(let reason): reason
        }
    }

    /// The refusal for a policy's answer, nil when it allows.
    static func of(_ decision: AuthorizeDecision) -> StreamRefusal? {
        if case .deny(let reason) = decision { return .denied(reason) }
        return nil
    }

    var error: APIError { APIError(status, code: code, message) }
}
