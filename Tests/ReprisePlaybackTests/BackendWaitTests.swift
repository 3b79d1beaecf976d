import Foundation
import Logging
import LuaHost
import MPDClient
import MPDTestSupport
@testable import ReprisePlayback
import RepriseCore
import Testing

/// The shipped MPD backend's `wait` (MPD's `idle`) against a real MPD: it returns when another
/// client changes the queue, and a command does not wait behind it.
@Suite struct BackendWaitTests {
    static let plugins = Stage.repoRoot.appendingPathComponent("plugins").path

    /// Runs `wait(ms: 20_000)` and reports when it returned.
    final class Waiter: @unchecked Sendable {
        let task: Task<Bool, Never>
        init(_ backend: LuaBackend) { task = Task { await backend.wait(ms: 20_000) } }
    }

    @Test func waitWakesOnAnotherClientsChangeAndYieldsToCommands() async throws {
        let mpd = try await MPDServer.start()
        defer { Task { await mpd.shutdown() } }
        let backend = try LuaBackend(
            player: PlayerConfig(name: "w", backend: "mpd", owner: "ann", settings: ["host": "127.0.0.1", "port": "\(mpd.port)"]),
            pluginPaths: [Self.plugins], limits: LuaLimits(), logger: Logger(label: "test"))
        try await backend.connect()
        defer { Task { await backend.disconnect() } }
        let other = try await MPDConnection.connect(host: "127.0.0.1", port: mpd.port)
        defer { other.close() }

        // Another client's add ends the wait long before its 20 s.
        let started = ContinuousClock.now
        let waiter = Waiter(backend)
        try await Task.sleep(for: .milliseconds(300))  // letting the real idle reach MPD
        _ = try await other.add(uri: "http://127.0.0.1:9/x.flac")
        #expect(await waiter.task.value)
        #expect(ContinuousClock.now - started < .seconds(10), "the wait did not wake on the change")

        // A command while waiting: it runs at once (the wait is interrupted), and so does the wait's end.
        let second = Waiter(backend)
        try await Task.sleep(for: .milliseconds(300))  // letting the real idle reach MPD
        let before = ContinuousClock.now
        let status = try await backend.status()
        #expect(status.queueLength == 1)
        #expect(status.queueVersion != nil)
        #expect(ContinuousClock.now - before < .seconds(10), "the command waited behind the idle")
        #expect(await second.task.value)
    }
}
