import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RepriseCore
import RepriseHTTP
import RepriseSQLite
import RepriseStorage
import ServiceLifecycle
import UnixSignals

extension ServerCore {
    /// Everything `reprise serve` runs, as one group: the HTTP application on `http.host`/`http.port`,
    /// the stream ledger, plugin reloads (SIGHUP), GC, scans and the players. Tests run the same group.
    ///
    ///     let group = core.serviceGroup(eventLoops: loops, signals: [.sigterm], logger: logger) { port in print(port) }
    ///     try await group.run()
    public func serviceGroup(
        eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, signals: [UnixSignal] = [], logger: Logger,
        onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> ServiceGroup {
        let settings = self.settings
        let app = Application(
            router: buildRouter(services, modules: routeModules),
            server: .reprise(
                services, serverName: "reprise/\(Reprise.version)", sendfile: settings.sendfile,
                limits: ConnectionLimits(
                    requestTimeout: .milliseconds(settings.requestTimeout), bodyTimeout: .milliseconds(settings.bodyTimeout),
                    maxPerPeer: settings.maxConnectionsPerPeer)),
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: "reprise/\(Reprise.version)"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? settings.httpPort) },
            eventLoopGroupProvider: .shared(eventLoops),
            logger: logger
        )
        var list: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: StreamLedgerService(ledger: ledger, logger: logger)),
            .init(service: PluginReloadService(plugins: plugins, logger: logger)),
            .init(service: app),
            .init(service: GCService(collector: gc, settings: gcSettings, clock: ContinuousClock(), logger: logger)),
            .init(service: StreamWatch(ledger: ledger, tokens: tokens, users: users, clock: ContinuousClock(), logger: logger)),
            .init(service: ScanService(scanner: scanner, onStart: settings.scanOnStart, intervalMs: settings.scanInterval, logger: logger)),
        ]
        if let playback { list.append(.init(service: playback)) }
        return ServiceGroup(configuration: .init(services: list, gracefulShutdownSignals: signals, logger: logger))
    }
}
