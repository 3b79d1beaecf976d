import Foundation
import GRDB
import RepriseCore
import Testing
@testable import RepriseSQLite
@testable import RepriseStorage

@Suite struct SessionStoreTests {
    @Test func createStoresOnlyTheHash() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web, agent: "curl")
        #expect(info.expiresAt == f.clock.nowMs() + 60_000)
        let stored = try await f.db.read { db in try Data.fetchOne(db, sql: "SELECT hash FROM sessions")! }
        #expect(Array(stored) == secret.hash.bytes)
        let dump = try await f.db.read { db in try String.fetchAll(db, sql: "SELECT quote(hash) || coalesce(agent, '') FROM sessions").joined() }
        #expect(!dump.contains(secret.plaintext))
    }

    @Test func authenticateExtendsInMemoryAndCoalescesWrites() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 1_000)
        let a = try #require(try await f.sessions.authenticate(secret))
        #expect(a.expiresAt == info.createdAt + 1_000 + 60_000)
        // Within extend_interval: memory moves, the row does not.
        let rowExpiry: Int64 = try #require(try f.sessionRow(info.id))["expires_at"]
        #expect(rowExpiry == info.expiresAt)
        f.clock.advance(ms: 4_000)
        let b = try #require(try await f.sessions.authenticate(secret))
        let rowAfter: Int64 = try #require(try f.sessionRow(info.id))["expires_at"]
        #expect(rowAfter == b.expiresAt)
    }

    @Test func expiredSessionIsRefused() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, _) = try await f.sessions.create(user: u, kind: .web)
        f.clock.advance(ms: 60_001)
        #expect(try await f.sessions.authenticate(secret) == nil)
    }

    @Test func logoutTakesEffectAtOnce() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, _) = try await f.sessions.create(user: u, kind: .web)
        #expect(try await f.sessions.authenticate(secret) != nil)
        #expect(try await f.sessions.logout(secret))
        #expect(try await f.sessions.authenticate(secret) == nil)
        #expect(try f.sessionCount() == 0)
    }

    @Test func deletionByAnotherProcessIsSeenAfterRevalidation() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        let other = try RepriseDatabase.open(path: f.path)  // a second process's connection
        try await other.write { db in try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [info.id]) }
        f.clock.advance(ms: 1_000)
        #expect(try await f.sessions.authenticate(secret) == nil)
    }

    @Test func streamTokenIsNotASession() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (token, _) = try await f.tokens.issue(user: u, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        #expect(try await f.sessions.authenticate(token) == nil)
        let forged = try #require(Secret.presented("rs_" + token.plaintext.dropFirst(3)))
        #expect(try await f.sessions.authenticate(forged) == nil)
    }

    @Test func ruleTTLAndExtensionApplyButNeverShorten() async throws {
        let f = try Fixture(rules: FixedRules(ttl: 120_000, extendTo: 1, spare: false))
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.sessions.create(user: u, kind: .web)
        #expect(info.expiresAt == info.createdAt + 120_000)
        f.clock.advance(ms: 10_000)
        let a = try #require(try await f.sessions.authenticate(secret))
        #expect(a.expiresAt == info.createdAt + 10_000 + 120_000)
    }

    @Test func disabledUserLosesSessions() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, _) = try await f.sessions.create(user: u, kind: .web)
        try await f.db.write { db in try db.execute(sql: "UPDATE users SET disabled = 1") }
        f.clock.advance(ms: 1_000)
        #expect(try await f.sessions.authenticate(secret) == nil)
    }
}

@Suite struct StreamTokenStoreTests {
    @Test func issueAuthenticateRevoke() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.tokens.issue(user: u, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        #expect(info.expiresAt == nil)
        #expect(try await f.tokens.authenticate(secret)?.token.id == info.id)
        #expect(try await f.tokens.revoke(id: info.id))
        #expect(try await f.tokens.authenticate(secret) == nil)
        #expect(try await f.tokens.revoke(id: info.id) == false)
    }

