import Foundation
import MPDTestSupport
import Testing

@testable import MPDClient

/// Starts a private MPD, connects, runs the body, and shuts MPD down.
func withMPD(timeoutMs: Int = 5000, _ body: (MPDServer, MPDConnection) async throws -> Void) async throws {
    let server = try await MPDServer.start()
    do {
        let connection = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: timeoutMs)
        defer { connection.close() }
        try await body(server, connection)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// Reads status until `predicate` holds, waiting on `idle` of a second connection between reads; bounded by `tries`.
func waitForStatus(
    _ connection: MPDConnection, watcher: MPDConnection, tries: Int = 40,
    _ predicate: (MPDStatus) -> Bool
) async throws -> MPDStatus {
    var status = try await connection.status()
    for _ in 0..<tries where !predicate(status) {
        _ = try await watcher.idle([.player, .mixer, .playlist], timeoutMs: 250)
        status = try await connection.status()
    }
    return status
}

/// Runs a body and returns how long it took.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let start = ContinuousClock.now
    let value = try await body()
    return (value, ContinuousClock.now - start)
}

/// The `MPDError` a body throws, or nil.
func mpdError(_ body: () async throws -> Void) async -> MPDError? {
    do {
        try await body()
        return nil
    } catch let error as MPDError {
        return error
    } catch {
        Issue.record("expected MPDError, got \(error)")
        return nil
    }
}

@Suite("MPDConnection against a real MPD", .timeLimit(.minutes(2)))
struct MPDConnectionTests {
    @Test("a fresh MPD is stopped with an empty queue")
    func freshStatus() async throws {
        try await withMPD { _, mpd in
            let status = try await mpd.status()
            #expect(status.state == .stop)
            #expect(status.queueLength == 0)
            #expect(status.songPosition == nil)
            #expect(status.error == nil)
            #expect(try await mpd.queue().isEmpty)
            #expect(!mpd.isBroken)
        }
    }

    @Test("connecting to a closed port fails quickly with connectionFailed")
    func closedPort() async throws {
        let port = try MPDServer.freePort()
        let (error, elapsed) = await timed {
            await mpdError { _ = try await MPDConnection.connect(host: "127.0.0.1", port: port, password: nil, timeoutMs: 2000) }
        }
        #expect(error?.code == .connectionFailed)
        #expect(elapsed < .seconds(10))  // bounds catch a hang, not speed: the suite runs on a loaded machine
    }

    @Test("an ACK is a server error and the connection stays usable")
    func serverError() async throws {
        try await withMPD { _, mpd in
            let error = await mpdError { try await mpd.delete(position: 99) }
            #expect(error?.code == .server)
            #expect(error?.serverError != nil)
            #expect(error?.message.isEmpty == false)
            #expect(!mpd.isBroken)
            let status = try await mpd.status()
            #expect(status.state == .stop)
        }
    }

