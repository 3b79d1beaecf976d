/// The outcome of evaluating conditional request headers (RFC 9110 §13.2.2).
public enum ConditionalResult: Sendable, Equatable {
    /// Continues with the request (then consider `Range`).
    case proceed
    /// Answers 304 Not Modified (GET/HEAD only), with the validators and no body.
    case notModified
    /// Answers 412 Precondition Failed (If-None-Match matched on a method other than GET/HEAD).
    case preconditionFailed
}

/// The conditional request fields a server reads; each is the combined field value or nil.
public struct ConditionalHeaders: Sendable, Equatable {
    /// `If-None-Match`.
    public var ifNoneMatch: String?
    /// `If-Modified-Since`.
    public var ifModifiedSince: String?
    /// `If-Range`.
    public var ifRange: String?
    /// `Range`.
    public var range: String?

    /// Creates the set from explicit values.
    public init(ifNoneMatch: String? = nil, ifModifiedSince: String? = nil, ifRange: String? = nil, range: String? = nil) {
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifRange = ifRange
        self.range = range
    }

    /// Creates the set through a lookup taking canonical names such as `"If-None-Match"`.
    public init(lookup: (String) -> String?) {
        self.init(
            ifNoneMatch: lookup("If-None-Match"),
            ifModifiedSince: lookup("If-Modified-Since"),
            ifRange: lookup("If-Range"),
            range: lookup("Range")
        )
    }
}

/// Evaluates `If-None-Match` then `If-Modified-Since` for a representation with `etag` and a
/// modification time in epoch ms (compared at second precision).
///
/// `If-Modified-Since` is only read when `If-None-Match` is absent and the method is GET or HEAD;
/// unparsable fields are ignored.
///
///     evaluateConditions(method: "GET", headers: .init(ifNoneMatch: "W/\"a\""),
///                        etag: EntityTag(opaque: "a"), lastModifiedMs: 0)  // .notModified
public func evaluateConditions(method: String, headers: ConditionalHeaders, etag: EntityTag?, lastModifiedMs: Int64?) -> ConditionalResult {
    let isGetOrHead = method == "GET" || method == "HEAD"
    if let field = headers.ifNoneMatch {
        if let list = EntityTagList.parse(field) {
            let matches: Bool
            switch list {
            case .any: matches = true  // the representation exists
            case .tags: matches = etag.map(list.weaklyMatches) ?? false
            }
            if matches { return isGetOrHead ? .notModified : .preconditionFailed }
            return .proceed
        }
        // A malformed If-None-Match is ignored; fall through to If-Modified-Since.
    }
    if isGetOrHead, let field = headers.ifModifiedSince, let lastModifiedMs, let since = HTTPDate.parse(field) {
        if floorSeconds(lastModifiedMs) <= floorSeconds(since) { return .notModified }
    }
    return .proceed
}

/// Returns whether a `Range` may be honoured given `If-Range` (RFC 9110 §13.1.5).
///
/// Without `If-Range` it returns true. An entity tag must match strongly; a date must equal the
/// last-modified time to the second. Anything else (weak tag, unparsable value) returns false,
/// so the full representation is sent.
public func ifRangeAllowsRange(_ ifRange: String?, etag: EntityTag?, lastModifiedMs: Int64?) -> Bool {
    guard let ifRange else { return true }
    let value = trimOWS(Substring(ifRange))
    if value.hasPrefix("\"") || value.hasPrefix("W/") {
        guard let tag = EntityTag.parse(String(value)), let etag else { return false }
        return tag.stronglyMatches(etag)
    }
    guard let date = HTTPDate.parse(String(value)), let lastModifiedMs else { return false }
    return floorSeconds(date) == floorSeconds(lastModifiedMs)
}

/// How a GET or HEAD for a file should be answered, combining conditions, If-Range and Range.
public enum ResponsePlan: Sendable, Equatable {
    /// 304 Not Modified.
    case notModified
    /// 412 Precondition Failed.
    case preconditionFailed
    /// 200 with the whole file.
    case full
    /// 206 with one range.
    case partial(ClosedRange<Int64>)
    /// 206 multipart/byteranges.
    case multiple([ClosedRange<Int64>])
    /// 416 with `Content-Range: bytes */size`.
    case unsatisfiable
}

/// Plans a response for a file of `size` bytes: conditions first, then If-Range, then Range
/// (Range is only honoured for GET, the one method RFC 9110 defines range handling for).
public func planResponse(method: String, headers: ConditionalHeaders, size: Int64, etag: EntityTag?, lastModifiedMs: Int64?) -> ResponsePlan {
    switch evaluateConditions(method: method, headers: headers, etag: etag, lastModifiedMs: lastModifiedMs) {
    case .notModified: return .notModified
    case .preconditionFailed: return .preconditionFailed
    case .proceed: break
    }
    guard method == "GET", headers.range != nil,
          ifRangeAllowsRange(headers.ifRange, etag: etag, lastModifiedMs: lastModifiedMs) else { return .full }
    switch evaluateRange(header: headers.range, size: size) {
    case .full: return .full
    case let .partial(range): return .partial(range)
    case let .multiple(ranges): return .multiple(ranges)
    case .unsatisfiable: return .unsatisfiable
    }
}

private func floorSeconds(_ ms: Int64) -> Int64 {
    ms >= 0 || ms % 1000 == 0 ? ms / 1000 : ms / 1000 - 1
}
