import RepriseCore

// What the APIs and players need of storage, in domain types. `RepriseSQLite` implements each
// protocol over SQLite (GRDB); another engine adds a module that implements them, and the
// composition root (`RepriseServer`) picks one. Nothing here names an engine.

/// Accounts: passwords (bcrypt), roles, lookups.
public protocol UserRepository: Sendable {
    /// Creates a user; fails with `.conflict` when the name is taken.
    @discardableResult func add(name: String, password: String, role: Role) async throws -> User
    /// Replaces a user's password.
    func setPassword(name: String, password: String) async throws
    /// Disables a user (or enables them again); unknown names fail.
    func setDisabled(name: String, _ disabled: Bool) async throws
    /// Makes a user an admin or a user; unknown names fail.
    func setRole(name: String, _ role: Role) async throws
    /// The user whose password this is, or nil (unknown, wrong, disabled); as slow for every answer.
    func verify(name: String, password: String) async throws -> User?
    func list() async throws -> [User]
    func find(name: String) async throws -> User?
    func count() async throws -> Int
}

/// Login sessions: creation, authentication with sliding expiry, logout, listing.
public protocol SessionRepository: Sendable {
    func create(user: User, kind: SessionKind, client: String?, agent: String?, ip: String?) async throws -> (Secret, SessionInfo)
    /// The live session for `secret`, extended under the expiry policy; nil when unknown or expired.
    func authenticate(_ secret: Secret) async throws -> AuthenticatedSession?
    /// Ends the session for `secret`; false when there was none.
    @discardableResult func logout(_ secret: Secret) async throws -> Bool
    /// Ends the session with `id`; false when there was none.
    @discardableResult func delete(id: Int64) async throws -> Bool
    func list(limit: Int) async throws -> [SessionInfo]
    /// One user's sessions, newest first.
    func list(userId: Int64) async throws -> [SessionInfo]
    /// Ends every session of a user but `except`; how many ended.
    @discardableResult func endAll(userId: Int64, except: Int64?) async throws -> Int
    func countByKind() async throws -> [SessionKind: Int]
}

extension SessionRepository {
    public func create(user: User, kind: SessionKind) async throws -> (Secret, SessionInfo) {
        try await create(user: user, kind: kind, client: nil, agent: nil, ip: nil)
    }
    public func list() async throws -> [SessionInfo] { try await list(limit: 1000) }
}

/// What memory alone says of a presented stream token, for callers that must not suspend.
public enum CachedTokenAnswer: Sendable {
    /// Usable (a reload or a `last_used_at` write that is due runs in the background).
    case valid(AuthenticatedToken)
    /// Looked up and not found a moment ago, malformed, revoked, expired, or of a disabled user.
    case invalid
    /// Memory cannot tell: ask `authenticate`.
    case unknown
}

/// Long-lived revocable stream tokens.
public protocol StreamTokenRepository: Sendable {
    /// Mints a token under `policy` (which may refuse or bound its lifetime).
    func issue(user: User, label: String, requestedTTLSeconds: Int64?, policy: any TokenPolicy) async throws -> (Secret, StreamTokenInfo)
    func authenticate(_ secret: Secret) async throws -> AuthenticatedToken?
    /// `authenticate` from memory only; `hash` must be `secret.hash`.
    func authenticateCached(_ secret: Secret, hash: SecretHash) -> CachedTokenAnswer
    /// Revokes a token at once; with `userId`, only that user's.
    @discardableResult func revoke(id: Int64, userId: Int64?) async throws -> Bool
    func list(userId: Int64?) async throws -> [StreamTokenInfo]
    func find(id: Int64) async throws -> StreamTokenInfo?
    /// Revokes the user's tokens with `label` and mints one in their place, in one transaction; returns how many were revoked.
    func rotate(user: User, label: String, policy: any TokenPolicy) async throws -> (Secret, StreamTokenInfo, Int)
}

extension StreamTokenRepository {
    public func authenticateCached(_ secret: Secret) -> CachedTokenAnswer { authenticateCached(secret, hash: secret.hash) }
    @discardableResult public func revoke(id: Int64) async throws -> Bool { try await revoke(id: id, userId: nil) }
}

/// How API keys look.
public enum ApiKeyFormat {
    /// The prefix that tells an API key apart from sessions (`rs_`) and stream tokens (`rt_`).
    public static let prefix = "ak_"
}

