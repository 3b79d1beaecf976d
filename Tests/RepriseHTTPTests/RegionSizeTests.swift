import Testing
@testable import RepriseHTTP

@Suite struct RegionSizeTests {
    @Test func fastClientsGetLargerRegionsUpToTheCap() {
        var size = StreamEndpoint.regionSize
        var sizes: [Int] = []
        for _ in 0..<6 {
            size = StreamEndpoint.nextRegionSize(after: size, tookMs: 5)
            sizes.append(size)
        }
        #expect(sizes == [2, 4, 8, 8, 8, 8].map { $0 << 20 })
        #expect(StreamEndpoint.nextRegionSize(after: 1 << 20, tookMs: StreamEndpoint.fastRegionMs) == 2 << 20)
    }

    @Test func aMiddlingClientKeepsItsSize() {
        #expect(StreamEndpoint.nextRegionSize(after: 4 << 20, tookMs: 300) == 4 << 20)
        #expect(StreamEndpoint.nextRegionSize(after: 1 << 20, tookMs: 500) == 1 << 20)
    }

    @Test func aSlowClientGetsSmallRegionsFromThenOn() {
        let slow = StreamEndpoint.nextRegionSize(after: 8 << 20, tookMs: 501)
        #expect(slow == StreamEndpoint.slowRegionSize)
        // Even if it then takes them quickly: accounting and leases keep up with it.
        #expect(StreamEndpoint.nextRegionSize(after: slow, tookMs: 1) == StreamEndpoint.slowRegionSize)
    }
}
