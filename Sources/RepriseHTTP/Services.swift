import HTTPTypes
import Hummingbird
import Logging
import RepriseCore
import RepriseStorage
import Synchronization

/// Everything the HTTP routes need, built once by `reprise serve` (or a test).
public struct AppServices: Sendable {
    public var clock: any WallClock
    public var users: any UserRepository
    public var sessions: any SessionRepository
    public var tokens: any StreamTokenRepository
    public var apiKeys: any ApiKeyRepository
    public var leases: any LeaseRepository
    public var gc: any GarbageCollecting
    public var catalog: any CatalogRepository
    /// Playlists, stars, ratings, plays, search, genres, art locations.
    public var library: any LibraryRepository
    /// What users play now (announced by clients, or streaming).
    public var nowPlaying = NowPlayingBoard()
    /// Cover art: found, scaled and cached (nil: no art is served).
    public var art: (any ArtServing)?
    /// Client passwords for Subsonic apps (nil: none can be minted here).
    public var clientPasswords: (any ClientPasswordRepository)?
    /// The `playlist` token minted for each session, reused by its exports.
    public var playlistTokens = PlaylistTokens()
    public var ledger: StreamLedger
    /// Whether storage can be read and written (`/healthz`).
    public var health: any StorageHealth
    /// Runs a catalog scan (admin endpoint); nil when no catalog is configured.
    public var scan: (@Sendable () async throws -> ScanSummary)?
    /// Renders `/metrics`; nil when metrics are disabled.
    public var metrics: (@Sendable () async throws -> String)?
    /// A bearer token `/metrics` requires, when set.
    public var metricsToken: String?
    /// The base URL put in playlists and handed to players.
    public var publicURL: String
    public var tokenPolicy: any TokenPolicy
    /// Request bodies over this many bytes get 413.
    public var maxBodyBytes: Int
    public var logger: Logger
    /// Stream requests answered on the event loop by `StreamFastPath`.
    public var fastPathAnswers = Counter()
    /// Failed password and digest attempts, per user and per address (native login, Ampache handshake).
    public var loginThrottle = LoginThrottle()
    /// Moved by every credential change (password, disabled user, revoked client password, new API key).
    public var credentialEpoch = CredentialEpoch()
    /// Answers feature modules give on the event loop from memory (Subsonic's cached covers).
    public var fastAnswers = FastAnswers()
    /// The web UI's error page (status, code, message), for a browser asking for a page that does not exist.
    public var htmlErrorPage: (@Sendable (HTTPResponse.Status, String, String) -> Response)?

    public init(clock: any WallClock, users: any UserRepository, sessions: any SessionRepository, tokens: any StreamTokenRepository, apiKeys: any ApiKeyRepository, leases: any LeaseRepository, gc: any GarbageCollecting, catalog: any CatalogRepository, library: any LibraryRepository, ledger: StreamLedger, health: any StorageHealth, scan: (@Sendable () async throws -> ScanSummary)? = nil, publicURL: String = "http://127.0.0.1:8460", tokenPolicy: any TokenPolicy = DefaultTokenPolicy(), maxBodyBytes: Int = 1 << 20, logger: Logger = Logger(label: "reprise.http")) {
        self.clock = clock
        self.apiKeys = apiKeys
        self.health = health
        self.users = users
        self.sessions = sessions
        self.tokens = tokens
        self.leases = leases
        self.gc = gc
        self.catalog = catalog
        self.library = library
        self.ledger = ledger
        self.scan = scan
        self.publicURL = publicURL
        self.metrics = nil
        self.metricsToken = nil
        self.tokenPolicy = tokenPolicy
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }
}

/// A count shared by the copies of `AppServices`.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public func increment() { value.add(1, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}
