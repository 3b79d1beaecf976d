import Foundation
import GRDB
import Hummingbird
import LuaHost
import ReprisePlayback
import Logging
import RepriseAmpache
import RepriseArt
import RepriseSubsonic
import RepriseWeb
import RepriseConfig
import RepriseCore
import RepriseHTTP
import ReprisePlugins
import RepriseSQLite
import RepriseStorage
import RepriseSync

/// The stores and policies built from settings; shared by `serve` and the admin commands.
public struct ServerCore: Sendable {
    public let settings: RepriseSettings
    public let db: DatabasePool
    public let clock: any WallClock
    public let users: UserStore
    public let sessions: SessionStore
    public let tokens: StreamTokenStore
    public let leases: LeaseStore
    public let gc: GarbageCollector
    public let gcSettings: GCSettings
    /// The catalog's tables (scans write here).
    public let catalog: CatalogStore
    /// The catalog as the APIs and players read it: `catalog` with recently streamed songs in memory.
    public let songs: CachedCatalog
    public let ledger: StreamLedger
    /// Playlists, stars, ratings, plays, search, genres.
    public let library: LibraryStore
    /// Cover art, scaled and cached under the database's folder (`art-cache`).
    public let art: ArtStore
    /// Client passwords for Subsonic apps, sealed with the secret key.
    public let clientPasswords: ClientPasswordStore
    /// `ampache.localplay`: which player Ampache's `localplay` drives, per user.
    let ampacheLocalplay: [String: String]
    /// User name -> the player Subsonic's `jukeboxControl` drives (`subsonic.jukebox`).
    let subsonicJukebox: [String: String]
    public let scanner: LibraryScanner
    /// The token policy streams and new tokens are checked against.
    public let tokenPolicy: any TokenPolicy
    /// The enabled Lua plugins: token policy (unless one was given), expiry rules and events.
    public let plugins: PluginHost
    /// The supervised players of `playback.players`; nil when none are configured.
    public let playback: Playback?
    var metricsBox = MetricsBox()
    /// `GET /api/v1/openapi.json`, its document converted once.
    /// `docs/openapi.yaml` as JSON, served at `/api/v1/openapi.json`.
    let openAPI: Data
    /// The web UI's templates and assets (shipped as resources).
    let webAssets: WebAssets
    /// The one-time code `/setup` asks for while no user exists (`reprise serve` prints it).
    public let setupCode = SetupCode()
    /// Moved by every credential change the stores make (caches of accepted credentials miss then).
    public let credentialEpoch = CredentialEpoch()
    /// What feature modules answer on the event loop (shared by every copy of the services).
    let fastAnswers = FastAnswers()

    public init(settings: RepriseSettings, logger: Logger, tokenPolicy: (any TokenPolicy)? = nil, playbackTiming: SupervisorTiming = SupervisorTiming(), clock: any WallClock = SystemWallClock()) throws {
        self.settings = settings
        loginThrottle = LoginThrottle(maxFailures: settings.loginFailures, window: settings.loginWindow)
        self.clock = clock
        do {
            db = try RepriseDatabase.open(path: settings.databasePath, busyTimeoutMs: settings.busyTimeoutMs, readers: settings.databaseReaders)
        } catch let error as RepriseError {
            throw error
        } catch {
            throw RepriseError(.internal, "cannot open the database at \(settings.databasePath): \(error)")
        }
        plugins = try makePluginHost(settings: settings, db: db, logger: logger)
        do {
            openAPI = try OpenAPIDocument.json()
        } catch {
            throw RepriseError(.internal, "cannot read the shipped openapi.yaml: \(error)")
        }
        webAssets = try WebAssets.bundled()
        self.tokenPolicy = tokenPolicy ?? plugins
        users = UserStore(db: db, clock: clock, bcryptCost: UInt8(settings.bcryptCost), companions: [AmpachePasswordDigest()], epoch: credentialEpoch)
        sessions = SessionStore(db: db, clock: clock, policy: settings.policy, rules: plugins, events: plugins, logger: logger)
        tokens = StreamTokenStore(db: db, clock: clock, logger: logger)
        leases = LeaseStore(db: db, clock: clock)
        catalog = CatalogStore(db: db, clock: clock)
        songs = CachedCatalog(catalog, clock: clock)
        library = LibraryStore(db: db, clock: clock)
        art = ArtStore(library: library, cacheDir: settings.dataDirectory + "/art-cache", logger: logger)
        clientPasswords = ClientPasswordStore(db: db, clock: clock, box: try SecretKeyFile.box(settings), epoch: credentialEpoch)
        ledger = StreamLedger(db: db, clock: clock)
        ledger.observe { [plugins, songs, library, logger] r in
            guard r.status != .active else { return plugins.streamStarted(r) }
            plugins.streamFinished(r)
            // A supervised player's completed stream is a play of its owner.
            guard r.status == .completed, r.player != nil, let user = r.userId else { return }
            Task {
                guard let song = try? await songs.song(id: r.songId), StreamPlays.counts(r, songSize: song.size) else { return }
                do {
                    try await library.recordPlay(user: user, song: song.id, at: r.finishedAt ?? r.startedAt, source: .stream, client: r.player, windowMs: StreamPlays.windowMs(durationMs: song.durationMs))
                } catch {
                    logger.warning("could not record a play", metadata: ["song.id": "\(song.id)", "error": "\(error)"])
                }
            }
        }
        scanner = LibraryScanner(roots: settings.catalogPaths, catalog: catalog, logger: logger) { [songs] in songs.invalidate() }
        gcSettings = GCSettings(interval: settings.gcInterval, jitter: settings.gcJitter, batchSize: settings.gcBatchSize, tokenRetention: settings.tokenRetention)
        gc = GarbageCollector(db: db, clock: clock, policy: settings.policy, settings: gcSettings, rules: plugins, events: plugins, sessions: sessions, tokens: tokens, heldInMemory: ledger.leases, logger: logger)
        let players = try PlayerConfig.parse(try settings.playerEntries(), file: settings.file)
        let rules = try settings.playbackRules()
        ampacheLocalplay = try settings.ampacheLocalplay(players: players.map(\.name))
        subsonicJukebox = try settings.subsonicJukebox(players: players.map(\.name))
        if players.isEmpty {
            playback = nil
        } else {
            var env = PlaybackEnvironment(
                clock: clock, catalog: songs, tokens: tokens, users: users, ledger: ledger, states: PlayerStateStore(db: db, clock: clock),
                tokenPolicy: self.tokenPolicy, publicURL: settings.publicURL)
            env.rules = QueueRules(keepPlayed: rules.keepPlayed, shuffleWindow: rules.shuffleWindow)
            env.chooser = plugins
            // Backends run under the plugins' budget and memory cap (plugins.budget_instructions, memory_limit).
            playback = try Playback(players: players, env: env, pluginPaths: settings.pluginPaths, limits: try settings.pluginSettings().limits, timing: playbackTiming, logger: logger)
        }
    }

