import CMPDClient
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One connection to MPD; its `mpd_connection*` lives on a dedicated thread, and every call waits there, not on Swift's pool.
///
/// Calls run one at a time in order: a blocked `idle` delays later calls on the same connection,
/// so watch for events on a connection of its own.
public final class MPDConnection: Sendable {
    private let thread: ConnectionThread
    private let handle: MPDHandle

    private init(thread: ConnectionThread, handle: MPDHandle) {
        self.thread = thread
        self.handle = handle
    }

    deinit {
        close()
    }

    /// Connects to MPD, sends the password if given, and applies `timeoutMs` (rounded up to whole seconds) to every call.
    public static func connect(host: String, port: Int, password: String? = nil, timeoutMs: Int = 5000) async throws -> MPDConnection {
        ignoreSIGPIPE
        let thread = ConnectionThread(name: "mpd \(host):\(port)")
        let handle = MPDHandle()
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                thread.submit {
                    continuation.resume(with: Result { try handle.open(host: host, port: port, password: password, timeoutMs: timeoutMs) })
                }
            }
        } catch {
            _ = handle.markClosed()
            thread.stop(after: { handle.freeAll() })
            throw error
        }
        return MPDConnection(thread: thread, handle: handle)
    }

    /// Whether a connection-level error (lost socket, timeout, garbled reply) made this connection unusable.
    public var isBroken: Bool { handle.isBroken }

    /// Whether `close()` was called.
    public var isClosed: Bool { handle.isClosed }

    /// Closes the connection from any thread; a blocked call (even `idle`) fails with `.closed` promptly.
    public func close() {
        guard handle.markClosed() else { return }
        let handle = self.handle
        thread.stop(after: { handle.freeAll() })
    }

    /// Changes the timeout of later calls, rounded up to whole seconds.
    public func setTimeout(ms: Int) async throws {
        try await run { _, c in mpd_connection_set_timeout(c, wholeSeconds(ms)) }
    }

    // MARK: Queue

    /// Appends a URI to the queue and returns its song id.
    public func add(uri: String) async throws -> Int {
        try await run { h, c in
            let id = mpd_run_add_id(c, uri)
            if id < 0 { throw h.failure(c) }
            return Int(id)
        }
    }

    /// Sets a tag of the queued song `id` (remote songs only: MPD keeps it until the song leaves the queue).
    public func addTag(id: Int, _ tag: MPDTag, _ value: String) async throws {
        let type: mpd_tag_type = switch tag {
        case .artist: MPD_TAG_ARTIST
        case .album: MPD_TAG_ALBUM
        case .title: MPD_TAG_TITLE
        case .track: MPD_TAG_TRACK
        }
        try await run { h, c in try h.check(c, mpd_run_add_tag_id(c, try unsigned(id, "id"), type, value)) }
    }

    /// Empties the queue.
    public func clear() async throws {
        try await run { h, c in try h.check(c, mpd_run_clear(c)) }
    }

    /// Removes the song at a queue position.
    public func delete(position: Int) async throws {
        try await run { h, c in try h.check(c, mpd_run_delete(c, try unsigned(position, "position"))) }
    }

    /// Moves the song at queue position `from` to position `to`.
    public func move(from: Int, to: Int) async throws {
        try await run { h, c in try h.check(c, mpd_run_move(c, try unsigned(from, "from"), try unsigned(to, "to"))) }
    }

    /// Lists the queue.
    public func queue() async throws -> [MPDQueueItem] {
        try await run { h, c in
            try h.check(c, mpd_send_list_queue_meta(c))
            var items: [MPDQueueItem] = []
            while let song = mpd_recv_song(c) {
                defer { mpd_song_free(song) }
                let ms = mpd_song_get_duration_ms(song)
                items.append(MPDQueueItem(
                    position: Int(mpd_song_get_pos(song)),
                    id: Int(mpd_song_get_id(song)),
                    uri: String(cString: mpd_song_get_uri(song)),
                    title: mpd_song_get_tag(song, MPD_TAG_TITLE, 0).map { String(cString: $0) },
                    artist: mpd_song_get_tag(song, MPD_TAG_ARTIST, 0).map { String(cString: $0) },
                    album: mpd_song_get_tag(song, MPD_TAG_ALBUM, 0).map { String(cString: $0) },
                    durationMs: ms > 0 ? Int(ms) : nil
                ))
            }
            try h.finish(c)
            return items
        }
    }

    // MARK: Playback

    /// Starts playing at a queue position, or resumes/starts the current song when nil.
    public func play(position: Int? = nil) async throws {
        try await run { h, c in
            if let position {
                try h.check(c, mpd_run_play_pos(c, try unsigned(position, "position")))
            } else {
                try h.check(c, mpd_run_play(c))
            }
        }
    }

    /// Pauses (true) or resumes (false).
    public func pause(_ paused: Bool) async throws {
        try await run { h, c in try h.check(c, mpd_run_pause(c, paused)) }
    }

    /// Stops playback.
    public func stop() async throws {
        try await run { h, c in try h.check(c, mpd_run_stop(c)) }
    }

    /// Plays the next song in the queue.
    public func next() async throws {
        try await run { h, c in try h.check(c, mpd_run_next(c)) }
    }

    /// Plays the previous song in the queue.
    public func previous() async throws {
        try await run { h, c in try h.check(c, mpd_run_previous(c)) }
    }

    /// Seeks the song at a queue position to a time in milliseconds.
    public func seek(position: Int, ms: Int) async throws {
        try await run { h, c in
            let pos = try unsigned(position, "position")
            let time = try unsigned(ms, "ms")
            try h.check(c, cmpd_send_seek_pos_ms(c, pos, time))
            try h.check(c, mpd_response_finish(c))
        }
    }

    /// Sets the mixer volume, 0...100.
    public func setVolume(_ volume: Int) async throws {
        try await run { h, c in try h.check(c, mpd_run_set_volume(c, try unsigned(volume, "volume"))) }
    }

    /// Clears MPD's last playback error (the `error:` field of status).
    public func clearError() async throws {
        try await run { h, c in try h.check(c, mpd_run_clearerror(c)) }
    }

    /// Reads MPD's status.
    public func status() async throws -> MPDStatus {
        try await run { h, c in
            try h.check(c, mpd_send_status(c))
            guard let status = mpd_status_begin() else { throw MPDError(.protocol, "out of memory") }
            defer { mpd_status_free(status) }
            var durationMs: Int?
            while let pair = mpd_recv_pair(c) {
                mpd_status_feed(status, pair)
                if strcmp(pair.pointee.name, "duration") == 0, let seconds = Double(String(cString: pair.pointee.value)) {
                    durationMs = Int((seconds * 1000).rounded())
                }
                mpd_return_pair(c, pair)
            }
            try h.finish(c)
            return Self.status(status, durationMs: durationMs)
        }
    }

    // MARK: Events

    /// Waits on this connection's thread until MPD reports a change in `events`; returns [] after `timeoutMs`.
    ///
    /// Cancelling the task ends the wait with `CancellationError` and leaves the connection usable;
    /// `close()` ends it with `.closed`.
    public func idle(_ events: Set<MPDIdleEvent> = Set(MPDIdleEvent.allCases), timeoutMs: Int? = nil) async throws -> Set<MPDIdleEvent> {
        let mask = MPDIdleEvent.mask(events)
        guard mask != 0 else { throw MPDError(.usage, "idle needs at least one event") }
        let handle = self.handle
        let number = handle.nextIdle()
        return try await withTaskCancellationHandler {
            try await run { h, c in try h.idle(c, mask: mask, number: number, timeoutMs: timeoutMs) }
        } onCancel: {
            handle.cancelIdle(number)
        }
    }

    // MARK: Plumbing

    /// Runs a body with the C handle on the connection's thread and awaits its result.
    private func run<T: Sendable>(_ body: @escaping @Sendable (MPDHandle, OpaquePointer) throws -> T) async throws -> T {
        let handle = self.handle
        return try await withCheckedThrowingContinuation { continuation in
            let accepted = thread.submit {
                continuation.resume(with: Result { try handle.withConnection { try body(handle, $0) } })
            }
            if !accepted { continuation.resume(throwing: MPDError(.closed, "connection is closed")) }
        }
    }

    /// Builds an `MPDStatus` from libmpdclient's parsed status.
    private static func status(_ s: OpaquePointer, durationMs: Int?) -> MPDStatus {
        let state: MPDStatus.State = switch mpd_status_get_state(s) {
        case MPD_STATE_PLAY: .play
        case MPD_STATE_PAUSE: .pause
        default: .stop
        }
        let position = Int(mpd_status_get_song_pos(s))
        let id = Int(mpd_status_get_song_id(s))
        let volume = Int(mpd_status_get_volume(s))
        let total = Int(mpd_status_get_total_time(s))
        let playing = state != .stop
        return MPDStatus(
            state: state,
            songPosition: position >= 0 ? position : nil,
            songID: id >= 0 ? id : nil,
            elapsedMs: playing ? Int(mpd_status_get_elapsed_ms(s)) : nil,
            durationMs: durationMs ?? (playing && total > 0 ? total * 1000 : nil),
            volume: volume >= 0 ? volume : nil,
            error: mpd_status_get_error(s).map { String(cString: $0) },
            queueLength: Int(mpd_status_get_queue_length(s)),
            queueVersion: Int(mpd_status_get_queue_version(s))
        )
    }
}

/// libmpdclient writes with send() without MSG_NOSIGNAL; a write to a dead MPD must not kill the process.
private let ignoreSIGPIPE: Void = {
    _ = signal(SIGPIPE, SIG_IGN)
}()

/// Converts a non-negative Int to the `unsigned` libmpdclient takes.
private func unsigned(_ value: Int, _ name: String) throws(MPDError) -> UInt32 {
    guard value >= 0, value <= Int(UInt32.max) else { throw MPDError(.usage, "\(name) out of range: \(value)") }
    return UInt32(value)
}
