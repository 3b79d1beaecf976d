import NIOCore
import NIOEmbedded
import Testing
@testable import RepriseHTTP

@Suite struct FlushBatchTests {
    final class Tap: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
    }

    @Test func writesLeaveTogetherAfterTheLoopsTurn() throws {
        let loop = EmbeddedEventLoop()
        let channels = [EmbeddedChannel(handler: Tap(), loop: loop), EmbeddedChannel(handler: Tap(), loop: loop)]
        let batch = FlushBatch()
        for turn in 0..<2 {
            for (i, channel) in channels.enumerated() {
                let context = try channel.pipeline.syncOperations.context(handlerType: Tap.self)
                context.write(NIOAny(ByteBuffer(string: "answer \(turn).\(i)")), promise: nil)
                batch.add(context)
            }
            #expect(batch.count == 2)
            for channel in channels { #expect(try channel.readOutbound(as: ByteBuffer.self) == nil) }
            loop.run()
            #expect(batch.count == 0)
            for (i, channel) in channels.enumerated() {
                #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "answer \(turn).\(i)"))
            }
        }
        for channel in channels { _ = try channel.finish() }
    }

    @Test func aClosedChannelInTheBatchDoesNotStopTheOthers() throws {
        let loop = EmbeddedEventLoop()
        let closing = EmbeddedChannel(handler: Tap(), loop: loop)
        let open = EmbeddedChannel(handler: Tap(), loop: loop)
        let batch = FlushBatch()
        let gone = try closing.pipeline.syncOperations.context(handlerType: Tap.self)
        gone.write(NIOAny(ByteBuffer(string: "gone")), promise: nil)
        batch.add(gone)
        let context = try open.pipeline.syncOperations.context(handlerType: Tap.self)
        context.write(NIOAny(ByteBuffer(string: "kept")), promise: nil)
        batch.add(context)
        try closing.close().wait()
        loop.run()
        #expect(!closing.isActive)
        #expect(try open.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "kept"))
        _ = try open.finish()
    }
}
