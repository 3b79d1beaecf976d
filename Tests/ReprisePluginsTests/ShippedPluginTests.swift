import Foundation
import LuaHost
import RepriseCore
@testable import ReprisePlugins
import Testing

/// The plugins in `plugins/` and `plugins/examples/`, as users enable them.
@Suite struct ShippedPluginTests {
    let folders = [shippedPlugins, shippedPlugins + "/examples"]

    /// Backends are found where policy plugins are (`<folder>/backends/<name>.lua`), and a name cannot leave the folder.
    @Test func backendFilesAreFoundInThePluginFolders() {
        #expect(PluginDiscovery.backendFile(named: "mpd", in: ["/nonexistent", shippedPlugins]) == shippedPlugins + "/backends/mpd.lua")
        #expect(PluginDiscovery.backendFile(named: "vlc_http", in: [shippedPlugins]) != nil)
        #expect(PluginDiscovery.backendFile(named: "nothing", in: [shippedPlugins]) == nil)
        #expect(PluginDiscovery.backendFile(named: "../default_tokens", in: [shippedPlugins + "/examples"]) == nil)
    }

    @Test func defaultsBehaveLikeTheBuiltIns() throws {
        let host = try makeHost(folders, PluginSettings.defaultEnabled)
        #expect(host.report().map(\.name) == ["default_tokens", "default_expiry"])
        #expect(host.issue(TokenIssueContext(user: Facts.user, label: "p", requestedTTLSeconds: nil)) == .issue(ttlSeconds: nil))
        #expect(host.issue(TokenIssueContext(user: Facts.user, label: "p", requestedTTLSeconds: 90)) == .issue(ttlSeconds: 90))
        #expect(host.authorizeFixture() == .allow)
        #expect(host.ttl(for: Facts.session(kind: .web)) == nil)
        #expect(host.ttl(for: Facts.session(kind: .api)) == nil)
        #expect(host.extend(Facts.session(), now: 50_000) == nil)
        #expect(host.spareExpired(Facts.session(), now: 50_000) == false)
        #expect(host.report().allSatisfy { $0.errors == 0 })
        // Nothing asks to see expired sessions, so GC may sweep them in SQL.
        #expect(!host.judgesExpired && !host.observesCollections)
    }

    @Test func defaultConfigKnobs() throws {
        let host = try makeHost(folders, PluginSettings.defaultEnabled, config: [
            "default_tokens": ["max_ttl_seconds": 3600],
            "default_expiry": ["ttl": ["web": "2h", "api": 600]],
        ])
        #expect(host.issue(TokenIssueContext(user: Facts.user, label: "p", requestedTTLSeconds: nil)) == .issue(ttlSeconds: 3600))
        #expect(host.issue(TokenIssueContext(user: Facts.user, label: "p", requestedTTLSeconds: 60)) == .issue(ttlSeconds: 60))
        #expect(host.ttl(for: Facts.session(kind: .web)) == 7_200_000)
        #expect(host.ttl(for: Facts.session(kind: .api)) == 600_000)
        #expect(throws: PluginError.self) {
            try makeHost(folders, PluginSettings.defaultEnabled, config: ["default_expiry": ["ttl": ["web": "soon"]]])
        }
    }

    /// 2023-11-14 22:13:20 UTC.
    static let lateEvening: Int64 = 1_700_000_000_000
    /// 2023-11-14 12:00:00 UTC.
    static let noon: Int64 = 1_699_963_200_000

    @Test func quietHoursDenyInsideTheWindowExceptListedTokens() throws {
        let clock = ManualWallClock(Self.lateEvening)
        let host = try makeHost(folders, ["default_tokens", "quiet_hours"], config: [
            "quiet_hours": ["from": "22:00", "to": "07:00", "allow_labels": ["alarm"], "allow_token_ids": [99], "utc_offset_minutes": 0, "reason": "quiet hours"],
        ], clock: clock)
        #expect(host.authorizeFixture() == .deny(reason: "quiet hours"))
        #expect(host.authorizeFixture(token: Facts.token(label: "alarm")) == .allow)
        #expect(host.authorizeFixture(token: Facts.token(id: 99)) == .allow)
        clock.set(ms: Self.noon)
        #expect(host.authorizeFixture() == .allow)
        clock.set(ms: Self.noon - 6 * 3_600_000) // 06:00, still inside a window that wraps midnight
        #expect(host.authorizeFixture() == .deny(reason: "quiet hours"))
        clock.set(ms: Self.noon - 5 * 3_600_000) // 07:00: the end is exclusive
        #expect(host.authorizeFixture() == .allow)
    }

    @Test func quietHoursWithAnOffsetAndADaytimeWindow() throws {
        let clock = ManualWallClock(Self.noon) // 13:00 at UTC+1
        let host = try makeHost(folders, ["quiet_hours"], config: [
            "quiet_hours": ["from": "12:30", "to": "14:00", "utc_offset_minutes": 60],
        ], clock: clock)
        guard case .deny(let reason) = host.authorizeFixture() else { Issue.record("allowed at 13:00"); return }
        #expect(reason.contains("12:30") && reason.contains("14:00"))
        clock.set(ms: Self.noon + 3_600_000) // 14:00 local
        #expect(host.authorizeFixture() == .allow)
    }

    @Test func quietHoursRejectBadConfig() throws {
        do {
            _ = try makeHost(folders, ["quiet_hours"], config: ["quiet_hours": ["from": "22:00", "to": "25:00"]])
            Issue.record("loaded")
        } catch let error as PluginError {
            #expect(error.message.contains("quiet_hours.lua: self-check failed: plugins.config.quiet_hours.to must be HH:MM"))
        }
    }

    @Test func playerTTLGivesMatchingAgentsLongerLives() throws {
        let host = try makeHost(folders, ["default_tokens", "default_expiry", "player_ttl"], config: [
            "default_expiry": ["ttl": ["web": "1h"]],
            "player_ttl": ["agents": ["^mpd", "vlc"], "ttl": "30d", "spare_for": "7d"],
        ])
        let month: Int64 = 30 * 86_400_000
        #expect(host.ttl(for: Facts.session(agent: "MPD/0.23.5")) == month)
        #expect(host.ttl(for: Facts.session(agent: nil, client: "VLC media player")) == month)
        #expect(host.ttl(for: Facts.session(agent: "Firefox")) == 3_600_000)
        #expect(host.ttl(for: Facts.session(agent: nil)) == 3_600_000)
        // Past expiry: a player session is spared for spare_for, then collected; others go at once.
        #expect(host.spareExpired(Facts.session(agent: "mpd", expires: 10_000), now: 10_000 + 86_400_000) == true)
        #expect(host.spareExpired(Facts.session(agent: "mpd", expires: 10_000), now: 10_000 + 8 * 86_400_000) == false)
        #expect(host.spareExpired(Facts.session(agent: "Firefox", expires: 10_000), now: 20_000) == false)
        #expect(host.report().allSatisfy { $0.errors == 0 })
    }
}
