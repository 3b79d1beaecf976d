import Foundation
import RepriseCore
import Synchronization
import Testing
@testable import RepriseStore

@Suite struct StreamLedgerTests {
    /// The observer runs at the same stack depth after thousands of streams: nothing wraps it per call.
    @Test func observerDoesNotGrowPerStream() throws {
        let f = try Fixture()
        let ledger = StreamLedger(db: f.db, clock: f.clock, keepRecent: 10)
        let depths = Mutex<[Int]>([])
        ledger.observe { _ in depths.withLock { $0.append(Thread.callStackSymbols.count) } }
        for _ in 0..<2_000 {
            let id = ledger.start(songId: 1, userId: 1, sessionId: nil, tokenId: 7, player: nil, range: 0...9, bytesExpected: 10)
            ledger.progress(id, bytes: 10)
            ledger.finish(id)
        }
        let d = depths.withLock { $0 }
        #expect(d.count == 4_000)
        #expect(d.last == d[1], "stack depth at the observer grew from \(d[1]) to \(d.last ?? 0)")
        #expect(ledger.recent().count == 10)
        #expect(ledger.active().isEmpty)
        #expect(ledger.totals().completed == 2_000)
        #expect(!ledger.leases.contains(.token(7)))
    }

    /// `recent` holds the latest `keepRecent` finished streams, oldest first, at every count.
    @Test func recentKeepsTheLatestInOrder() throws {
        let f = try Fixture()
        let ledger = StreamLedger(db: f.db, clock: f.clock, keepRecent: 5)
        var finished: [Int64] = []
        for n in 1...23 {
            let id = ledger.start(songId: Int64(n), userId: 1, sessionId: nil, tokenId: nil, player: nil, range: 0...0, bytesExpected: 1)
            ledger.finish(id)
            finished.append(Int64(n))
            #expect(ledger.recent().map(\.songId) == Array(finished.suffix(5)), "after \(n) streams")
        }
    }
}
