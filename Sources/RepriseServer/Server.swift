import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RepriseConfig
import RepriseCore
import RepriseHTTP
import RepriseSQLite
import RepriseStorage
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
        try Self.checkListenable(host: settings.httpHost, port: settings.httpPort)
        raiseOpenFileLimit(logger: logger)
        let core = try ServerCore(settings: settings, logger: logger)
        try await firstStart(core, logger: logger)

        let loops = MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoops > 0 ? settings.eventLoops : usableCPUs())
        defer { loops.shutdownGracefully { _ in } }
        let group = core.serviceGroup(eventLoops: loops, signals: [.sigterm, .sigint], logger: logger) { port in
            logger.notice("reprise listening", metadata: ["http.address": "\(settings.httpHost):\(port)", "http.public_url": "\(settings.publicURL)", "database.path": "\(settings.databasePath)"])
        }
        try await group.run()
    }

    /// Fails with one line naming the address when `host:port` cannot be bound (in use, or not ours).
    static func checkListenable(host: String, port: Int) throws {
        guard port != 0 else { return }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw RepriseError(.config, "cannot listen on \(host):\(port): the host does not resolve (http.host)")
        }
        let fd = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        if rc != 0 {
            let why = errno == EADDRINUSE ? "the address is already in use" : String(cString: strerror(errno))
            throw RepriseError(.config, "cannot listen on \(host):\(port): \(why) (http.host, http.port)")
        }
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
                (type the password and press Enter), or start with REPRISE_ADMIN_PASSWORD set,
                or open \(core.settings.publicURL)/setup in a browser and enter the setup code \(core.setupCode.value)
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

/// Raises the soft limit on open files to the hard limit: every connection and stream holds descriptors.
func raiseOpenFileLimit(logger: Logger) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    let before = limit.rlim_cur
    limit.rlim_cur = limit.rlim_max
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
        logger.debug("raised the open-file limit", metadata: ["limit.before": "\(before)", "limit.now": "\(limit.rlim_cur)"])
    }
}
