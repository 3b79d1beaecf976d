import RepriseSync
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests: spawned with `posix_spawn`, reaped by a thread of its own.
///
/// Foundation's `Process` learns of an exit when the child's end of a socket pair closes, and
/// neither that socket nor a `Pipe` is close-on-exec: a child spawned at the same moment on
/// another thread inherits them (seen: 40 parallel spawns, a child holding two sockets not its
/// own). A short command's `waitUntilExit()` or read to the end then waits for a long-lived
/// sibling (an MPD, a server) to exit, and the suite hung in CI. Here every child starts with
/// only its three standard descriptors, and waiting never blocks Swift's cooperative pool.
public final class Child: Sendable {
    /// Where a standard stream of the child goes.
    public enum IO: Sendable {
        case null
        case pipe
        /// A file, created or truncated (output) or read (input).
        case file(String)
    }

    public let pid: pid_t
    /// The write end of the child's standard input, with `.pipe`.
    public let stdin: FileHandle?
    /// The read end of the child's standard output, with `.pipe`.
    public let stdout: FileHandle?
    /// The read end of the child's standard error, with `.pipe`.
    public let stderr: FileHandle?
    public let command: String

    private let state = Locked<State>(State())
    private let exited = DispatchSemaphore(value: 0)

    private struct State {
        var status: Int32?
        var waiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter = 0
    }

    /// Starts `executable` with `arguments`; `environment` nil keeps this process's.
    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, directory: String? = nil, stdin: IO = .null, stdout: IO = .null, stderr: IO = .null) throws {
        command = ([executable] + arguments).joined(separator: " ")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = []
        defer { childEnds.forEach { close($0) } }
        for (target, io) in [stdin, stdout, stderr].enumerated() {
            switch io {
            case .null:
                posix_spawn_file_actions_addopen(&actions, Int32(target), "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, Int32(target), path, target == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw ChildError("pipe failed for \(command)") }
                fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                posix_spawn_file_actions_adddup2(&actions, childEnd, Int32(target))
                childEnds.append(childEnd)
                parentEnds[target] = parentEnd
            }
        }
        _ = Self.closeFrom(&actions, 3)
        if let directory { _ = Self.chdir(&actions, directory) }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, env)
        guard rc == 0 else {
            parentEnds.compactMap { $0 }.forEach { close($0) }
            throw ChildError("cannot start \(command): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        let childPid = pid
        self.stdin = parentEnds[0].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        self.stdout = parentEnds[1].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        self.stderr = parentEnds[2].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        let reaper = Thread { [self] in
            var raw: Int32 = 0
            while waitpid(childPid, &raw, 0) == -1 && errno == EINTR {}
            // Shell convention: the exit code, or 128 + the signal that ended it.
            let status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            let waiters = self.state.withLock { s in
                s.status = status
                defer { s.waiters = [:] }
                return s.waiters.values
            }
            waiters.forEach { $0.resume(returning: status) }
            self.exited.signal()
        }
        reaper.start()
    }

    /// The exit status (128 + signal when killed), nil while running.
    public var status: Int32? { state.withLock { $0.status } }

    public var isRunning: Bool { status == nil }

    /// Waits for the exit without blocking a thread; returns the status.
    public func wait() async -> Int32 {
        await exit(cancellable: false)!
    }

    /// Waits at most `seconds`; true when the child has exited.
    public func wait(seconds: Double) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.exit(cancellable: true) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))  // the deadline, not a poll
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || !isRunning
        }
    }

    /// The exit status once the child exits; nil when `cancellable` and the calling task is cancelled first.
    private func exit(cancellable: Bool) async -> Int32? {
        let id = state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        let wait = {
            await withCheckedContinuation { (c: CheckedContinuation<Int32?, Never>) in
                let done = self.state.withLock { s -> Int32?? in
                    if let status = s.status { return .some(status) }
                    if cancellable && Task.isCancelled { return .some(nil) }
                    s.waiters[id] = c
                    return nil
                }
                if let done { c.resume(returning: done) }
            }
        }
        guard cancellable else { return await wait() }
        return await withTaskCancellationHandler(operation: wait) {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }

    /// Blocks the calling thread until the exit; see `runBlocking` for when that is acceptable.
    public func waitBlocking() -> Int32 {
        if let status { return status }
        exited.wait()
        exited.signal()
        return status!
    }

    /// Sends `signal` (SIGTERM by default) unless the child has been reaped.
    public func kill(_ signal: Int32 = SIGTERM) {
        state.withLock { s in
            if s.status == nil { _ = Glibc.kill(pid, signal) }
        }
    }

    /// Sends SIGTERM now and SIGKILL if the child is still running `grace` seconds later; does not wait.
    public func terminate(grace: Double = 10) {
        kill(SIGTERM)
        Task { [self] in
            if await !wait(seconds: grace) { kill(SIGKILL) }
        }
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not show.
    private static let closeFrom: CloseFrom = unsafeBitCast(glibc("posix_spawn_file_actions_addclosefrom_np"), to: CloseFrom.self)
    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+).
    private static let chdir: ChangeDirectory = unsafeBitCast(glibc("posix_spawn_file_actions_addchdir_np"), to: ChangeDirectory.self)

    private static func glibc(_ name: String) -> UnsafeMutableRawPointer {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("this glibc lacks \(name)") }
        return symbol
    }
}

