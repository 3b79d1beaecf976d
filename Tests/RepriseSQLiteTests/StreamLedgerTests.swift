import RepriseSync
import Foundation
import GRDB
import RepriseCore
import Synchronization
import Testing
@testable import RepriseSQLite
@testable import RepriseStorage

@Suite struct StreamLedgerTests {
    /// The observer runs at the same stack depth after thousands of streams: nothing wraps it per call.
    @Test func observerDoesNotGrowPerStream() throws {
        let f = try Fixture()
        let ledger = StreamLedger(db: f.db, clock: f.clock, keepRecent: 10)
        let depths = Locked<[Int]>([])
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

    /// Flushed rows hold every field of the record, nulls included.
    @Test func flushWritesEveryField() async throws {
        let f = try Fixture()
        let ledger = StreamLedger(db: f.db, clock: f.clock)
        f.clock.set(ms: 1_700_000_000_000)
        let a = ledger.start(songId: 4, userId: 2, sessionId: nil, tokenId: 9, player: "mpd:living room", range: 10...19, bytesExpected: 10)
        ledger.progress(a, bytes: 4)
        f.clock.advance(ms: 250)
        ledger.finish(a, reason: "client went away")
        let b = ledger.start(songId: 5, userId: nil, sessionId: 77, tokenId: nil, player: nil, range: 0...0, bytesExpected: 1)
        ledger.progress(b, bytes: 1)
        ledger.finish(b)
        try await ledger.flush()
        let rows = try await f.db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM streams ORDER BY song_id").map { r -> [String] in
                ["id", "song_id", "user_id", "session_id", "token_id", "player", "range_start", "range_end", "bytes_expected", "bytes_sent", "started_at", "finished_at", "status", "reason"]
                    .map { (r[$0] as DatabaseValue).description }
            }
        }
        #expect(rows == [
            ["\(a)", "4", "2", "NULL", "9", "\"mpd:living room\"", "10", "19", "10", "4", "1700000000000", "1700000000250", "\"aborted\"", "\"client went away\""],
            ["\(b)", "5", "NULL", "77", "NULL", "NULL", "0", "0", "1", "1", "1700000000250", "1700000000250", "\"completed\"", "NULL"],
        ])
    }

    /// An id written again (a thousand streams in one millisecond, or a clock stepped back) updates its row.
    @Test func aRepeatedIdUpdatesItsRow() async throws {
        let f = try Fixture()
        let ledger = StreamLedger(db: f.db, clock: f.clock)
        f.clock.set(ms: 1_700_000_000_000)
        let first = ledger.start(songId: 4, userId: 2, sessionId: nil, tokenId: 9, player: nil, range: 0...9, bytesExpected: 10)
        ledger.finish(first)
        try await ledger.flush()
        var ids: [Int64] = []
        for n in 0..<1000 {
            let id = ledger.start(songId: Int64(5 + n), userId: 3, sessionId: nil, tokenId: 8, player: nil, range: 0...0, bytesExpected: 1)
            ledger.finish(id)
            ids.append(id)
        }
        #expect(ids.last == first)
        try await ledger.flush()
        let (count, song) = try await f.db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM streams")!, try Int64.fetchOne(db, sql: "SELECT song_id FROM streams WHERE id = ?", arguments: [first]))
        }
        #expect(count == 1000)
        #expect(song == 1004) // the last stream, whose id wrapped around to the first one's
    }

    /// H22: many range requests of one playback are one row; the table is bounded by size too.
    @Test func rangesOfOnePlaybackShareARowAndTheTableIsBounded() async throws {
        let f = try Fixture()
        let ledger = StreamLedger(db: f.db, clock: f.clock, maxRows: 50)
        f.clock.set(ms: 1_700_000_000_000)
        for chunk in 0..<200 {
            let start = Int64(chunk) * 65_536
            let id = ledger.start(songId: 1, userId: 1, sessionId: nil, tokenId: 7, player: nil, range: start...(start + 65_535), bytesExpected: 65_536)
            ledger.progress(id, bytes: 65_536)
            f.clock.advance(ms: 5)
            ledger.finish(id)
        }
        // The same song with another token is another playback.
        let other = ledger.start(songId: 1, userId: 1, sessionId: nil, tokenId: 8, player: nil, range: 0...9, bytesExpected: 10)
        ledger.finish(other)
        try await ledger.flush()
        let rows = try await f.db.read { db in
            try Row.fetchAll(db, sql: "SELECT token_id, range_start, range_end, bytes_sent, status FROM streams ORDER BY token_id")
        }
        #expect(rows.count == 2)
        #expect(rows[0]["token_id"] as Int64 == 7 && rows[0]["range_start"] as Int64 == 0 && rows[0]["range_end"] as Int64 == 200 * 65_536 - 1)
        #expect(rows[0]["bytes_sent"] as Int64 == 200 * 65_536 && rows[0]["status"] as String == "completed")
        #expect(rows[1]["token_id"] as Int64 == 8 && rows[1]["status"] as String == "aborted")
        // A later playback of the same song after a pause is a row of its own.
        f.clock.advance(ms: 120_000)
        let again = ledger.start(songId: 1, userId: 1, sessionId: nil, tokenId: 7, player: nil, range: 0...9, bytesExpected: 10)
        ledger.progress(again, bytes: 10)
        ledger.finish(again)
        // And many songs: the table keeps the newest 50 rows.
        for song in 2...100 {
            f.clock.advance(ms: 1)
            let id = ledger.start(songId: Int64(song), userId: 1, sessionId: nil, tokenId: 7, player: nil, range: 0...0, bytesExpected: 1)
            ledger.finish(id)
        }
        try await ledger.flush()
        let (count, newest) = try await f.db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM streams")!, try Int64.fetchOne(db, sql: "SELECT max(song_id) FROM streams")!)
        }
        #expect(count == 50)
        #expect(newest == 100)
    }
}
