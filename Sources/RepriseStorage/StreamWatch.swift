import Logging
import RepriseCore
import ServiceLifecycle

/// Ends streams in progress whose token was revoked or whose user was disabled, within `everyMs`:
/// revocation reaches a song that is already playing, from the API or from the CLI of another process.
///
/// An expired token does not end its streams: a player's rotated token keeps the song playing.
public struct StreamWatch<C: Clock>: Service where C.Duration == Duration {
    let ledger: StreamLedger
    let tokens: any StreamTokenRepository
    let users: any UserRepository
    let clock: C
    let everyMs: Int64
    let logger: Logger

    public init(ledger: StreamLedger, tokens: any StreamTokenRepository, users: any UserRepository, clock: C, everyMs: Int64 = 500, logger: Logger) {
        (self.ledger, self.tokens, self.users, self.clock, self.everyMs, self.logger) = (ledger, tokens, users, clock, everyMs, logger)
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: .milliseconds(everyMs)) }
            } catch {
                return
            }
            do {
                try await check()
            } catch {
                logger.warning("stream watch failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One look at the active streams; returns how many were cut.
    @discardableResult
    public func check() async throws -> Int {
        let active = ledger.active()
        guard !active.isEmpty else { return 0 }
        var revoked: Set<Int64> = []
        for id in Set(active.compactMap(\.tokenId)) where try await tokens.find(id: id).map({ $0.revokedAt != nil }) ?? true {
            revoked.insert(id)
        }
        let disabled = Set(try await users.list().filter(\.disabled).map(\.id))
        var cut = 0
        for r in active {
            let why: String? =
                if let t = r.tokenId, revoked.contains(t) { "the stream token was revoked" }
                else if let u = r.userId, disabled.contains(u) { "the user was disabled" }
                else { nil }
            if let why, ledger.cut(r.id, reason: why) {
                cut += 1
                logger.notice("stream cut", metadata: ["stream.id": "\(r.id)", "song.id": "\(r.songId)", "reason": "\(why)"])
            }
        }
        return cut
    }
}
