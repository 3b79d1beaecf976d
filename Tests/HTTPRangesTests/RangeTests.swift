import Testing
@testable import HTTPRanges

@Suite struct RangeTests {
    @Test(arguments: [
        // (header, size, expected)
        ("bytes=0-99", 1000, RangeOutcome.partial(0...99)),
        ("bytes=0-0", 1000, .partial(0...0)),
        ("bytes=999-999", 1000, .partial(999...999)),    // last byte
        ("bytes=999-", 1000, .partial(999...999)),
        ("bytes=500-", 1000, .partial(500...999)),
        ("bytes=0-", 1000, .partial(0...999)),
        ("bytes=900-5000", 1000, .partial(900...999)),  // last clamped to size-1
        ("bytes=1000-", 1000, .unsatisfiable),           // one past the end
        ("bytes=1000-1000", 1000, .unsatisfiable),
        ("bytes=5000-6000", 1000, .unsatisfiable),
        ("bytes=-100", 1000, .partial(900...999)),
        ("bytes=-1", 1000, .partial(999...999)),
        ("bytes=-1000", 1000, .partial(0...999)),
        ("bytes=-5000", 1000, .partial(0...999)),       // suffix longer than the file
        ("bytes=-0", 1000, .unsatisfiable),
        ("bytes=0-0", 1, .partial(0...0)),               // size 1
        ("bytes=0-", 1, .partial(0...0)),
        ("bytes=-1", 1, .partial(0...0)),
        ("bytes=-2", 1, .partial(0...0)),
        ("bytes=1-", 1, .unsatisfiable),
        ("bytes=0-0", 0, .unsatisfiable),                // size 0: every valid range is unsatisfiable
        ("bytes=0-", 0, .unsatisfiable),
        ("bytes=-5", 0, .unsatisfiable),
        ("bytes=0-99999999999999999999999", 10, .partial(0...9)),  // overflow saturates
        ("bytes=99999999999999999999999-", 10, .unsatisfiable),
    ] as [(String, Int64, RangeOutcome)])
    func singleRange(header: String, size: Int64, expected: RangeOutcome) {
        #expect(evaluateRange(header: header, size: size) == expected)
    }

    @Test(arguments: [
        ("", 1000 as Int64),
        ("bytes", 1000),
        ("bytes=", 1000),
        ("bytes=,", 1000),
        ("bytes=5-3", 1000),
        ("bytes=abc", 1000),
        ("bytes=1-2-3", 1000),
        ("bytes=-", 1000),
        ("bytes=+1-2", 1000),
        ("bytes=1 - 2", 1000),
        ("bytes=0-1,5-3", 1000),      // one invalid spec invalidates the header
        ("items=0-1", 1000),
        ("bits=0-1", 1000),
        ("0-1", 1000),
        ("garbage", 1000),
        ("bytes=0x10-20", 1000),
        ("bytez=0-1", 1000),
        ("bytes 0-1", 1000),
        ("bytes==0-1", 1000),
        ("bytes=0-1é", 1000),
        ("bytés=0-1", 1000),
        ("bytes=5-3", 0),
        ("", 0),
    ])
    func invalidHeaderIsIgnored(header: String, size: Int64) {
        #expect(evaluateRange(header: header, size: size) == .full)
    }

    @Test func absentHeaderIsFull() {
        #expect(evaluateRange(header: nil, size: 10) == .full)
        #expect(evaluateRange(header: nil, size: 0) == .full)
    }

    @Test func unitIsCaseInsensitiveAndWhitespaceTolerated() {
        #expect(evaluateRange(header: "BYTES=0-9", size: 100) == .partial(0...9))
        #expect(evaluateRange(header: "Bytes=0-9", size: 100) == .partial(0...9))
        #expect(evaluateRange(header: "  bytes=0-9\t", size: 100) == .partial(0...9))
        #expect(evaluateRange(header: "bytes=0-9 , 20-29", size: 100) == .multiple([0...9, 20...29]))
        #expect(evaluateRange(header: "bytes=0-9,\t20-29", size: 100) == .multiple([0...9, 20...29]))
        #expect(evaluateRange(header: "bytes=0-9,,20-29,", size: 100) == .multiple([0...9, 20...29]))
    }

