import Testing
@testable import HTTPRanges

@Suite struct EntityTagTests {
    @Test func strongTagFromIdentity() {
        let tag = EntityTag.strong(id: 42, size: 500, mtimeMs: 1_700_000_000_000)
        #expect(tag.headerValue == "\"2a-1f4-18bcfe56800\"")
        #expect(!tag.isWeak)
        #expect(EntityTag.strong(id: 42, size: 500, mtimeMs: 1_700_000_000_001) != tag)
        #expect(EntityTag(opaque: "x", isWeak: true).headerValue == "W/\"x\"")
    }

    @Test func parsing() {
        #expect(EntityTag.parse("\"abc\"") == EntityTag(opaque: "abc"))
        #expect(EntityTag.parse("W/\"abc\"") == EntityTag(opaque: "abc", isWeak: true))
        #expect(EntityTag.parse("\"\"") == EntityTag(opaque: ""))
        #expect(EntityTag.parse("abc") == nil)
        #expect(EntityTag.parse("\"abc") == nil)
        #expect(EntityTag.parse("w/\"abc\"") == nil)  // the W/ prefix is case-sensitive
        #expect(EntityTagList.parse("*") == .any)
        #expect(EntityTagList.parse(" \"a\", W/\"b\" ,\"c\"") == .tags([
            EntityTag(opaque: "a"), EntityTag(opaque: "b", isWeak: true), EntityTag(opaque: "c"),
        ]))
        #expect(EntityTagList.parse("\"a\" \"b\"") == nil)
        #expect(EntityTagList.parse("") == nil)
        #expect(EntityTagList.parse("\"a b\"") == nil)  // space is not an etagc
    }

    @Test func comparisons() {
        let strong = EntityTag(opaque: "1")
        let weak = EntityTag(opaque: "1", isWeak: true)
        #expect(strong.weaklyMatches(weak))
        #expect(weak.weaklyMatches(weak))
        #expect(strong.stronglyMatches(strong))
        #expect(!strong.stronglyMatches(weak))
        #expect(!weak.stronglyMatches(weak))
        #expect(!strong.weaklyMatches(EntityTag(opaque: "2")))
    }
}

@Suite struct HTTPDateTests {
    let rfcExampleMs: Int64 = 784_111_777_000  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test func formatsIMFFixdate() {
        #expect(HTTPDate.format(epochMs: rfcExampleMs) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochMs: rfcExampleMs + 999) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochMs: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochMs: 951_782_400_000) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(epochMs: 1_700_000_000_000) == "Tue, 14 Nov 2023 22:13:20 GMT")
        #expect(HTTPDate.format(epochMs: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    @Test func parsesAllThreeFormats() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == rfcExampleMs)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT", nowMs: 1_700_000_000_000) == rfcExampleMs)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == rfcExampleMs)
        #expect(HTTPDate.parse("  Sun, 06 Nov 1994 08:49:37 GMT ") == rfcExampleMs)
    }

    @Test func rfc850YearIsWithinFiftyYears() {
        let now2023: Int64 = 1_700_000_000_000
        // 2070 is within 50 years of 2023, 2099 is not (so it means 1999).
        #expect(HTTPDate.parse("Wednesday, 01-Jan-70 00:00:00 GMT", nowMs: now2023) == 3_155_760_000_000)
        #expect(HTTPDate.parse("Friday, 01-Jan-99 00:00:00 GMT", nowMs: now2023) == 915_148_800_000)
        #expect(HTTPDate.parse("Monday, 01-Jan-73 00:00:00 GMT", nowMs: now2023) == 3_250_454_400_000)
    }

    @Test func roundTrip() {
        for ms in [0, rfcExampleMs, 951_782_400_000, 4_102_444_800_000, 1_700_000_000_000] as [Int64] {
            #expect(HTTPDate.parse(HTTPDate.format(epochMs: ms)) == ms)
        }
    }

    @Test(arguments: [
        "",
        "Sun, 06 Nov 1994 08:49:37",          // no GMT
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",        // day must be two digits
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "yesterday",
    ])
    func rejectsInvalid(text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }
}

@Suite struct ConditionTests {
    let etag = EntityTag.strong(id: 1, size: 100, mtimeMs: 784_111_777_500)
    let lastModified: Int64 = 784_111_777_500  // Sun, 06 Nov 1994 08:49:37.500 GMT
    let date = "Sun, 06 Nov 1994 08:49:37 GMT"

    func eval(_ method: String, _ headers: ConditionalHeaders) -> ConditionalResult {
        evaluateConditions(method: method, headers: headers, etag: etag, lastModifiedMs: lastModified)
    }

    func eval(_ headers: ConditionalHeaders) -> ConditionalResult { eval("GET", headers) }

    @Test func noConditions() {
        #expect(eval(.init()) == .proceed)
    }