/// API keys (one per user) and the Ampache handshake's password digests.
public protocol ApiKeyRepository: Sendable {
    /// Replaces the user's API key with a new one, returned once.
    func rotate(userId: Int64) async throws -> String
    /// Removes the user's API key; false when they had none.
    @discardableResult func revoke(userId: Int64) async throws -> Bool
    /// When the user's API key was made, or nil without one.
    func createdAt(userId: Int64) async throws -> Int64?
    func user(forKey key: String) async throws -> User?
    /// The user whose Ampache `auth` (an API key or its legacy digest) this is, given their name.
    func user(name: String, legacyAuth auth: String) async throws -> User?
    /// The user whose Ampache `auth` this is, without a name.
    func user(legacyAuth auth: String) async throws -> User?
    /// The user and the hex SHA-256 of their password, for the Ampache handshake.
    func passwordDigest(name: String) async throws -> (User, String)?
}

/// What a lease protects from GC.
public enum LeaseTarget: Sendable, Hashable {
    case session(Int64)
    case token(Int64)
}

/// Durable leases: a session or token GC must not collect while a stream or player uses it.
public protocol LeaseRepository: Sendable {
    /// How long a lease lives without renewal, ms.
    var ttlMs: Int64 { get }
    func acquire(_ target: LeaseTarget, holder: String) async throws -> Int64
    func renew(_ id: Int64) async throws -> Bool
    func release(_ id: Int64) async throws
}

/// The catalog as its readers see it: songs, artists, albums.
public protocol CatalogRepository: Sendable {
    /// The song if memory holds it (no I/O: for the event loop).
    func cachedSong(id: Int64) -> Song?
    /// The song; `fresh` skips the cache.
    func song(id: Int64, fresh: Bool) async throws -> Song?
    /// The songs with `ids`, in that order, unknown ones left out.
    func songs(ids: [Int64]) async throws -> [Song]
    /// A page of songs matching a text query and filters, with the total.
    func songs(query: String?, title: String?, artist: String?, album: String?, albumId: Int64?, artistId: Int64?, genre: String?, years: ClosedRange<Int>?, exact: Bool, limit: Int, offset: Int) async throws -> (total: Int, songs: [Song])
    func artists(limit: Int, offset: Int, query: String?) async throws -> (total: Int, artists: [ArtistInfo])
    func albums(limit: Int, offset: Int, query: String?, artistId: Int64?) async throws -> (total: Int, albums: [AlbumInfo])
    func artist(id: Int64) async throws -> ArtistInfo?
    func album(id: Int64) async throws -> AlbumInfo?
    /// The albums with `ids`, in that order, unknown ones left out (one query).
    func albums(ids: [Int64]) async throws -> [AlbumInfo]
    /// The artists with `ids`, in that order, unknown ones left out (one query).
    func artists(ids: [Int64]) async throws -> [ArtistInfo]
    func counts() async throws -> (songs: Int, albums: Int, artists: Int)
    /// When songs were last added and updated (epoch ms).
    func lastChanges() async throws -> (added: Int64?, updated: Int64?)
    /// Every song matching the filters in listening order: by artist, then each album (earliest
    /// year first) in disc and track order.
    func playOrder(artistId: Int64?, albumId: Int64?) async throws -> [SongPlace]
}

/// Where a song sits in the catalog: what autoplay needs to play albums and artists in order.
public struct SongPlace: Sendable, Equatable {
    public var id: Int64
    public var albumId: Int64
    public var artistId: Int64
    public init(id: Int64, albumId: Int64, artistId: Int64) { (self.id, self.albumId, self.artistId) = (id, albumId, artistId) }
}

extension CatalogRepository {
    public func song(id: Int64) async throws -> Song? { try await song(id: id, fresh: false) }
    public func songs(query: String?, title: String? = nil, artist: String?, album: String?, albumId: Int64? = nil, artistId: Int64? = nil, genre: String? = nil, years: ClosedRange<Int>? = nil, exact: Bool = false, limit: Int, offset: Int) async throws -> (total: Int, songs: [Song]) {
        try await songs(query: query, title: title, artist: artist, album: album, albumId: albumId, artistId: artistId, genre: genre, years: years, exact: exact, limit: limit, offset: offset)
    }
    public func artists(limit: Int = 10_000, offset: Int = 0, query: String? = nil) async throws -> (total: Int, artists: [ArtistInfo]) {
        try await artists(limit: limit, offset: offset, query: query)
    }
    public func albums(limit: Int = 10_000, offset: Int = 0, query: String? = nil, artistId: Int64? = nil) async throws -> (total: Int, albums: [AlbumInfo]) {
        try await albums(limit: limit, offset: offset, query: query, artistId: artistId)
    }
    public func playOrder(artistId: Int64? = nil, albumId: Int64? = nil) async throws -> [SongPlace] {
        try await playOrder(artistId: artistId, albumId: albumId)
    }
}

