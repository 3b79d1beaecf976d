import CMPDClient
import Foundation

import RepriseSync
#if canImport(Glibc)
import Glibc
#endif

/// The `mpd_connection*` and the state other threads may read; the handle is touched only on the connection's thread.
final class MPDHandle: @unchecked Sendable {
    /// State shared with other threads, guarded by `shared`.
    struct Shared {
        var fd: Int32 = -1
        var closed = false
        var broken = false
        var lastIdle: UInt64 = 0
        var cancelledIdle: UInt64 = 0
    }

    let shared = Locked(Shared())
    /// The C handle; read and written only on the connection's thread.
    private var connection: OpaquePointer?
    /// A pipe that wakes a blocked `idle` (read end polled on the connection's thread).
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        } else {
            fds = [-1, -1]
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    // MARK: Any thread

    /// Whether `close()` was called.
    var isClosed: Bool { shared.withLock { $0.closed } }
    /// Whether a connection-level error made the connection unusable.
    var isBroken: Bool { shared.withLock { $0.broken } }

    /// Marks the connection closed and shuts its socket down, waking any blocked call; returns false if already closed.
    func markClosed() -> Bool {
        shared.withLock { s in
            if s.closed { return false }
            s.closed = true
            if s.fd >= 0 { _ = shutdown(s.fd, Int32(SHUT_RDWR)) }
            return true
        }
    }

    /// Registers a new idle call and returns its number.
    func nextIdle() -> UInt64 {
        shared.withLock { s in
            s.lastIdle += 1
            return s.lastIdle
        }
    }

    /// Asks the idle call with this number to return early.
    func cancelIdle(_ number: UInt64) {
        shared.withLock { $0.cancelledIdle = max($0.cancelledIdle, number) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: Connection thread only

    /// Connects, applies the timeout and authenticates.
    func open(host: String, port: Int, password: String?, timeoutMs: Int) throws(MPDError) {
        // libmpdclient waits with select(), which aborts the process for a descriptor at or above
        // FD_SETSIZE (1024). Its socket gets the lowest free descriptor: probe that one first, with
        // room for other threads opening files meanwhile, and refuse rather than crash.
        LowDescriptors.shared.prepare()
        var probe = Self.probeDescriptor()
        // Numbers held back for this moment (`LowDescriptors`) make room below the limit.
        if probe >= Self.highestSafeDescriptor, LowDescriptors.shared.release(2) > 0 { probe = Self.probeDescriptor() }
        if probe >= Self.highestSafeDescriptor {
            throw MPDError(.connectionFailed, "too many open files (the next descriptor is \(probe)); libmpdclient cannot use descriptors above 1023")
        }
        guard let c = mpd_connection_new(host, UInt32(clamping: port), wholeSeconds(timeoutMs)) else {
            throw MPDError(.connectionFailed, "out of memory")
        }
        connection = c
        if mpd_connection_get_error(c) != MPD_ERROR_SUCCESS {
            let error = connectFailure(c)
            free()
            throw error
        }
        mpd_connection_set_timeout(c, wholeSeconds(timeoutMs))
        if let password, !mpd_run_password(c, password) {
            let error = connectFailure(c)
            free()
            throw error
        }
        let fd = mpd_connection_get_fd(c)
        let closedMeanwhile = shared.withLock { s in
            s.fd = fd
            return s.closed
        }
        if closedMeanwhile { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// The number the next socket gets.
    static func probeDescriptor() -> Int32 {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if probe >= 0 { close(probe) }
        return probe
    }

    /// Frees the C handle, and gives its low descriptor back to the reserve.
    func free() {
        shared.withLock { $0.fd = -1 }
        if let c = connection {
            mpd_connection_free(c)
            LowDescriptors.shared.refill()
        }
        connection = nil
    }

    /// Frees the C handle and closes the wake pipe; runs once, as the thread's last job.
    func freeAll() {
        free()
        if wakeRead >= 0 { Glibc.close(wakeRead) }
        if wakeWrite >= 0 { Glibc.close(wakeWrite) }
    }

    /// Runs a body with the open handle, or fails with `.closed`.
    func withConnection<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        let usable = shared.withLock { !$0.closed && !$0.broken }
        guard usable, let c = connection else {
            throw MPDError(.closed, isBroken ? "connection is broken" : "connection is closed")
        }
        return try body(c)
    }

    /// Turns the handle's pending error into an `MPDError`; marks the connection broken unless the error is recoverable.
    func failure(_ c: OpaquePointer) -> MPDError {
        let error = mpd_connection_get_error(c)
        let message = mpd_connection_get_error_message(c).map { String(cString: $0) } ?? "unknown error"
        if isClosed { return MPDError(.closed, "connection was closed (\(message))") }
        let result: MPDError
        switch error {
        case MPD_ERROR_SERVER:
            let code = Int(mpd_connection_get_server_error(c).rawValue)
            if mpd_connection_clear_error(c) { return MPDError(.server, message, serverError: code) }
            result = MPDError(.server, message, serverError: code)
        case MPD_ERROR_ARGUMENT, MPD_ERROR_STATE:
            if mpd_connection_clear_error(c) { return MPDError(.usage, message) }
            result = MPDError(.usage, message)
        case MPD_ERROR_SUCCESS:
            return MPDError(.protocol, "call failed without an error")
        case MPD_ERROR_TIMEOUT:
            result = MPDError(.timeout, message)
        case MPD_ERROR_MALFORMED, MPD_ERROR_OOM:
            result = MPDError(.protocol, message)
        default:  // MPD_ERROR_SYSTEM, MPD_ERROR_CLOSED, MPD_ERROR_RESOLVER
            result = MPDError(.connectionLost, message)
        }
        shared.withLock { $0.broken = true }
        return result
    }

    /// The error for a failed connect or password.
    private func connectFailure(_ c: OpaquePointer) -> MPDError {
        let message = mpd_connection_get_error_message(c).map { String(cString: $0) } ?? "unknown error"
        switch mpd_connection_get_error(c) {
        case MPD_ERROR_TIMEOUT:
            return MPDError(.timeout, message)
        case MPD_ERROR_SERVER:
            return MPDError(.connectionFailed, message, serverError: Int(mpd_connection_get_server_error(c).rawValue))
        default:
            return MPDError(.connectionFailed, message)
        }
    }

    /// Checks a `mpd_run_*` result.
    func check(_ c: OpaquePointer, _ ok: Bool) throws(MPDError) {
        if !ok { throw failure(c) }
    }

    /// Finishes a response and checks for an error left by a receive loop.
    func finish(_ c: OpaquePointer) throws(MPDError) {
        if mpd_connection_get_error(c) != MPD_ERROR_SUCCESS { throw failure(c) }
        try check(c, mpd_response_finish(c))
    }

    /// Descriptors from here on are refused for MPD connections (FD_SETSIZE 1024, less a margin).
    static let highestSafeDescriptor: Int32 = 1024 - 64

    /// Sends `idle` and waits for an event, the timeout, a cancel or a broken socket.
    func idle(_ c: OpaquePointer, mask: UInt32, number: UInt64, timeoutMs: Int?) throws -> Set<MPDIdleEvent> {
        if isIdleCancelled(number) { throw CancellationError() }
        drainWake()
        try check(c, mpd_send_idle_mask(c, mpd_idle(rawValue: mask)))
        let fd = mpd_connection_get_fd(c)
        let deadline = timeoutMs.map { ContinuousClock.now + .milliseconds($0) }
        var stopEarly = false
        var cancelled = false
        wait: while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            var waitMs: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                waitMs = left <= .zero ? 0 : Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            }
            let n = poll(&fds, 2, waitMs)
            if n < 0 {
                if errno == EINTR { continue }
                break wait  // let the receive report the socket's state
            }
            if n == 0 {
                stopEarly = true  // timed out
                break wait
            }
            if fds[0].revents != 0 { break wait }
            if fds[1].revents != 0 {
                drainWake()
                if isIdleCancelled(number) {
                    stopEarly = true
                    cancelled = true
                    break wait
                }
            }
        }
        if stopEarly { try check(c, mpd_send_noidle(c)) }
        let events = mpd_recv_idle(c, false).rawValue
        if mpd_connection_get_error(c) != MPD_ERROR_SUCCESS { throw failure(c) }
        if cancelled { throw CancellationError() }
        return MPDIdleEvent.events(events)
    }

    private func isIdleCancelled(_ number: UInt64) -> Bool {
        shared.withLock { $0.cancelledIdle >= number }
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }
}

/// Rounds a timeout up to whole seconds (at least one).
///
/// libmpdclient 2.20 stores `timeout_ms % 1000` as microseconds, so 300 ms would wait 0.3 ms
/// and 1500 ms would wait 1.0015 s.
func wholeSeconds(_ ms: Int) -> UInt32 {
    let seconds = max(1, (ms + 999) / 1000)
    return UInt32(clamping: seconds * 1000)
}
