/// The decision a server takes for a `Range` request header (RFC 9110 §14.2).
public enum RangeOutcome: Equatable, Sendable {
    /// Sends the whole representation with 200 (no Range, an invalid one, or too many ranges).
    case full
    /// Sends one range with 206 and `Content-Range: bytes a-b/size`.
    case partial(ClosedRange<Int64>)
    /// Sends several ranges with 206 as `multipart/byteranges`, in the order they should be sent.
    case multiple([ClosedRange<Int64>])
    /// Sends 416 with `Content-Range: bytes */size`.
    case unsatisfiable
}

/// Limits applied to multi-range requests.
public enum RangePolicy {
    /// Requests listing more range-specs than this are served in full (defence against range floods).
    public static let maxRangeCount = 16
}

/// Evaluates a `Range` header against a representation of `size` bytes.
///
/// Syntax follows RFC 9110 §14.1.1: `bytes=` then a comma list of `first-last`, `first-` or `-suffix`,
/// with optional whitespace around commas and around the whole value; the unit is case-insensitive.
/// An invalid header (other unit, `5-3`, garbage, empty set) is ignored: `.full`.
/// With several satisfiable ranges, unsatisfiable ones are dropped; when any two overlap or touch,
/// all are sorted and coalesced (RFC 9110 §14.3 allows it), otherwise request order is kept; a single
/// survivor becomes `.partial`. More than ``RangePolicy/maxRangeCount`` specs yields `.full`.
///
///     evaluateRange(header: "bytes=0-99", size: 1000)   // .partial(0...99)
///     evaluateRange(header: "bytes=-100", size: 1000)   // .partial(900...999)
///     evaluateRange(header: "bytes=1000-", size: 1000)  // .unsatisfiable
public func evaluateRange(header: String?, size: Int64) -> RangeOutcome {
    guard let header, size >= 0, let specs = parseRangeSpecs(header) else { return .full }
    if specs.count > RangePolicy.maxRangeCount { return .full }
    let satisfiable = specs.compactMap { $0.resolve(size: size) }
    if satisfiable.isEmpty { return .unsatisfiable }
    if satisfiable.count == 1 { return .partial(satisfiable[0]) }
    let sorted = satisfiable.sorted { $0.lowerBound < $1.lowerBound }
    var needsCoalescing = false
    for i in 1..<sorted.count where sorted[i].lowerBound <= sorted[i - 1].upperBound + 1 {
        needsCoalescing = true
        break
    }
    guard needsCoalescing else { return .multiple(satisfiable) }
    var merged: [ClosedRange<Int64>] = [sorted[0]]
    for range in sorted.dropFirst() {
        let last = merged[merged.count - 1]
        if range.lowerBound <= last.upperBound + 1 {
            merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
        } else {
            merged.append(range)
        }
    }
    return merged.count == 1 ? .partial(merged[0]) : .multiple(merged)
}

/// One syntactically valid range-spec, before it meets the representation size.
enum RangeSpec: Equatable {
    case from(first: Int64, last: Int64?)
    case suffix(length: Int64)

    /// Returns the satisfiable byte range for `size`, or nil when unsatisfiable.
    func resolve(size: Int64) -> ClosedRange<Int64>? {
        guard size > 0 else { return nil }
        switch self {
        case let .from(first, last):
            guard first < size else { return nil }
            return first...min(last ?? (size - 1), size - 1)
        case let .suffix(length):
            guard length > 0 else { return nil }
            return max(0, size - length)...(size - 1)
        }
    }
}

/// Parses `bytes=...` into range-specs; nil when the header is invalid or uses another unit.
///
/// Works on the UTF-8 bytes: it runs on every ranged stream request.
func parseRangeSpecs(_ header: String) -> [RangeSpec]? {
    var header = header
    return header.withUTF8 { b -> [RangeSpec]? in
        var (start, end) = trimmedOWS(b, 0, b.count)
        let unit: StaticString = "bytes="
        guard end - start > unit.utf8CodeUnitCount else { return nil }
        for k in 0..<unit.utf8CodeUnitCount {
            let c = b[start + k], want = unit.utf8Start[k]
            // ASCII case-insensitive for the letters of "bytes"; "=" exactly.
            guard c == want || (want != UInt8(ascii: "=") && c | 0x20 == want) else { return nil }
        }
        start += unit.utf8CodeUnitCount
        var specs: [RangeSpec] = []
        while start <= end {
            var comma = start
            while comma < end, b[comma] != UInt8(ascii: ",") { comma += 1 }
            let (i, j) = trimmedOWS(b, start, comma)
            // Empty list elements are allowed and ignored (RFC 9110 §5.6.1).
            if i < j {
                guard let spec = parseRangeSpec(b, i, j) else { return nil }
                specs.append(spec)
            }
            start = comma + 1
        }
        return specs.isEmpty ? nil : specs
    }
}

/// `b[from..<to]` without leading and trailing spaces and tabs, as bounds.
private func trimmedOWS(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> (Int, Int) {
    var (i, j) = (from, to)
    while i < j, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
    while j > i, b[j - 1] == 0x20 || b[j - 1] == 0x09 { j -= 1 }
    return (i, j)
}

private func parseRangeSpec(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> RangeSpec? {
    var dash = from
    while dash < to, b[dash] != UInt8(ascii: "-") { dash += 1 }
    guard dash < to else { return nil }
    if dash == from {
        guard let length = parseDigits(b, dash + 1, to) else { return nil }
        return .suffix(length: length)
    }
    guard let first = parseDigits(b, from, dash) else { return nil }
    if dash + 1 == to { return .from(first: first, last: nil) }
    guard let last = parseDigits(b, dash + 1, to), last >= first else { return nil }
    return .from(first: first, last: last)
}

/// Parses 1*DIGIT, saturating at Int64.max (such positions are past any real file).
private func parseDigits(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Int64? {
    guard from < to else { return nil }
    var value: Int64 = 0
    for k in from..<to {
        let byte = b[k]
        guard byte >= 0x30, byte <= 0x39 else { return nil }
        let (times, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times.addingReportingOverflow(Int64(byte - 0x30))
        value = (o1 || o2) ? Int64.max : sum
    }
    return value
}

func trimOWS(_ text: Substring) -> Substring {
    var result = text
    while let c = result.first, c == " " || c == "\t" { result.removeFirst() }
    while let c = result.last, c == " " || c == "\t" { result.removeLast() }
    return result
}

/// `Content-Range` field values (RFC 9110 §14.4).
public enum ContentRange {
    /// Returns `bytes a-b/size` for a 206 response or a multipart part.
    public static func satisfied(_ range: ClosedRange<Int64>, size: Int64) -> String {
        "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
    }

    /// Returns `bytes */size` for a 416 response.
    public static func unsatisfied(size: Int64) -> String {
        "bytes */\(size)"
    }
}
