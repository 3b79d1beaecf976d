import Testing
@testable import RepriseCore

@Suite struct SessionPolicyTests {
    let policy = SessionPolicy(webTTL: 60_000, apiTTL: 600_000, minAge: 10_000, extendInterval: 5_000)

    @Test func extendingNeverShortens() {
        // An API session with a long expiry touched with a short TTL keeps its expiry (Ampache's bug).
        #expect(SessionPolicy.extended(current: 1_000_000, now: 100, ttl: 60_000) == 1_000_000)
        #expect(SessionPolicy.extended(current: 1_000, now: 100_000, ttl: 60_000) == 160_000)
        #expect(SessionPolicy.extended(current: 5_000, now: 100, ttl: -7) == 5_000)
    }

    @Test func ttlByKind() {
        #expect(policy.ttl(for: .web) == 60_000)
        #expect(policy.ttl(for: .api) == 600_000)
    }

    @Test func writesAreCoalesced() {
        #expect(!policy.shouldWrite(lastWrittenAt: 1_000, now: 5_999))
        #expect(policy.shouldWrite(lastWrittenAt: 1_000, now: 6_000))
    }

    @Test func liveSessionIsKept() {
        let now: Int64 = 1_000_000
        #expect(policy.decide(SessionFacts(createdAt: 0, expiresAt: now + 1), now: now) == .keep(.live))
        // Expired less than one extend interval ago: another process may hold a newer expiry in memory.
        #expect(policy.decide(SessionFacts(createdAt: 0, expiresAt: now - 4_999), now: now) == .keep(.live))
    }

    @Test func youngSessionIsKeptEvenWhenExpired() {
        let now: Int64 = 1_000_000
        let facts = SessionFacts(createdAt: now - 9_999, expiresAt: now - 9_000 - 5_000)
        #expect(policy.decide(facts, now: now) == .keep(.grace))
    }

    @Test func leasedSessionIsKept() {
        let now: Int64 = 1_000_000
        #expect(policy.decide(SessionFacts(createdAt: 0, expiresAt: 0, leased: true), now: now) == .keep(.lease))
    }

    @Test func ruleMaySpareButNeverCondemn() {
        let now: Int64 = 1_000_000
        #expect(policy.decide(SessionFacts(createdAt: 0, expiresAt: 0, ruleSpares: true), now: now) == .keep(.rule))
        #expect(policy.decide(SessionFacts(createdAt: 0, expiresAt: 0), now: now) == .collect)
        // A young session stays whatever the rule says.
        #expect(policy.decide(SessionFacts(createdAt: now, expiresAt: 0, ruleSpares: false), now: now) == .keep(.grace))
    }

    @Test func collectsOnceOldAndExpiredBeyondTheSlack() {
        let now: Int64 = 1_000_000
        #expect(policy.decide(SessionFacts(createdAt: now - 10_000, expiresAt: now - 5_001), now: now) == .collect)
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [("90", Int64(90_000)), ("90s", 90_000), ("5m", 300_000), ("1h", 3_600_000), ("30d", 2_592_000_000), ("250ms", 250), (" 2m ", 120_000)])
    func parses(text: String, ms: Int64) {
        #expect(DurationText.milliseconds(text) == ms)
    }

    @Test(arguments: ["", "m", "5x", "-5s", "1.5h", "5 m", "h5", "99999999999999999999d"])
    func rejects(text: String) {
        #expect(DurationText.milliseconds(text) == nil)
    }

    @Test func formats() {
        #expect(DurationText.format(ms: 300_000) == "5m")
        #expect(DurationText.format(ms: 1_500) == "1500ms")
        #expect(DurationText.format(ms: 86_400_000) == "1d")
    }
}

@Suite struct SecretTests {
    @Test func secretsAreLongRandomAndPrefixed() {
        let a = Secret.generate(.session), b = Secret.generate(.session)
        #expect(a.plaintext != b.plaintext)
        #expect(a.plaintext.hasPrefix("rs_"))
        #expect(a.plaintext.count == 3 + 43)  // 256 bits in base64url
        #expect(Secret.generate(.streamToken).plaintext.hasPrefix("rt_"))
    }

    @Test func descriptionNeverShowsTheSecret() {
        let s = Secret.generate(.streamToken)
        #expect(!"\(s)".contains(s.plaintext.dropFirst(3)))
        #expect(!String(reflecting: s).contains(s.plaintext.dropFirst(3)))
    }

    @Test func presentedChecksShape() {
        let s = Secret.generate(.session)
        #expect(Secret.presented(s.plaintext)?.kind == .session)
        #expect(Secret.presented(s.plaintext)?.hash == s.hash)
        #expect(Secret.presented("rs_short") == nil)
        #expect(Secret.presented("xx_" + String(repeating: "a", count: 43)) == nil)
        #expect(Secret.presented("rt_" + String(repeating: "!", count: 43)) == nil)
    }

    @Test func hashesCompareInConstantTimeAndCorrectly() {
        let a = Secret.generate(.session).hash
        var bytes = a.bytes
        bytes[31] ^= 1
        #expect(a.constantTimeEquals(a))
        #expect(!a.constantTimeEquals(SecretHash(bytes)))
        #expect(!a.constantTimeEquals(SecretHash([1, 2])))
        #expect(a.bytes.count == 32)
    }

    @Test func redactorHidesCredentials() {
        let t = Secret.generate(.streamToken).plaintext
        #expect(Redactor.redact("/stream/1?token=\(t)&x=1") == "/stream/1?token=<redacted>&x=1")
        #expect(Redactor.redact("/play/index.php?ssid=abc&oid=2") == "/play/index.php?ssid=<redacted>&oid=2")
        #expect(Redactor.redact("Bearer \(t)") == "Bearer rt_<redacted>")
        #expect(Redactor.redact("mytoken=5") == "mytoken=5")
    }
}

@Suite struct ManualClockTests {
    @Test func sleeperWakesOnlyWhenTimePasses() async throws {
        let clock = ManualClock()
        let woke = Task { try await clock.sleep(for: .seconds(10)); return true }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(9))
        await clock.waitForSleepers(1)  // still asleep
        clock.advance(by: .seconds(1))
        #expect(try await woke.value)
    }

    @Test func cancellationWakesSleeper() async {
        let clock = ManualClock()
        let t = Task { try await clock.sleep(for: .seconds(10)) }
        await clock.waitForSleepers(1)
        t.cancel()
        await #expect(throws: CancellationError.self) { try await t.value }
    }
}
