/// The audio container/codec families the catalog serves.
public enum AudioFormat: String, Sendable, CaseIterable {
    case mp3, flac, ogg, opus, m4a, wav

    /// Returns the format a file extension suggests (case-insensitive), or nil.
    ///
    ///     AudioFormat(fileExtension: "OGA")  // .ogg
    public init?(fileExtension ext: String) {
        switch ext.lowercased() {
        case "mp3": self = .mp3
        case "flac": self = .flac
        case "ogg", "oga": self = .ogg
        case "opus": self = .opus
        case "m4a", "mp4", "aac": self = .m4a
        case "wav": self = .wav
        default: return nil
        }
    }
}

/// Tags and audio properties of one file; nil means absent (empty strings and zero numbers read as absent).
public struct TagInfo: Sendable, Equatable {
    /// Track title.
    public var title: String?
    /// Track artist.
    public var artist: String?
    /// Album title.
    public var album: String?
    /// Album artist (ALBUMARTIST / TPE2 / aART).
    public var albumArtist: String?
    /// Track number.
    public var track: Int?
    /// Disc number.
    public var disc: Int?
    /// Release year.
    public var year: Int?
    /// Genre.
    public var genre: String?
    /// Duration in milliseconds.
    public var durationMs: Int64
    /// Average bitrate in kbit/s.
    public var bitrate: Int
    /// Sample rate in Hz.
    public var sampleRate: Int
    /// Channel count.
    public var channels: Int
    /// Container/codec family.
    public var format: AudioFormat
    /// Whether the file embeds a picture.
    public var hasArt = false
    /// What is wrong with a file that still plays (`truncated: ...`), if anything.
    public var problem: String?

    /// Creates a value; every tag defaults to absent.
    public init(
        title: String? = nil, artist: String? = nil, album: String? = nil, albumArtist: String? = nil,
        track: Int? = nil, disc: Int? = nil, year: Int? = nil, genre: String? = nil,
        durationMs: Int64 = 0, bitrate: Int = 0, sampleRate: Int = 0, channels: Int = 0, format: AudioFormat
    ) {
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

    /// The artist used when a file has none.
    public static let unknownArtist = "Unknown Artist"

    /// Returns a copy with the catalog's fallbacks for untagged files: title from the file name
    /// without extension, album from the parent folder name, artist ``unknownArtist``.
    ///
    ///     info.withFallbacks(path: "/music/Live/01 Intro.mp3")  // title "01 Intro", album "Live"
    public func withFallbacks(path: String) -> TagInfo {
        var copy = self
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if copy.title == nil, let name = components.last {
            let stem = name.lastIndex(of: ".").map { $0 == name.startIndex ? name[...] : name[..<$0] } ?? name[...]
            copy.title = String(stem)
        }
        if copy.album == nil, components.count >= 2 {
            copy.album = String(components[components.count - 2])
        }
        if copy.artist == nil {
            copy.artist = TagInfo.unknownArtist
        }
        return copy
    }
}

/// An error from the catalog, identified by ``code``.
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, comparable with `==`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case fileUnreadable, unsupportedFormat, invalidFile
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file does not exist or cannot be opened for reading.
        public static let fileUnreadable = Code(.fileUnreadable)
        /// TagLib does not recognise the file type.
        public static let unsupportedFormat = Code(.unsupportedFormat)
        /// TagLib recognised the type but could not parse the file.
        public static let invalidFile = Code(.invalidFile)

        /// The code's name.
        public var description: String { value.rawValue }
    }

    /// The error kind.
    public let code: Code
    /// The file concerned.
    public let path: String
    /// A human-readable detail.
    public let detail: String

    /// Creates an error.
    public init(code: Code, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    /// `code: detail (path)`.
    public var description: String { "\(code): \(detail) (\(path))" }
}
