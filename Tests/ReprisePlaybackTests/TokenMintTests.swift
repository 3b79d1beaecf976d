import Foundation
@testable import ReprisePlayback
import RepriseCore
import RepriseSQLite
import Testing

@Suite(.serialized) struct TokenMintTests {
    /// Callers that all find no token (the owner appeared after start) share one mint: every URL
    /// they build carries the same token, and it is the player's only live one.
    @Test func concurrentFirstUsesShareOneToken() async throws {
        let stage = try await Stage(songs: 2, seconds: 1)
        defer { Task { await stage.tearDown() } }
        let sup = try #require(stage.core.playback?.supervisors["living"])
        let owner = try await stage.core.users.add(name: "ann", password: "password1", role: .user)
        let ids = try await stage.core.catalog.index().values.map(\.id)
        let urls = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (try? await sup.items(for: ids))?.map(\.url) ?? [] } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(urls.count == 8 * ids.count)
        let tokens = Set(urls.compactMap { $0.split(separator: "token=").last.map(String.init) })
        #expect(tokens.count == 1, "the URLs carry \(tokens.count) different tokens")
        let live = try await stage.core.tokens.list(userId: owner.id).filter { $0.label == "player:living" && $0.revokedAt == nil }
        #expect(live.count == 1)
        let secret = try #require(tokens.first.flatMap { Secret.presented($0) })
        #expect(try await stage.core.tokens.authenticate(secret) != nil, "the URLs' token was revoked")
    }
}