    @Test("queue and playback over HTTP: add, play, pause, volume, seek, next, delete, clear")
    func playback() async throws {
        let http = try await AudioFiles.server()
        try await withMPD { server, mpd in
            let watcher = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            defer { watcher.close() }

            let longID = try await mpd.add(uri: http.url("long.mp3"))
            let aID = try await mpd.add(uri: http.url("a.mp3"))
            #expect(longID != aID)
            let queue = try await mpd.queue()
            #expect(queue.map(\.id) == [longID, aID])
            #expect(queue.map(\.position) == [0, 1])
            #expect(queue.map(\.uri) == [http.url("long.mp3"), http.url("a.mp3")])

            try await mpd.play(position: 0)
            var status = try await waitForStatus(mpd, watcher: watcher) { $0.state == .play && ($0.elapsedMs ?? 0) > 0 }
            #expect(status.state == .play)
            #expect(status.songPosition == 0)
            #expect(status.songID == longID)
            #expect(status.queueLength == 2)

            try await mpd.pause(true)
            status = try await waitForStatus(mpd, watcher: watcher) { $0.state == .pause }
            #expect(status.state == .pause)
            try await mpd.pause(false)
            status = try await waitForStatus(mpd, watcher: watcher) { $0.state == .play }
            #expect(status.state == .play)

            try await mpd.setVolume(42)
            status = try await waitForStatus(mpd, watcher: watcher) { $0.volume == 42 }
            #expect(status.volume == 42)

            try await mpd.seek(position: 0, ms: 20_500)
            status = try await waitForStatus(mpd, watcher: watcher) { ($0.elapsedMs ?? 0) >= 20_000 }
            #expect((status.elapsedMs ?? 0) >= 20_000)
            #expect(status.songPosition == 0)
            if let duration = status.durationMs { #expect(abs(duration - 30_000) < 500) }

            try await mpd.next()
            status = try await waitForStatus(mpd, watcher: watcher) { $0.songPosition == 1 }
            #expect(status.songPosition == 1)
            #expect(status.songID == aID)

            try await mpd.delete(position: 0)
            let remaining = try await mpd.queue()
            #expect(remaining.map(\.id) == [aID])
            #expect(remaining.first?.position == 0)

            try await mpd.clear()
            status = try await mpd.status()
            #expect(status.queueLength == 0)
            #expect(status.state == .stop)
        }
    }

    @Test("a 404 or 403 URL stops MPD with an error text, which clearError removes")
    func failingURLs() async throws {
        let http = try await AudioFiles.server()
        try await withMPD { server, mpd in
            let watcher = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            defer { watcher.close() }
            for url in [http.url("missing.mp3"), http.url("a.mp3", mode: "status/403")] {
                _ = try await mpd.add(uri: url)
                // MPD's `play` waits for the decoder to start, so a fast failure comes back from
                // `play` itself; a slower one shows up in the status error.
                var playError: MPDError?
                do { try await mpd.play(position: 0) } catch let error as MPDError { playError = error }
                let status = try await waitForStatus(mpd, watcher: watcher) { playError != nil || $0.error != nil }
                print("MPD for \(url): play error=\(playError.map(String.init(describing:)) ?? "nil") state=\(status.state) error=\(status.error ?? "nil")")
                #expect(status.state == .stop)
                if let playError {
                    #expect(playError.code == .server)
                    #expect(playError.message.contains("Failed to decode"))
                } else {
                    #expect(status.error != nil)
                }
                try await mpd.clearError()
                #expect(try await mpd.status().error == nil)
                try await mpd.clear()
            }
        }
    }

    @Test("a close-delimited stream cut midway stops MPD with no error, like a song that ended")
    func cutStreamWithoutLength() async throws {
        let http = try await AudioFiles.server()
        try await withMPD { server, mpd in
            let watcher = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            defer { watcher.close() }
            _ = try await mpd.add(uri: http.url("long.mp3", mode: "cutclose"))
            try await mpd.play(position: 0)
            var status = try await waitForStatus(mpd, watcher: watcher) { $0.state == .play }
            #expect(status.state == .play)
            var lastElapsed = status.elapsedMs
            status = try await waitForStatus(mpd, watcher: watcher, tries: 80) {
                if $0.state == .play { lastElapsed = $0.elapsedMs }
                return $0.state == .stop
            }
            print("MPD status after a cut close-delimited stream: state=\(status.state) error=\(status.error ?? "nil") last elapsed=\(lastElapsed.map(String.init) ?? "nil") ms of 30000")
            #expect(status.state == .stop)
            #expect(status.error == nil)
            #expect((lastElapsed ?? 0) < 20_000)
        }
    }

    @Test("a Content-Length stream cut midway: MPD 0.23.12 stops answering; calls fail with .timeout, not hang")
    func cutStreamWithLength() async throws {
        let http = try await AudioFiles.server()
        try await withMPD { server, mpd in
            let watcher = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            defer { watcher.close() }
            _ = try await mpd.add(uri: http.url("long.mp3", mode: "cut"))
            try await mpd.play(position: 0)
            let playing = try await waitForStatus(mpd, watcher: watcher) { $0.state == .play }
            #expect(playing.state == .play)
            try await mpd.setTimeout(ms: 2000)
            try await watcher.setTimeout(ms: 2000)
            let (outcome, elapsed) = await timed { () async -> Result<MPDStatus, any Error> in
                await Result { try await waitForStatus(mpd, watcher: watcher, tries: 80) { $0.state == .stop } }
            }
            switch outcome {
            case .success(let status):
                print("MPD status after a cut Content-Length stream: state=\(status.state) error=\(status.error ?? "nil")")
                #expect(status.state == .stop)
            case .failure(let error):
                print("MPD after a cut Content-Length stream: \(error) after \(elapsed)")
                #expect((error as? MPDError)?.code == .timeout)
                #expect(elapsed < .seconds(30))
            }
        }
    }

    @Test("idle returns the changed subsystem, times out to [], and can be cancelled")
    func idleBasics() async throws {
        try await withMPD { server, mpd in
            let watcher = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            defer { watcher.close() }

            let (empty, elapsed) = try await timed { try await watcher.idle([.player], timeoutMs: 200) }
            #expect(empty.isEmpty)
            #expect(elapsed < .seconds(10))

            async let changed = watcher.idle([.mixer, .playlist])
            try await Task.sleep(for: .milliseconds(100))
            _ = try await mpd.add(uri: "http://127.0.0.1:1/none.mp3")
            #expect(try await changed.contains(.playlist))

            let waiting = Task { try await watcher.idle([.database]) }
            try await Task.sleep(for: .milliseconds(100))
            waiting.cancel()
            let result = await waiting.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(!watcher.isBroken)
            #expect(try await watcher.status().queueLength == 1)
        }
    }

    @Test("close() from another task aborts a blocked idle with .closed")
    func closeAbortsIdle() async throws {
        try await withMPD { server, _ in
            let watcher = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            let waiting = Task { while true { _ = try await watcher.idle() } }
            try await Task.sleep(for: .milliseconds(100))
            let (error, elapsed) = await timed { () async -> MPDError? in
                watcher.close()
                return await mpdError { _ = try await waiting.value }
            }
            #expect(error?.code == .closed)
            #expect(elapsed < .seconds(10))
            #expect(await mpdError { _ = try await watcher.status() }?.code == .closed)
            #expect(await mpdError { try await watcher.play() }?.code == .closed)
        }
    }

    @Test("killing MPD fails a blocked idle with a connection error; a new connect after restart works")
    func killDuringIdle() async throws {
        try await withMPD { server, mpd in
            let waiting = Task { while true { _ = try await mpd.idle() } }
            try await Task.sleep(for: .milliseconds(100))
            let (error, elapsed) = await timed { () async -> MPDError? in
                await server.kill9()
                return await mpdError { _ = try await waiting.value }
            }
            #expect(error?.code == .connectionLost)
            #expect(elapsed < .seconds(10))
            #expect(mpd.isBroken)
            let (after, afterElapsed) = await timed { await mpdError { _ = try await mpd.status() } }
            #expect(after?.code == .closed)
            #expect(afterElapsed < .seconds(5))

            try await server.restart()
            let again = try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000)
            defer { again.close() }
            #expect(try await again.status().state == .stop)
        }
    }

