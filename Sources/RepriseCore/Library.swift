/// What a listener can star, rate and find art for.
public enum ItemKind: String, Sendable, Codable, CaseIterable {
    case song, album, artist
}

/// A stored playlist: ordered songs (duplicates allowed) that belong to one user.
public struct Playlist: Sendable, Equatable, Codable {
    public var id: Int64
    public var ownerId: Int64
    /// The owner's user name.
    public var owner: String
    public var name: String
    public var comment: String
    /// Readable (not writable) by every user.
    public var isPublic: Bool
    public var songCount: Int
    public var durationMs: Int64
    public var createdAt: Int64
    public var updatedAt: Int64
    public init(id: Int64, ownerId: Int64, owner: String, name: String, comment: String, isPublic: Bool, songCount: Int, durationMs: Int64, createdAt: Int64, updatedAt: Int64) {
        (self.id, self.ownerId, self.owner, self.name, self.comment, self.isPublic) = (id, ownerId, owner, name, comment, isPublic)
        (self.songCount, self.durationMs, self.createdAt, self.updatedAt) = (songCount, durationMs, createdAt, updatedAt)
    }

    /// The longest name and comment a playlist takes, and the most songs it holds.
    public static let maxName = 256
    public static let maxComment = 4_096
    public static let maxSongs = 20_000
}

/// One user's marks on an item: star (with its time), rating, and (songs) plays.
public struct Annotation: Sendable, Equatable, Codable {
    public var starredAt: Int64?
    /// 0 (unrated) to 5.
    public var rating: Int
    public var playCount: Int
    public var lastPlayedAt: Int64?
    public init(starredAt: Int64? = nil, rating: Int = 0, playCount: Int = 0, lastPlayedAt: Int64? = nil) {
        (self.starredAt, self.rating, self.playCount, self.lastPlayedAt) = (starredAt, rating, playCount, lastPlayedAt)
    }
}

/// A genre with its numbers of songs, albums and artists.
public struct Genre: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var songCount: Int
    public var albumCount: Int
    public var artistCount: Int
    public init(id: Int64, name: String, songCount: Int, albumCount: Int, artistCount: Int = 0) {
        (self.id, self.name, self.songCount, self.albumCount, self.artistCount) = (id, name, songCount, albumCount, artistCount)
    }
}

/// The ordered lists a library offers (Ampache `stats`, Subsonic `getAlbumList2`).
public enum LibraryList: String, Sendable, CaseIterable {
    /// Added most recently first.
    case newest
    /// Played most recently (by this user) first.
    case recent
    /// Played most often (by this user) first.
    case frequent
    /// Rated highest (by this user) first.
    case highest
    /// Starred (by this user), most recently first.
    case flagged
    case random
}

/// Where a play was seen: a client said so (scrobble), or a supervised player's stream completed.
public enum PlaySource: String, Sendable, Codable {
    case client, stream
}

/// A song being played now, by whom and where.
public struct NowPlaying: Sendable, Equatable, Codable {
    public var userId: Int64
    public var user: String
    public var songId: Int64
    /// The player or client name.
    public var player: String
    public var since: Int64
    public init(userId: Int64, user: String, songId: Int64, player: String, since: Int64) {
        (self.userId, self.user, self.songId, self.player, self.since) = (userId, user, songId, player, since)
    }
}

/// A user's saved play queue: songs, the current one (an index), where in it, when and from which client.
public struct PlayQueue: Sendable, Equatable, Codable {
    public var songs: [Int64]
    public var current: Int?
    public var positionMs: Int64
    public var changedAt: Int64
    public var changedBy: String
    public init(songs: [Int64], current: Int?, positionMs: Int64, changedAt: Int64, changedBy: String) {
        (self.songs, self.current, self.positionMs, self.changedAt, self.changedBy) = (songs, current, positionMs, changedAt, changedBy)
    }
}

/// Where an item's picture is: an image file, or the embedded picture of a song file.
public enum ArtSource: Sendable, Equatable {
    case file(String)
    case embedded(songPath: String)

    /// A stable key for caches and ETags.
    public var key: String {
        switch self {
        case .file(let p): "file:\(p)"
        case .embedded(let p): "embedded:\(p)"
        }
    }
}

/// One rule of an advanced search (Ampache `advanced_search`): a field, how it matches, a value.
public struct SearchRule: Sendable, Equatable {
    public enum Field: String, Sendable, CaseIterable {
        case title, artist, album, genre, year
        /// The user's rating of the item (0 when unrated).
        case rating
        /// Starred by the user, and the title matches.
        case favorite
        /// How often the user played it.
        case playedTimes = "played_times"

        /// Whether the field compares numbers.
        public var numeric: Bool { self == .year || self == .rating || self == .playedTimes }
    }

    public enum Match: Sendable, Equatable {
        case contains, notContains, startsWith, endsWith, equals, notEquals
        case atLeast, atMost, greater, less
    }

    public var field: Field
    public var match: Match
    public var value: String
    public init(field: Field, match: Match, value: String) { (self.field, self.match, self.value) = (field, match, value) }

    /// Ampache's operator numbers: for text 0 contains, 1 does not contain, 2 starts with, 3 ends with,
    /// 4 is, 5 is not; for numbers 0 >=, 1 <=, 2 =, 3 !=, 4 >, 5 <. Nil for another number.
    public static func match(ampache op: Int, numeric: Bool) -> Match? {
        let table: [Match] = numeric ? [.atLeast, .atMost, .equals, .notEquals, .greater, .less] : [.contains, .notContains, .startsWith, .endsWith, .equals, .notEquals]
        return table.indices.contains(op) ? table[op] : nil
    }
}
