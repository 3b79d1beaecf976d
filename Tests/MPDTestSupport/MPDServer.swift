import RepriseSync
import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A private Debian `mpd` on 127.0.0.1 for tests: null audio output, software mixer, temp-dir state.
public final class MPDServer: @unchecked Sendable {
    /// The TCP port MPD listens on; kept across `restart()`.
    public let port: Int
    /// The temp dir holding the config, database, state, log and music directory.
    public let directory: URL
    /// MPD's music directory.
    var musicDirectory: URL { directory.appendingPathComponent("music") }
    /// MPD's log file.
    var logFile: URL { directory.appendingPathComponent("mpd.log") }

    private let lock = NSLock()
    private var process: Child?

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
    }

    /// Writes a config and starts MPD on a free port, waiting (without blocking a thread) until it greets.
    /// `mixer: false` leaves the output without a mixer, so MPD refuses volume changes.
    ///
    /// An MPD that exits at start (most often: between `freePort` and MPD's bind, another test of
    /// this process took the port) is tried again on another port, up to three times.
    public static func start(executable: String = "/usr/bin/mpd", mixer: Bool = true) async throws -> MPDServer {
        var attempt = 0
        while true {
            attempt += 1
            let dir = try TempDir("mpd-test").url
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("music"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("playlists"), withIntermediateDirectories: true)
            let server = MPDServer(port: try freePort(), directory: dir)
            try server.writeConfig(mixer: mixer)
            do {
                try await server.launch(executable: executable)
                return server
            } catch let e as MPDServerError where e.exited && attempt < 3 {
                try? FileManager.default.removeItem(at: dir)
            }
        }
    }

    /// Ends MPD at once (SIGKILL) without waiting: for a `defer`, which cannot await, and which a
    /// `Task` would outlive when the test process exits first (leaving an `mpd` behind).
    public func terminate() {
        guard let process = takeProcess() else { return }
        process.kill(SIGCONT)
        process.kill(SIGKILL)
    }

    /// Stops MPD (SIGTERM, then SIGKILL after `graceSeconds`).
    public func stop(graceSeconds: Double = 3) async {
        guard let process = takeProcess() else { return }
        process.kill(SIGCONT)
        process.kill(SIGTERM)
        if await !process.wait(seconds: graceSeconds) {
            process.kill(SIGKILL)
            _ = await process.wait(seconds: 5)
        }
    }

    /// Kills MPD at once with SIGKILL, as a crash would.
    public func kill9() async {
        guard let process = takeProcess() else { return }
        process.kill(SIGKILL)
        _ = await process.wait(seconds: 5)
    }

    /// Freezes MPD (SIGSTOP) so calls to it hang.
    public func suspend() {
        lock.withLock { process }?.kill(SIGSTOP)
    }

    /// Thaws MPD after `suspend()`.
    public func resume() {
        lock.withLock { process }?.kill(SIGCONT)
    }

    /// Stops MPD if running and starts it again on the same port and state.
    public func restart(executable: String = "/usr/bin/mpd") async throws {
        await stop()
        try await launch(executable: executable)
    }

    /// Stops MPD and deletes its temp dir.
    public func shutdown() async {
        await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        process?.kill(SIGCONT)
        process?.kill(SIGKILL)
    }

    /// MPD's log so far, for failure messages.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    private func writeConfig(mixer: Bool) throws {
        let d = directory.path
        let config = """
            music_directory "\(d)/music"
            playlist_directory "\(d)/playlists"
            db_file "\(d)/mpd.db"
            state_file "\(d)/mpd.state"
            log_file "\(d)/mpd.log"
            pid_file "\(d)/mpd.pid"
            sticker_file "\(d)/sticker.sql"
            bind_to_address "127.0.0.1"
            port "\(port)"
            zeroconf_enabled "no"
            auto_update "no"
            restore_paused "yes"
            input {
                plugin "curl"
            }
            audio_output {
                type "null"
                name "null"
                mixer_type "\(mixer ? "software" : "none")"
            }

            """
        try config.write(to: directory.appendingPathComponent("mpd.conf"), atomically: true, encoding: .utf8)
    }

    private func launch(executable: String) async throws {
        let process = try Child(executable, ["--no-daemon", directory.appendingPathComponent("mpd.conf").path])
        Self.reapAtExit(process.pid)
        lock.withLock { self.process = process }
        // Waits for a real process: up to 200 tries, 25 ms apart.
        for _ in 0..<200 {
            if let status = process.status {
                throw MPDServerError(message: "mpd exited with \(status) (port \(port)): \(log())", exited: true)
            }
            if Self.greets(port: port) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        await stop()
        throw MPDServerError(message: "mpd did not accept connections on \(port): \(log())")
    }

    /// Every MPD started by this process; killed when the test process exits, so that a suite that
    /// ends before its cleanup ran (a `defer { Task { ... } }`, a crash in a test) leaves no `mpd` behind.
    private static let started = Locked<[pid_t]>([])
    private static let exitHook: Void = {
        atexit {
            for pid in MPDServer.started.withLock({ $0 }) {
                _ = Glibc.kill(pid, SIGCONT)
                _ = Glibc.kill(pid, SIGKILL)
            }
        }
    }()

    private static func reapAtExit(_ pid: pid_t) {
        _ = exitHook
        started.withLock { $0.append(pid) }
    }

    private func takeProcess() -> Child? {
        let taken = lock.withLock {
            defer { process = nil }
            return process
        }
        if let pid = taken?.pid { Self.started.withLock { $0.removeAll { $0 == pid } } }
        return taken
    }

    /// Whether something on the port answers with MPD's "OK MPD" greeting.
    public static func greets(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 && String(decoding: buffer[0..<n], as: UTF8.self).hasPrefix("OK MPD")
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MPDServerError(message: "socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard bound else { throw MPDServerError(message: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A failure starting the test MPD, with its log.
public struct MPDServerError: Error, CustomStringConvertible {
    public let message: String
    /// MPD exited while starting (rather than never answering).
    public let exited: Bool
    public var description: String { message }
    public init(message: String, exited: Bool = false) { self.message = message; self.exited = exited }
}