    @Test func ifNoneMatch() {
        #expect(eval(.init(ifNoneMatch: etag.headerValue)) == .notModified)
        #expect(eval("HEAD", .init(ifNoneMatch: etag.headerValue)) == .notModified)
        #expect(eval(.init(ifNoneMatch: "W/" + etag.headerValue)) == .notModified)  // weak comparison
        #expect(eval(.init(ifNoneMatch: "\"other\", " + etag.headerValue)) == .notModified)
        #expect(eval(.init(ifNoneMatch: "\"other\"")) == .proceed)
        #expect(eval(.init(ifNoneMatch: "*")) == .notModified)
        #expect(eval("PUT", .init(ifNoneMatch: "*")) == .preconditionFailed)
        #expect(eval("DELETE", .init(ifNoneMatch: "\"other\"")) == .proceed)
        #expect(evaluateConditions(method: "GET", headers: .init(ifNoneMatch: "\"x\""), etag: nil, lastModifiedMs: nil) == .proceed)
    }

    @Test func ifNoneMatchTakesPrecedenceOverIfModifiedSince() {
        #expect(eval(.init(ifNoneMatch: "\"other\"", ifModifiedSince: date)) == .proceed)
        // A malformed If-None-Match is ignored, so If-Modified-Since decides.
        #expect(eval(.init(ifNoneMatch: "garbage", ifModifiedSince: date)) == .notModified)
    }

    @Test func ifModifiedSince() {
        #expect(eval(.init(ifModifiedSince: date)) == .notModified)  // same second
        #expect(eval(.init(ifModifiedSince: "Sun, 06 Nov 1994 08:49:38 GMT")) == .notModified)
        #expect(eval(.init(ifModifiedSince: "Sun, 06 Nov 1994 08:49:36 GMT")) == .proceed)
        #expect(eval(.init(ifModifiedSince: "not a date")) == .proceed)
        #expect(eval("POST", .init(ifModifiedSince: date)) == .proceed)
        #expect(evaluateConditions(method: "GET", headers: .init(ifModifiedSince: date), etag: etag, lastModifiedMs: nil) == .proceed)
    }

    @Test func ifRange() {
        #expect(ifRangeAllowsRange(nil, etag: etag, lastModifiedMs: lastModified))
        #expect(ifRangeAllowsRange(etag.headerValue, etag: etag, lastModifiedMs: lastModified))
        #expect(!ifRangeAllowsRange("W/" + etag.headerValue, etag: etag, lastModifiedMs: lastModified))  // weak never matches
        #expect(!ifRangeAllowsRange("\"other\"", etag: etag, lastModifiedMs: lastModified))
        #expect(ifRangeAllowsRange(date, etag: etag, lastModifiedMs: lastModified))  // exact second
        #expect(!ifRangeAllowsRange("Sun, 06 Nov 1994 08:49:38 GMT", etag: etag, lastModifiedMs: lastModified))
        #expect(!ifRangeAllowsRange("Sun, 06 Nov 1994 08:49:36 GMT", etag: etag, lastModifiedMs: lastModified))
        #expect(!ifRangeAllowsRange("garbage", etag: etag, lastModifiedMs: lastModified))
        #expect(!ifRangeAllowsRange(etag.headerValue, etag: nil, lastModifiedMs: lastModified))
    }

    @Test func headerLookup() {
        let fields = ["If-None-Match": "\"a\"", "Range": "bytes=0-1"]
        let headers = ConditionalHeaders { fields[$0] }
        #expect(headers == ConditionalHeaders(ifNoneMatch: "\"a\"", range: "bytes=0-1"))
    }

    @Test func planResponseCombinesEverything() {
        func plan(_ method: String, _ h: ConditionalHeaders) -> ResponsePlan {
            planResponse(method: method, headers: h, size: 100, etag: etag, lastModifiedMs: lastModified)
        }
        func plan(_ h: ConditionalHeaders) -> ResponsePlan { plan("GET", h) }
        #expect(plan(.init()) == .full)
        #expect(plan(.init(range: "bytes=0-9")) == .partial(0...9))
        #expect(plan("HEAD", .init(range: "bytes=0-9")) == .full)
        #expect(plan(.init(range: "bytes=0-9,20-29")) == .multiple([0...9, 20...29]))
        #expect(plan(.init(range: "bytes=100-")) == .unsatisfiable)
        #expect(plan(.init(range: "bytes=9-0")) == .full)
        #expect(plan(.init(ifNoneMatch: etag.headerValue, range: "bytes=0-9")) == .notModified)
        #expect(plan(.init(ifRange: etag.headerValue, range: "bytes=0-9")) == .partial(0...9))
        #expect(plan(.init(ifRange: "\"stale\"", range: "bytes=0-9")) == .full)
        #expect(plan(.init(ifRange: date, range: "bytes=0-9")) == .partial(0...9))
        #expect(plan("PUT", .init(ifNoneMatch: "*")) == .preconditionFailed)
    }
}