/// What a catalog scan needs of storage: every indexed file, and a way to write its result.
public protocol CatalogWriting: Sendable {
    /// Builds an index with `make` (given the number of songs) and adds each song's path bytes, id,
    /// size and mtime to it with `add`, in id order.
    func index<Index: Sendable>(
        _ make: @escaping @Sendable (Int) -> Index, add: @escaping @Sendable (inout Index, UnsafeBufferPointer<UInt8>, Int64, Int64, Int64) -> Void
    ) async throws -> Index
    /// Writes a scan's result in short transactions; ids of kept paths never change.
    func apply(inserts: [SongFile], updates: [SongFile], removed: [Int64], batchSize: Int) async throws
    /// Each album's song folders and its current folder image.
    func albumFolders() async throws -> [(album: Int64, folders: [String], art: String?)]
    /// The folder images albums use now.
    func albumArtPaths() async throws -> Set<String>
    /// Sets (or clears) the image file an album's art is read from.
    func setArt(album: Int64, path: String?) async throws
}

extension CatalogWriting {
    public func apply(inserts: [SongFile], updates: [SongFile], removed: [Int64]) async throws {
        try await apply(inserts: inserts, updates: updates, removed: removed, batchSize: 500)
    }
}

/// Each supervised player's persisted state and its event log.
public protocol PlayerStateRepository: Sendable {
    func load(_ name: String) async throws -> PlayerState?
    func save(_ name: String, _ state: PlayerState) async throws
    /// Appends an event to the player's log (the latest 500 are kept).
    func record(_ name: String, kind: String, source: PlayerEvent.Source, message: String) async throws
    /// The latest events, newest first.
    func events(_ name: String, limit: Int) async throws -> [PlayerEvent]
}

extension PlayerStateRepository {
    public func events(_ name: String) async throws -> [PlayerEvent] { try await events(name, limit: 50) }
}

/// Session and token garbage collection, on demand and its history.
public protocol GarbageCollecting: Sendable {
    func runOnce(dryRun: Bool) async throws -> GCRunStats
    /// The latest passes, newest first.
    func recentRuns(limit: Int) async throws -> [GCRunStats]
}

extension GarbageCollecting {
    public func runOnce() async throws -> GCRunStats { try await runOnce(dryRun: false) }
    public func recentRuns() async throws -> [GCRunStats] { try await recentRuns(limit: 20) }
}

/// Whether storage can be read and written (`/healthz`).
public protocol StorageHealth: Sendable {
    func check() async -> StorageStatus
}

/// Storage's state as `/healthz` reports it.
public enum StorageStatus: Sendable, Equatable {
    case ok
    /// Nothing can be read.
    case unavailable
    /// Reads work; writes fail because the disk is full.
    case full
    /// Reads work; writes fail (read-only, I/O errors), with the engine's words.
    case failing(String)
}

/// The listener's library: playlists, stars, ratings, plays, lists, search, genres, art locations.
///
/// Playlist writes take the acting user: only the owner edits; a public playlist is readable by all.
public protocol LibraryRepository: Sendable {
    /// The viewer's playlists and everyone's public ones, by name.
    func playlists(viewer: Int64) async throws -> [Playlist]
    /// The playlist if the viewer may read it.
    func playlist(id: Int64, viewer: Int64) async throws -> Playlist?
    /// The playlist's songs in order (nil: no such playlist for the viewer).
    func playlistSongs(id: Int64, viewer: Int64) async throws -> [Song]?
    func createPlaylist(owner: Int64, name: String, comment: String, isPublic: Bool, songs: [Int64]) async throws -> Playlist
    func editPlaylist(id: Int64, owner: Int64, name: String?, comment: String?, isPublic: Bool?) async throws -> Playlist
    /// Inserts songs at `at` (0-based; nil: at the end).
    func addToPlaylist(id: Int64, owner: Int64, songs: [Int64], at: Int?) async throws -> Playlist
    /// Removes the entries at 0-based `positions`.
    func removeFromPlaylist(id: Int64, owner: Int64, positions: [Int]) async throws -> Playlist
    /// Moves the entry at `from` to `to` (0-based).
    func moveInPlaylist(id: Int64, owner: Int64, from: Int, to: Int) async throws -> Playlist
    /// Replaces every entry (Subsonic `createPlaylist` with an id, saved queues).
    func replacePlaylistSongs(id: Int64, owner: Int64, songs: [Int64]) async throws -> Playlist
    func deletePlaylist(id: Int64, owner: Int64) async throws

