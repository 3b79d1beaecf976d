/// A snapshot of MPD's `status` response.
public struct MPDStatus: Sendable, Equatable {
    /// MPD's player state.
    public enum State: String, Sendable, Equatable {
        case stop, play, pause
    }

    /// Whether MPD is stopped, playing or paused.
    public var state: State
    /// Queue position of the current song, nil if there is none.
    public var songPosition: Int?
    /// Queue id of the current song, nil if there is none.
    public var songID: Int?
    /// Time into the current song in milliseconds, nil when stopped.
    public var elapsedMs: Int?
    /// Length of the current song in milliseconds, nil when unknown or stopped.
    public var durationMs: Int?
    /// Mixer volume 0...100, nil when MPD has no usable mixer.
    public var volume: Int?
    /// MPD's last playback error (the `error:` field), nil if none.
    public var error: String?
    /// Number of songs in the queue.
    public var queueLength: Int
    /// The queue's version (`playlist:`), which MPD bumps on every change to the queue.
    public var queueVersion: Int = 0

    /// Makes a status from its fields.
    public init(
        state: State, songPosition: Int? = nil, songID: Int? = nil, elapsedMs: Int? = nil,
        durationMs: Int? = nil, volume: Int? = nil, error: String? = nil, queueLength: Int = 0, queueVersion: Int = 0
    ) {
        self.queueVersion = queueVersion
        self.state = state
        self.songPosition = songPosition
        self.songID = songID
        self.elapsedMs = elapsedMs
        self.durationMs = durationMs
        self.volume = volume
        self.error = error
        self.queueLength = queueLength
    }
}

/// One song in MPD's queue.
public struct MPDQueueItem: Sendable, Equatable {
    /// Position in the queue, from 0.
    public var position: Int
    /// Queue id, stable while the song stays queued.
    public var id: Int
    /// The URI MPD plays.
    public var uri: String
    /// The title tag, if MPD knows one.
    public var title: String?
    /// The artist and album tags, if MPD knows them.
    public var artist: String?
    public var album: String?
    /// Length in milliseconds, nil when unknown (e.g. a stream not yet opened).
    public var durationMs: Int?

    /// Makes a queue item from its fields.
    public init(position: Int, id: Int, uri: String, title: String? = nil, artist: String? = nil, album: String? = nil, durationMs: Int? = nil) {
        self.position = position
        self.id = id
        self.uri = uri
        self.title = title
        self.artist = artist
        self.album = album
        self.durationMs = durationMs
    }
}

/// A subsystem whose change `idle` reports, named as in MPD's protocol.
public enum MPDIdleEvent: String, Sendable, CaseIterable, Hashable {
    case database
    case storedPlaylist = "stored_playlist"
    case playlist
    case player
    case mixer
    case output
    case options
    case update
    case sticker
    case subscription
    case message
    case partition
    case neighbor
    case mount

    /// The `enum mpd_idle` bit for this event.
    var bit: UInt32 {
        switch self {
        case .database: 0x1
        case .storedPlaylist: 0x2
        case .playlist: 0x4
        case .player: 0x8
        case .mixer: 0x10
        case .output: 0x20
        case .options: 0x40
        case .update: 0x80
        case .sticker: 0x100
        case .subscription: 0x200
        case .message: 0x400
        case .partition: 0x800
        case .neighbor: 0x1000
        case .mount: 0x2000
        }
    }

    /// The bit mask for a set of events.
    static func mask(_ events: Set<MPDIdleEvent>) -> UInt32 {
        events.reduce(0) { $0 | $1.bit }
    }

    /// The events present in a bit mask.
    static func events(_ mask: UInt32) -> Set<MPDIdleEvent> {
        Set(allCases.filter { mask & $0.bit != 0 })
    }
}

/// A tag a client may set on a queued remote song (`addtagid`).
public enum MPDTag: String, Sendable, CaseIterable {
    case artist = "Artist", album = "Album", title = "Title", track = "Track"
}
