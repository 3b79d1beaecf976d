import ArgumentParser
import RepriseServer

/// `reprise serve`: the HTTP API and the GC scheduler, until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTP API and run GC in-process.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on (overrides http.host).") var host: String?
    @Option(help: "Port to listen on (overrides http.port).") var port: Int?
    @Option(help: "SQLite database path (overrides database.path).") var database: String?

    func run() async throws {
        var overrides: [String: String] = [:]
        if let host { overrides["http.host"] = host }
        if let port { overrides["http.port"] = String(port) }
        if let database { overrides["database.path"] = database }
        try await Server(settings: try global.settings(overrides: overrides), configPath: global.config).run()
    }
}