    @Test("killing a hung MPD fails a waiting call promptly with a connection error")
    func killDuringCall() async throws {
        try await withMPD(timeoutMs: 30_000) { server, mpd in
            server.suspend()
            let waiting = Task { try await mpd.status() }
            try await Task.sleep(for: .milliseconds(200))
            let (error, elapsed) = await timed { () async -> MPDError? in
                await server.kill9()
                return await mpdError { _ = try await waiting.value }
            }
            #expect(error?.code == .connectionLost)
            #expect(elapsed < .seconds(10))
            #expect(mpd.isBroken)
        }
    }

    @Test("a hung MPD makes a call fail with .timeout after the connection's timeout")
    func timeout() async throws {
        try await withMPD { server, mpd in
            try await mpd.setTimeout(ms: 300)  // rounded up to 1 s
            server.suspend()
            defer { server.resume() }
            let (error, elapsed) = await timed { await mpdError { _ = try await mpd.status() } }
            #expect(error?.code == .timeout)
            #expect(elapsed >= .milliseconds(900))
            #expect(elapsed < .seconds(10))
            #expect(mpd.isBroken)
            #expect(await mpdError { try await mpd.stop() }?.code == .closed)
        }
    }

    @Test("the low-descriptor reserve holds low numbers, frees the lowest for a connection, and takes them back")
    func lowDescriptorReserve() throws {
        let reserve = LowDescriptors(size: 4)
        reserve.prepare()
        let held = reserve.numbers.sorted()
        #expect(held.count == 4 && held.allSatisfy { $0 < MPDHandle.highestSafeDescriptor })
        #expect(reserve.release(2) == 2)
        #expect(reserve.numbers.sorted() == Array(held.suffix(2)), "the lowest two were freed")
        reserve.refill()
        #expect(reserve.count == 4 && reserve.numbers.allSatisfy { $0 < MPDHandle.highestSafeDescriptor })
        #expect(reserve.release(10) == 4 && reserve.count == 0)
    }

    @Test("20 blocked idles on 20 connections leave Swift's pool free")
    func idlesDoNotBlockThePool() async throws {
        try await withMPD { server, mpd in
            var connections: [MPDConnection] = []
            for _ in 0..<20 {
                connections.append(try await MPDConnection.connect(host: "127.0.0.1", port: server.port, password: nil, timeoutMs: 5000))
            }
            defer { connections.forEach { $0.close() } }

            try await withThrowingTaskGroup(of: Set<MPDIdleEvent>.self) { group in
                for connection in connections {
                    group.addTask { try await connection.idle([.playlist]) }
                }
                try await Task.sleep(for: .milliseconds(200))

                // Other async work still runs while all 20 idles block.
                let sum = await withTaskGroup(of: Int.self) { work in
                    for i in 0..<200 {
                        work.addTask {
                            await Task.yield()
                            return i
                        }
                    }
                    return await work.reduce(0, +)
                }
                #expect(sum == 199 * 200 / 2)
                #expect(try await mpd.status().queueLength == 0)

                _ = try await mpd.add(uri: "http://127.0.0.1:1/none.mp3")
                var woken = 0
                for try await events in group {
                    #expect(events == [.playlist])
                    woken += 1
                }
                #expect(woken == 20)
            }
        }
    }
}

extension Result where Failure == any Error {
    /// Captures the outcome of an async throwing body.
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
