import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
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

        let loops = MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoops > 0 ? settings.eventLoops : usableCPUs())
        defer { loops.shutdownGracefully { _ in } }
        let app = Application(
            router: buildRouter(core.services, extensions: core.routeExtensions),
            server: settings.sendfile ? .reprise(fastPath: core.services, serverName: "reprise/\(Reprise.version)") : .http1(),
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: "reprise/\(Reprise.version)"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.httpPort
                logger.notice("reprise listening", metadata: ["http.address": "\(settings.httpHost):\(port)", "http.public_url": "\(settings.publicURL)", "database.path": "\(settings.databasePath)"])
            },
            eventLoopGroupProvider: .shared(loops),
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

/// The CPUs this process may run on (its affinity mask, as `taskset` sets it), at least one.
func usableCPUs() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let list = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.dropFirst("Cpus_allowed_list:".count)
    return list.flatMap { cpuCount(list: String($0)) } ?? max(1, System.coreCount)
}

/// The number of CPUs in a kernel CPU list such as `0-3,6`; nil when it does not parse.
func cpuCount(list: String) -> Int? {
    var count = 0
    for part in list.trimmingCharacters(in: .whitespaces).split(separator: ",", omittingEmptySubsequences: false) {
        let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        switch bounds.count {
        case 1: guard bounds[0] != nil else { return nil }; count += 1
        case 2:
            guard let a = bounds[0], let b = bounds[1], a <= b else { return nil }
            count += b - a + 1
        default: return nil
        }
    }
    return count > 0 ? count : nil
}