    @Test func multipleRangesKeepRequestOrder() {
        #expect(evaluateRange(header: "bytes=50-59,0-9", size: 100) == .multiple([50...59, 0...9]))
        #expect(evaluateRange(header: "bytes=0-0,-1", size: 100) == .multiple([0...0, 99...99]))
    }

    @Test func unsatisfiableRangesAreDropped() {
        #expect(evaluateRange(header: "bytes=0-9,200-300,20-29", size: 100) == .multiple([0...9, 20...29]))
        #expect(evaluateRange(header: "bytes=0-9,200-300", size: 100) == .partial(0...9))
        #expect(evaluateRange(header: "bytes=-0,200-", size: 100) == .unsatisfiable)
        #expect(evaluateRange(header: "bytes=0-1,2-3", size: 0) == .unsatisfiable)
    }

    @Test func overlappingOrAdjacentRangesAreCoalesced() {
        #expect(evaluateRange(header: "bytes=0-9,5-14", size: 100) == .partial(0...14))
        #expect(evaluateRange(header: "bytes=0-9,10-19", size: 100) == .partial(0...19))
        #expect(evaluateRange(header: "bytes=50-59,0-9,5-20", size: 100) == .multiple([0...20, 50...59]))
        #expect(evaluateRange(header: "bytes=0-,-10", size: 100) == .partial(0...99))
        #expect(evaluateRange(header: "bytes=0-9,0-9", size: 100) == .partial(0...9))
    }

    @Test func tooManyRangesServeTheWholeFile() {
        let sixteen = (0..<16).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        let seventeen = (0..<17).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        guard case let .multiple(ranges) = evaluateRange(header: "bytes=" + sixteen, size: 1000) else {
            Issue.record("expected .multiple")
            return
        }
        #expect(ranges.count == 16)
        #expect(evaluateRange(header: "bytes=" + seventeen, size: 1000) == .full)
    }

    @Test func contentRangeFormatting() {
        #expect(ContentRange.satisfied(0...99, size: 1000) == "bytes 0-99/1000")
        #expect(ContentRange.satisfied(999...999, size: 1000) == "bytes 999-999/1000")
        #expect(ContentRange.unsatisfied(size: 1000) == "bytes */1000")
        #expect(ContentRange.unsatisfied(size: 0) == "bytes */0")
    }
}

@Suite struct MultipartTests {
    @Test func framingAndLength() {
        let body = MultipartByteRanges(ranges: [0...9, 20...29], size: 100, contentType: "audio/flac", boundary: "XYZ")
        #expect(body.contentType == "multipart/byteranges; boundary=XYZ")
        #expect(body.parts.count == 2)
        #expect(body.parts[0].header == "\r\n--XYZ\r\nContent-Type: audio/flac\r\nContent-Range: bytes 0-9/100\r\n\r\n")
        #expect(body.parts[1].header == "\r\n--XYZ\r\nContent-Type: audio/flac\r\nContent-Range: bytes 20-29/100\r\n\r\n")
        #expect(body.parts[1].range == 20...29)
        #expect(body.closingDelimiter == "\r\n--XYZ--\r\n")

        // Assemble the body from a fake file and compare the length.
        let file = (0..<100).map { UInt8($0) }
        var assembled: [UInt8] = []
        for part in body.parts {
            assembled += Array(part.header.utf8)
            assembled += file[Int(part.range.lowerBound)...Int(part.range.upperBound)]
        }
        assembled += Array(body.closingDelimiter.utf8)
        #expect(Int64(assembled.count) == body.contentLength)
        #expect(body.parts[0].header.utf8.count == 67)
        #expect(body.parts[1].header.utf8.count == 69)
        #expect(body.contentLength == 67 + 10 + 69 + 10 + 11)
    }

    @Test func randomBoundaryIsWellFormed() {
        let a = MultipartByteRanges.makeBoundary()
        let b = MultipartByteRanges.makeBoundary()
        #expect(a != b)
        #expect(a.count == "reprise-".count + 24)
        #expect(a.utf8.allSatisfy { $0 < 0x80 && $0 != 0x20 })
    }
}