/// What a finished child printed, and how it ended.
public struct Finished: Sendable {
    public let status: Int32
    public let stdout: Data
    public let stderr: Data
    public var output: String { String(decoding: stdout, as: UTF8.self) }
    public var errors: String { String(decoding: stderr, as: UTF8.self) }
}

/// A child that could not start, or ran past its time limit.
public struct ChildError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Child {
    /// Runs a command to its end, feeding `input`, collecting both outputs; killed after `timeout` seconds.
    ///
    /// ```swift
    /// let r = try await Child.run("/usr/bin/curl", ["-s", url])
    /// #expect(r.status == 0)
    /// ```
    public static func run(_ executable: String, _ arguments: [String] = [], input: Data? = nil, environment: [String: String]? = nil, directory: String? = nil, timeout: Double = 120) async throws -> Finished {
        let child = try Child(executable, arguments, environment: environment, directory: directory, stdin: input == nil ? .null : .pipe, stdout: .pipe, stderr: .pipe)
        if let input, let handle = child.stdin {
            Thread.detachNewThread {
                try? handle.write(contentsOf: input)
                try? handle.close()
            }
        }
        async let out = readToEnd(child.stdout!)
        async let err = readToEnd(child.stderr!)
        if await !child.wait(seconds: timeout) {
            child.kill(SIGKILL)
            _ = await child.wait()
            _ = await (out, err)
            throw ChildError("\(child.command) ran longer than \(Int(timeout)) s and was killed")
        }
        return Finished(status: await child.wait(), stdout: await out, stderr: await err)
    }

    /// Runs a command to its end, blocking the calling thread: for synchronous helpers, with commands
    /// that never wait on this process (sox, metaflac), since it may hold a thread of the cooperative pool.
    public static func runBlocking(_ executable: String, _ arguments: [String] = []) throws -> Finished {
        let child = try Child(executable, arguments, stdout: .pipe, stderr: .pipe)
        final class Sink: @unchecked Sendable { var data = Data() }  // written before group.leave(), read after group.wait()
        let out = Sink(), err = Sink()
        let group = DispatchGroup()
        for (handle, sink) in [(child.stdout!, out), (child.stderr!, err)] {
            group.enter()
            Thread.detachNewThread {
                sink.data = (try? handle.readToEnd()) ?? Data()
                group.leave()
            }
        }
        let status = child.waitBlocking()
        group.wait()
        return Finished(status: status, stdout: out.data, stderr: err.data)
    }

    /// Reads a pipe to its end on a thread of its own.
    public static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: (try? handle.readToEnd()) ?? Data()) }
        }
    }

    /// Reads what is available now (at least one byte, or nothing at the end) on a thread of its own.
    public static func readAvailable(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: handle.availableData) }
        }
    }
}

extension Child {
    /// One HTTP request through curl; returns the status and the body (status 0 when curl got no answer).
    ///
    /// ```swift
    /// let (status, body) = try await Child.http("POST", url, bearer: session, json: #"{"label":"mpd"}"#)
    /// ```
    public static func http(_ method: String, _ url: String, bearer: String? = nil, json: String? = nil) async throws -> (status: Int, body: Data) {
        var args = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]
        if let bearer { args += ["-H", "Authorization: Bearer \(bearer)"] }
        if let json { args += ["-H", "Content-Type: application/json", "-d", json] }
        let out = try await run("/usr/bin/curl", args, timeout: 30).stdout
        // The body is bytes; only the status line after the last newline is text.
        guard let nl = out.lastIndex(of: UInt8(ascii: "\n")) else { return (0, Data()) }
        return (Int(String(decoding: out[out.index(after: nl)...], as: UTF8.self)) ?? 0, Data(out[..<nl]))
    }
}
