import NIOCore
import NIOPosix

/// Flushes the connections answered in one turn of an event loop together, after the turn's
/// reads: a client waiting on many connections is woken once per batch of answers instead of
/// once per answer.
///
/// Waking a sleeping client costs the sender a cross-CPU interrupt; with 64 connections and an
/// answer flushed as soon as it was written, that was 17% of the server's time on B2's 64 KiB
/// ranges (`docs/performance.md`, section 9). One batch per event-loop thread; use it only there.
///
///     wire.write(NIOAny(IOData.byteBuffer(bytes)), promise: nil)
///     FlushBatch.current.add(wire)  // flushed when the loop has handled this turn's events
final class FlushBatch {
    private var pending: [ChannelHandlerContext] = []
    /// Each thread reads and writes only its own batch.
    nonisolated(unsafe) private static let batches = ThreadSpecificVariable<FlushBatch>()

    /// The calling thread's batch.
    static var current: FlushBatch {
        if let batch = batches.currentValue { return batch }
        let batch = FlushBatch()
        batches.currentValue = batch
        return batch
    }

    /// Flushes `context` once the event loop has run the events it is handling now.
    func add(_ context: ChannelHandlerContext) {
        pending.append(context)
        guard pending.count == 1 else { return }
        // The loop runs tasks after the I/O events of the turn that scheduled them.
        let batch = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { batch.value.flush() }
    }

    /// The number of contexts waiting for their flush.
    var count: Int { pending.count }

    private func flush() {
        let contexts = pending
        pending.removeAll(keepingCapacity: true)
        for context in contexts { context.flush() }
    }
}