    @Test func expiryIsHonoured() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.tokens.issue(user: u, label: "short", requestedTTLSeconds: 5, policy: DefaultTokenPolicy())
        #expect(info.expiresAt == info.createdAt + 5_000)
        f.clock.advance(ms: 4_999)
        #expect(try await f.tokens.authenticate(secret) != nil)
        f.clock.advance(ms: 1)
        #expect(try await f.tokens.authenticate(secret) == nil)
    }

    @Test func policyCanDenyOrSetTTL() async throws {
        struct Policy: TokenPolicy {
            func issue(_ ctx: TokenIssueContext) -> TokenIssueDecision { ctx.label == "bad" ? .deny(reason: "no") : .issue(ttlSeconds: 60) }
            func authorize(token: StreamTokenInfo, user: User, request: StreamRequestFacts, songId: Int64?, song: Song?) -> AuthorizeDecision { .allow }
        }
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let error = await #expect(throws: RepriseError.self) { try await f.tokens.issue(user: u, label: "bad", requestedTTLSeconds: nil, policy: Policy()) }
        #expect(error?.code == .forbidden)
        let (_, info) = try await f.tokens.issue(user: u, label: "ok", requestedTTLSeconds: nil, policy: Policy())
        #expect(info.expiresAt == info.createdAt + 60_000)
    }

    /// An unknown token is remembered as unknown for the revalidation interval, then looked up again.
    @Test func unknownTokensAreRememberedBriefly() async throws {
        let f = try Fixture()
        let user = try await f.users.add(name: "ann", password: "password1", role: .user)
        let secret = Secret.generate(.streamToken)
        #expect(try await f.tokens.authenticate(secret) == nil)
        // Another process inserts that very token: this one keeps answering "unknown" until the interval passes.
        try await f.db.write { db in
            try db.execute(sql: "INSERT INTO stream_tokens (hash, user_id, label, created_at) VALUES (?, ?, 'x', ?)", arguments: [Data(secret.hash.bytes), user.id, f.clock.nowMs()])
        }
        #expect(try await f.tokens.authenticate(secret) == nil)
        f.clock.advance(ms: 1_000)
        #expect(try await f.tokens.authenticate(secret)?.user.name == "ann")
    }

    @Test func userCanRevokeOnlyOwnTokens() async throws {
        let f = try Fixture()
        let ann = try await f.users.add(name: "ann", password: "password1", role: .user)
        let bob = try await f.users.add(name: "bob", password: "password1", role: .user)
        let (_, info) = try await f.tokens.issue(user: ann, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        #expect(try await f.tokens.revoke(id: info.id, userId: bob.id) == false)
        #expect(try await f.tokens.list(userId: bob.id).isEmpty)
        #expect(try await f.tokens.list(userId: ann.id).count == 1)
    }

    /// A token in steady use is reloaded once in the background before its cached answer ages
    /// out, so no request finds it stale; another process's revocation is still seen within the interval.
    @Test func cachedAnswersAreRefreshedAheadOfTheInterval() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.tokens.issue(user: u, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        #expect(try await f.tokens.authenticate(secret) != nil)
        let loaded = f.tokens.reloads.load(ordering: .relaxed)

        f.clock.advance(ms: 700)  // fresh: no reload
        guard case .valid = f.tokens.authenticateCached(secret) else { Issue.record("not valid at 700 ms"); return }
        await f.tokens.refreshed()
        #expect(f.tokens.reloads.load(ordering: .relaxed) == loaded)

        f.clock.advance(ms: 100)  // 800 ms: answered from memory, and one reload starts however many ask
        for _ in 0..<20 {
            guard case .valid = f.tokens.authenticateCached(secret) else { Issue.record("not valid at 800 ms"); return }
        }
        await f.tokens.refreshed()
        #expect(f.tokens.reloads.load(ordering: .relaxed) == loaded + 1)

        f.clock.advance(ms: 700)  // 1,500 ms: past the first check, within the refreshed one
        guard case .valid = f.tokens.authenticateCached(secret) else { Issue.record("stale at 1,500 ms"); return }

        // Another process revokes it: the next refresh sees it.
        try await f.db.write { db in
            try db.execute(sql: "UPDATE stream_tokens SET revoked_at = ? WHERE id = ?", arguments: [f.clock.nowMs(), info.id])
        }
        f.clock.advance(ms: 100)  // 1,600 ms: 800 ms after the refresh
        _ = f.tokens.authenticateCached(secret)
        await f.tokens.refreshed()
        guard case .invalid = f.tokens.authenticateCached(secret) else { Issue.record("revocation not seen"); return }
        #expect(try await f.tokens.authenticate(secret) == nil)
    }

    /// `last_used_at` comes due while answers come from memory: the background reload writes it.
    @Test func lastUsedIsWrittenInTheBackgroundWhenDue() async throws {
        let f = try Fixture()
        let tokens = StreamTokenStore(db: f.db, clock: f.clock, touchIntervalMs: 2_000)
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await tokens.issue(user: u, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        _ = try await tokens.authenticate(secret)
        let first = try #require(try await tokens.find(id: info.id)?.lastUsedAt)
        for _ in 0..<3 {  // to 2,400 ms, each step answered from memory
            f.clock.advance(ms: 800)
            guard case .valid = tokens.authenticateCached(secret) else { Issue.record("not valid"); return }
            await tokens.refreshed()
        }
        #expect(try await tokens.find(id: info.id)?.lastUsedAt == first + 2_400)
    }

    /// Revoking while a background reload is in flight leaves the token refused, whichever finishes
    /// first (the reload may have read the row before the revocation was written).
    @Test func revokingDropsWhatAConcurrentReloadRead() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.tokens.issue(user: u, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        _ = try await f.tokens.authenticate(secret)
        f.clock.advance(ms: 800)
        _ = f.tokens.authenticateCached(secret)  // a reload starts
        #expect(try await f.tokens.revoke(id: info.id))
        await f.tokens.refreshed()
        if case .valid = f.tokens.authenticateCached(secret) { Issue.record("revoked token still valid") }
        #expect(try await f.tokens.authenticate(secret) == nil)
    }

    @Test func lastUsedIsRecordedCoalesced() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "password1", role: .user)
        let (secret, info) = try await f.tokens.issue(user: u, label: "mpd", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        _ = try await f.tokens.authenticate(secret)
        let first = try await f.tokens.find(id: info.id)?.lastUsedAt
        #expect(first == f.clock.nowMs())
        f.clock.advance(ms: 1_000)
        _ = try await f.tokens.authenticate(secret)
        #expect(try await f.tokens.find(id: info.id)?.lastUsedAt == first)
    }
}
