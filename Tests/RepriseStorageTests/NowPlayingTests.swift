import RepriseCore
import Testing
@testable import RepriseStorage

/// Which streams are plays, and what the now-playing board lists.
@Suite struct NowPlayingTests {
    func record(_ status: StreamRecord.Status, player: String? = "living", user: Int64? = 1, range: ClosedRange<Int64>, started: Int64 = 0) -> StreamRecord {
        StreamRecord(id: 1, songId: 7, userId: user, sessionId: nil, tokenId: 1, player: player, rangeStart: range.lowerBound, rangeEnd: range.upperBound,
                     bytesExpected: range.count == 0 ? 0 : Int64(range.upperBound - range.lowerBound + 1), bytesSent: 0, startedAt: started, finishedAt: started + 1, status: status, reason: nil)
    }

    @Test func aPlayIsASupervisedStreamThatReachedTheLastByte() {
        #expect(StreamPlays.counts(record(.completed, range: 0...999), songSize: 1_000))
        // The head of a file read in ranges is no play; its tail is the one.
        #expect(!StreamPlays.counts(record(.completed, range: 0...499), songSize: 1_000))
        #expect(StreamPlays.counts(record(.completed, range: 500...999), songSize: 1_000))
        #expect(!StreamPlays.counts(record(.aborted, range: 0...999), songSize: 1_000))
        #expect(!StreamPlays.counts(record(.completed, player: nil, range: 0...999), songSize: 1_000), "a client's download is not a player's play")
        #expect(!StreamPlays.counts(record(.completed, user: nil, range: 0...999), songSize: 1_000))
        #expect(StreamPlays.windowMs(durationMs: 240_000) == 120_000 && StreamPlays.windowMs(durationMs: 1_000) == 30_000)
    }

    @Test func theBoardListsAnnouncementsThenStreamsAndForgetsOldOnes() {
        let board = NowPlayingBoard(keepMs: 10_000)
        board.announce(NowPlaying(userId: 1, user: "ann", songId: 3, player: "phone", since: 1_000))
        board.announce(NowPlaying(userId: 1, user: "ann", songId: 4, player: "phone", since: 2_000))
        let streams = [record(.active, player: "living", range: 0...9, started: 1_500), record(.active, player: nil, user: 2, range: 0...9, started: 1_800)]
        let names: (Int64) -> String? = { [1: "ann", 2: "bob"][$0] }
        let now = board.list(now: 3_000, streams: streams, userName: names)
        #expect(now.map(\.player) == ["phone", "stream", "living"], "\(now)")
        #expect(now.first?.songId == 4, "one entry per user and player: the latest")
        #expect(board.list(now: 13_000, streams: [], userName: names).isEmpty)
    }
}
