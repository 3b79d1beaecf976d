import Logging
import RepriseCore
import ServiceLifecycle

/// Runs GC every `interval ± jitter` inside `reprise serve`, until graceful shutdown: the
/// scheduler, over whatever engine collects.
public struct GCService<C: Clock>: Service where C.Duration == Duration {
    let collector: any GarbageCollecting
    let settings: GCSettings
    let clock: C
    let logger: Logger
    /// Picks the jitter for each wait; injectable for tests.
    let jitter: @Sendable (Int64) -> Int64

    public init(collector: any GarbageCollecting, settings: GCSettings, clock: C, logger: Logger = Logger(label: "reprise.gc"), jitter: @escaping @Sendable (Int64) -> Int64 = { j in j > 0 ? Int64.random(in: -j...j) : 0 }) {
        self.collector = collector
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.jitter = jitter
    }

    /// The wait before the next pass, ms; never below 10 ms.
    func nextDelayMs() -> Int64 { max(10, settings.interval + jitter(settings.jitter)) }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown {
                    try await clock.sleep(for: .milliseconds(nextDelayMs()))
                }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully { return }
            do {
                _ = try await collector.runOnce()
            } catch {
                // A failed pass deletes nothing it could not re-check; the next one tries again.
                logger.error("gc run failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// GC settings, all in ms except the batch size.
public struct GCSettings: Sendable, Equatable {
    public var interval: Int64
    public var jitter: Int64
    public var batchSize: Int
    /// Revoked or expired tokens are purged this long after.
    public var tokenRetention: Int64

    public init(interval: Int64 = 60_000, jitter: Int64 = 5_000, batchSize: Int = 500, tokenRetention: Int64 = 30 * 86_400_000) {
        self.interval = interval
        self.jitter = jitter
        self.batchSize = batchSize
        self.tokenRetention = tokenRetention
    }
}
