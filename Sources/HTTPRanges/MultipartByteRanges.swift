/// The framing of a `multipart/byteranges` body (RFC 9110 §14.6) so a server can stream it.
///
/// The body is, for each part, ``Part/header`` followed by the bytes of ``Part/range``, then
/// ``closingDelimiter``. Every header starts with CRLF (the first one is an empty preamble),
/// which keeps each delimiter's leading CRLF out of the file slices.
///
///     let body = MultipartByteRanges(ranges: [0...9, 20...29], size: 100,
///                                    contentType: "audio/flac", boundary: "XYZ")
///     body.parts[0].header  // "\r\n--XYZ\r\nContent-Type: audio/flac\r\nContent-Range: bytes 0-9/100\r\n\r\n"
///     body.closingDelimiter // "\r\n--XYZ--\r\n"
public struct MultipartByteRanges: Sendable, Equatable {
    /// One body part: its header block and the file slice that follows it.
    public struct Part: Sendable, Equatable {
        /// The inclusive byte range of the file carried by this part.
        public let range: ClosedRange<Int64>
        /// The delimiter and header block that precede the slice, as ASCII text.
        public let header: String
    }

    /// The boundary string (without leading dashes).
    public let boundary: String
    /// The parts in sending order.
    public let parts: [Part]
    /// The text closing the body: CRLF, `--boundary--`, CRLF.
    public let closingDelimiter: String

    /// Builds the framing for `ranges` of a `size`-byte representation of type `contentType`.
    public init(ranges: [ClosedRange<Int64>], size: Int64, contentType: String, boundary: String = MultipartByteRanges.makeBoundary()) {
        self.boundary = boundary
        self.parts = ranges.map { range in
            Part(
                range: range,
                header: "\r\n--\(boundary)\r\nContent-Type: \(contentType)\r\nContent-Range: \(ContentRange.satisfied(range, size: size))\r\n\r\n"
            )
        }
        self.closingDelimiter = "\r\n--\(boundary)--\r\n"
    }

    /// The response's `Content-Type` value: `multipart/byteranges; boundary=...`.
    public var contentType: String { "multipart/byteranges; boundary=\(boundary)" }

    /// The exact number of body bytes: all headers, all slices and the closing delimiter.
    public var contentLength: Int64 {
        var total = Int64(closingDelimiter.utf8.count)
        for part in parts {
            total += Int64(part.header.utf8.count) + part.range.upperBound - part.range.lowerBound + 1
        }
        return total
    }

    /// Returns a random 24-hex-digit boundary; file bytes could contain it only by 2^-96 chance per position.
    public static func makeBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = String(generator.next() as UInt64, radix: 16)
        let low = String(UInt32.random(in: .min ... .max, using: &generator), radix: 16)
        return "reprise-" + String(repeating: "0", count: 16 - high.count) + high
            + String(repeating: "0", count: 8 - low.count) + low
    }
}