    /// Stars (or unstars) items; unknown ids are not found.
    func star(user: Int64, kind: ItemKind, ids: [Int64], on: Bool) async throws
    /// Sets a rating 1 to 5; 0 removes it.
    func rate(user: Int64, kind: ItemKind, id: Int64, rating: Int) async throws
    /// The user's marks on these items (every id has one, possibly empty).
    func annotations(user: Int64, kind: ItemKind, ids: [Int64]) async throws -> [Int64: Annotation]
    /// Records a play; a repeat of the same song by the same user within `windowMs` is not counted again. Returns whether it counted.
    @discardableResult func recordPlay(user: Int64, song: Int64, at: Int64, source: PlaySource, client: String?, windowMs: Int64) async throws -> Bool

    /// Ids of a list for the user, in its order, with the list's total.
    func list(_ list: LibraryList, kind: ItemKind, user: Int64, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64])
    /// Ids of items matching words, case- and accent-folded, each word a prefix: songs over title, artist,
    /// album and album artist; albums over album and album artist; artists over artist and album artist.
    func search(_ text: String, kind: ItemKind, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64])
    func genres() async throws -> [Genre]
    func genre(id: Int64) async throws -> Genre?
    /// Ids of songs or albums in a genre (by name, case-folded), in catalog order.
    func ids(kind: ItemKind, genre: String, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64])
    /// Ids of songs or albums in a year range, in catalog order.
    func ids(kind: ItemKind, years: ClosedRange<Int>, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64])
    /// Songs like this one: the same artist first, then the same genre, at random.
    func similar(song: Int64, limit: Int) async throws -> [Int64]
    /// Where an item's picture is, if it has one.
    func art(kind: ItemKind, id: Int64) async throws -> ArtSource?
    /// Counts of genres and playlists (all users'), for handshakes.
    func counts() async throws -> (genres: Int, playlists: Int)
    /// The user's saved play queue (songs no longer in the catalog left out), if any.
    func playQueue(user: Int64) async throws -> PlayQueue?
    /// Saves the user's play queue (an empty list removes it).
    func savePlayQueue(user: Int64, _ queue: PlayQueue) async throws
    /// Which of these items have a picture (their own, their album's, or an artist's album's).
    func withArt(kind: ItemKind, ids: [Int64]) async throws -> Set<Int64>
    /// Ids of items whose songs match all (or any) of the rules, for the user (ratings, stars, plays are theirs).
    func search(rules: [SearchRule], matchAll: Bool, kind: ItemKind, user: Int64, random: Bool, limit: Int, offset: Int) async throws -> (total: Int, ids: [Int64])
}

/// An item's picture, ready to send.
public struct ArtImage: Sendable {
    public var bytes: [UInt8]
    public var mime: String
    /// Changes when the picture or its size changes.
    public var etag: String
    public init(bytes: [UInt8], mime: String, etag: String) { (self.bytes, self.mime, self.etag) = (bytes, mime, etag) }
}

/// Finds, scales and caches cover art.
public protocol ArtServing: Sendable {
    /// The item's picture scaled to fit `size` pixels (nil: as stored), or nil when it has none.
    func image(kind: ItemKind, id: Int64, size: Int?) async throws -> ArtImage?
    /// The same answer if memory holds a fresh one (no I/O: for the event loop), else nil.
    func cachedImage(kind: ItemKind, id: Int64, size: Int?) -> ArtImage?
}

extension ArtServing {
    public func cachedImage(kind: ItemKind, id: Int64, size: Int?) -> ArtImage? { nil }
}

/// Client passwords for Subsonic apps, sealed with a key kept outside the database.
public protocol ClientPasswordRepository: Sendable {
    /// Mints one for the user; the plaintext is returned once.
    func create(user: User, label: String, ttlSeconds: Int64?) async throws -> (String, ClientPasswordInfo)
    /// The user's (all users' when nil), newest first.
    func list(userId: Int64?) async throws -> [ClientPasswordInfo]
    /// Revokes one (only the user's own when `userId` is given); false when there is none.
    @discardableResult func revoke(id: Int64, userId: Int64?) async throws -> Bool
    /// The user's usable ones with their plaintexts, for Subsonic's token check.
    func usable(userId: Int64) async throws -> [(info: ClientPasswordInfo, password: String)]
    /// Notes a use (at most once a minute per password).
    func used(id: Int64) async throws
}