    /// Stream requests answered on the event loop, shared by every `services` copy.
    public let fastPathAnswers = Counter()
    /// What users play now, shared by every `services` copy.
    public let nowPlaying = NowPlayingBoard()
    /// Each session's `playlist` token, shared by every `services` copy.
    public let playlistTokens = PlaylistTokens()
    /// Failed logins, shared by every `services` copy (native API and Ampache alike).
    public let loginThrottle: LoginThrottle

    public var services: AppServices {
        let scanner = self.scanner
        var services = AppServices(
            clock: clock, users: users, sessions: sessions, tokens: tokens, apiKeys: ApiKeyStore(db: db, clock: clock, epoch: credentialEpoch), leases: leases, gc: gc,
            catalog: songs, library: library, ledger: ledger, health: SQLiteHealth(db: db), scan: { try await scanner.scan() }, publicURL: settings.publicURL, tokenPolicy: tokenPolicy, maxBodyBytes: settings.maxBodyBytes)
        services.fastPathAnswers = fastPathAnswers
        services.loginThrottle = loginThrottle
        services.nowPlaying = nowPlaying
        services.art = art
        services.clientPasswords = clientPasswords
        services.credentialEpoch = credentialEpoch
        services.fastAnswers = fastAnswers
        let webAssets = self.webAssets
        services.htmlErrorPage = { status, code, message in webAssets.errorResponse(status, code: code, message: message) }
        services.playlistTokens = playlistTokens
        if settings.metricsEnabled {
            let metrics = self.metrics
            services.metrics = { try await metrics.scrape() }
            services.metricsToken = settings.metricsToken
        }
        return services
    }

    /// The feature modules' routes (Ampache, plugins, OpenAPI, players) next to the core's.
    public var routeModules: [RouteModule] {
        var out: [RouteModule] = [ampacheRoutes(services, playback: playback, localplay: ampacheLocalplay), subsonicRoutes(services, playback: playback, jukebox: subsonicJukebox), pluginRoutes(plugins, app: services), openAPIRoutes(openAPI)]
        if let playback { out.append(localplayRoutes(playback, app: services)) }
        let plugins = self.plugins
        let scanner = self.scanner
        let admin = WebAdmin(
            plugins: { plugins.report().map { .init(name: $0.name, version: $0.version ?? "", file: $0.file, calls: $0.calls, errors: $0.errors, lastError: $0.lastError ?? "") } },
            reloadPlugins: {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    DispatchQueue.global().async { do { try plugins.reload(); c.resume() } catch { c.resume(throwing: error) } }
                }
            },
            scans: { scanner.recentScans })
        out.append(webRoutes(services, assets: webAssets, playback: playback, admin: admin, setup: setupCode))
        return out
    }

    /// The Prometheus metrics of this core.
    public var metrics: RepriseMetrics { metricsBox.value(self) }
}

/// Sets up logging to standard error at the configured level.
public func bootstrapLogging(level: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var h = RepriseLogHandler(label: label)
        h.logLevel = Logger.Level(rawValue: level) ?? .info
        return h
    }
    return Logger(label: "reprise")
}

/// Creates the metrics registry once, on first use.
final class MetricsBox: Sendable {
    private let metrics = Locked<RepriseMetrics?>(nil)
    func value(_ core: ServerCore) -> RepriseMetrics {
        metrics.withLock { m in
            if let m { return m }
            // The metrics keep a copy of the core: one without this box, or box, metrics and core would
            // hold each other and no core (its database, its files) would ever be freed.
            var detached = core
            detached.metricsBox = MetricsBox()
            let made = RepriseMetrics(core: detached)
            m = made
            return made
        }
    }
}
