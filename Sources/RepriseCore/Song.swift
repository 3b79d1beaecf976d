/// A song in the catalog. Times are UTC epoch ms; `path` never comes from a request.
public struct Song: Sendable, Equatable, Codable {
    public var id: Int64
    public var path: String
    public var size: Int64
    public var mtimeMs: Int64
    public var title: String
    public var artist: String
    public var artistId: Int64
    public var album: String
    public var albumId: Int64
    public var albumArtist: String?
    public var track: Int?
    public var disc: Int?
    public var year: Int?
    public var genre: String?
    public var durationMs: Int64
    public var bitrate: Int
    public var sampleRate: Int
    public var channels: Int
    /// One of mp3, flac, ogg, opus, m4a, wav.
    public var format: String
    /// What the scan found wrong with the file (`truncated: ...`), if anything.
    public var problem: String?

    public init(id: Int64, path: String, size: Int64, mtimeMs: Int64, title: String, artist: String, artistId: Int64, album: String, albumId: Int64, albumArtist: String?, track: Int?, disc: Int?, year: Int?, genre: String?, durationMs: Int64, bitrate: Int, sampleRate: Int, channels: Int, format: String, problem: String? = nil) {
        self.problem = problem
        self.id = id
        self.path = path
        self.size = size
        self.mtimeMs = mtimeMs
        self.title = title
        self.artist = artist
        self.artistId = artistId
        self.album = album
        self.albumId = albumId
        self.albumArtist = albumArtist
        self.track = track
        self.disc = disc
        self.year = year
        self.genre = genre
        self.durationMs = durationMs
        self.bitrate = bitrate
        self.sampleRate = sampleRate
        self.channels = channels
        self.format = format
    }

    /// The MIME type a stream of this song is served with.
    public var mimeType: String {
        switch format {
        case "mp3": "audio/mpeg"
        case "flac": "audio/flac"
        case "ogg": "audio/ogg"
        case "opus": "audio/ogg; codecs=opus"
        case "m4a": "audio/mp4"
        case "wav": "audio/wav"
        default: "application/octet-stream"
        }
    }
}

/// What a scan writes for one file.
public struct SongFile: Sendable, Equatable {
    public var id: Int64?
    public var path: String
    public var size: Int64
    public var mtimeMs: Int64
    public var title: String
    public var artist: String
    public var album: String
    public var albumArtist: String?
    public var track: Int?
    public var disc: Int?
    public var year: Int?
    public var genre: String?
    public var durationMs: Int64
    public var bitrate: Int
    public var sampleRate: Int
    public var channels: Int
    public var format: String
    /// Whether the file embeds a picture.
    public var hasArt: Bool
    /// What is wrong with the file though it plays (`truncated: ...`), if anything.
    public var problem: String?

    public init(id: Int64?, path: String, size: Int64, mtimeMs: Int64, title: String, artist: String, album: String, albumArtist: String?, track: Int?, disc: Int?, year: Int?, genre: String?, durationMs: Int64, bitrate: Int, sampleRate: Int, channels: Int, format: String, hasArt: Bool = false, problem: String? = nil) {
        self.hasArt = hasArt
        self.problem = problem
        self.id = id
        self.path = path
        self.size = size
        self.mtimeMs = mtimeMs
        self.title = title
        self.artist = artist
        self.album = album
        self.albumArtist = albumArtist
        self.track = track
        self.disc = disc
        self.year = year
        self.genre = genre
        self.durationMs = durationMs
        self.bitrate = bitrate
        self.sampleRate = sampleRate
        self.channels = channels
        self.format = format
    }
}

/// An artist with its number of songs.
public struct ArtistInfo: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var songCount: Int
    public var albumCount: Int
    public init(id: Int64, name: String, songCount: Int, albumCount: Int) {
        self.id = id
        self.name = name
        self.songCount = songCount
        self.albumCount = albumCount
    }
}

/// An album with its artist and number of songs.
public struct AlbumInfo: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var artist: String
    public var artistId: Int64
    public var year: Int?
    public var songCount: Int
    public var durationMs: Int64
    public init(id: Int64, name: String, artist: String, artistId: Int64, year: Int?, songCount: Int, durationMs: Int64) {
        self.id = id
        self.name = name
        self.artist = artist
        self.artistId = artistId
        self.year = year
        self.songCount = songCount
        self.durationMs = durationMs
    }
}

/// A file or folder a scan could not read, skipped or flagged, and why.
public struct ScanProblem: Sendable, Equatable, Codable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
}

/// Totals of one catalog scan.
public struct ScanSummary: Sendable, Equatable, Codable {
    public var added: Int
    public var updated: Int
    public var removed: Int
    public var unchanged: Int
    public var skipped: Int
    public var errors: Int
    /// Wall time of the whole scan in milliseconds, to the microsecond: a rescan takes a few.
    public var durationMs: Double
    public var filesPerSecond: Double
    /// Each file or folder the scan could not read, skipped or flagged, and why (the first `maxProblems`).
    public var problems: [ScanProblem] = []
    public static let maxProblems = 1_000
    public init(added: Int, updated: Int, removed: Int, unchanged: Int, skipped: Int, errors: Int, durationMs: Double, filesPerSecond: Double) {
        self.added = added
        self.updated = updated
        self.removed = removed
        self.unchanged = unchanged
        self.skipped = skipped
        self.errors = errors
        self.durationMs = durationMs
        self.filesPerSecond = filesPerSecond
    }
}
