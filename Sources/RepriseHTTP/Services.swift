import GRDB
import Logging
import RepriseCore
import RepriseStore
import Synchronization

/// Everything the HTTP routes need, built once by `reprise serve` (or a test).
public struct AppServices: Sendable {
    public var db: DatabasePool
    public var clock: any WallClock
    public var users: UserStore
    public var sessions: SessionStore
    public var tokens: StreamTokenStore
    public var leases: LeaseStore
    public var gc: GarbageCollector
    public var catalog: CatalogStore
    public var ledger: StreamLedger
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

    public init(db: DatabasePool, clock: any WallClock, users: UserStore, sessions: SessionStore, tokens: StreamTokenStore, leases: LeaseStore, gc: GarbageCollector, catalog: CatalogStore, ledger: StreamLedger, scan: (@Sendable () async throws -> ScanSummary)? = nil, publicURL: String = "http://127.0.0.1:8460", tokenPolicy: any TokenPolicy = DefaultTokenPolicy(), maxBodyBytes: Int = 1 << 20, logger: Logger = Logger(label: "reprise.http")) {
        self.db = db
        self.clock = clock
        self.users = users
        self.sessions = sessions
        self.tokens = tokens
        self.leases = leases
        self.gc = gc
        self.catalog = catalog
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
