import Foundation
import Hummingbird
import Logging
import RepriseConfig
import RepriseCore
import RepriseHTTP
import RepriseStore
import ServiceLifecycle

/// `reprise serve`: the HTTP API, GC and the other services, until SIGINT or SIGTERM.
public struct Server {
    public let settings: RepriseSettings
    /// The config file path shown in first-start hints.
    public let configPath: String

    public init(settings: RepriseSettings, configPath: String) {
        self.settings = settings
        self.configPath = configPath
    }

    public func run() async throws {
        let settings = self.settings
        let logger = bootstrapLogging(level: settings.logLevel)
        let core = try ServerCore(settings: settings, logger: logger)
        try await firstStart(core, logger: logger)

        let app = Application(
            router: buildRouter(core.services, extensions: core.routeExtensions),
            server: settings.sendfile ? .reprise(fastPath: core.services, serverName: "reprise/\(Reprise.version)") : .http1(),
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: "reprise/\(Reprise.version)"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.httpPort
                logger.notice("reprise listening", metadata: ["http.address": "\(settings.httpHost):\(port)", "http.public_url": "\(settings.publicURL)", "database.path": "\(settings.databasePath)"])
            },
            logger: logger
        )
        let gc = GCService(collector: core.gc, settings: core.gcSettings, clock: ContinuousClock(), logger: logger)
        let scan = ScanService(scanner: core.scanner, onStart: settings.scanOnStart, intervalMs: settings.scanInterval, logger: logger)
        let ledger = StreamLedgerService(ledger: core.ledger, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: ledger), .init(service: PluginReloadService(plugins: core.plugins, logger: logger)), .init(service: app), .init(service: gc), .init(service: scan)] + (core.playback.map { [.init(service: $0)] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Creates the first admin from REPRISE_ADMIN_PASSWORD, or says how to.
    func firstStart(_ core: ServerCore, logger: Logger) async throws {
        guard try await core.users.count() == 0 else { return }
        let env = ProcessInfo.processInfo.environment
        if let password = env["REPRISE_ADMIN_PASSWORD"], !password.isEmpty {
            let name = env["REPRISE_ADMIN_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "admin"
            try await core.users.add(name: name, password: password, role: .admin)
            logger.notice("created the first admin from REPRISE_ADMIN_PASSWORD", metadata: ["user.name": "\(name)"])
        } else {
            logger.notice("""
                no users yet: create the first admin with
                  reprise user add admin --admin --password-stdin --config \(configPath)
                (type the password and press Enter), or start with REPRISE_ADMIN_PASSWORD set
                """)
        }
    }
}
