import ArgumentParser
import Foundation
import RepriseServer

/// `reprise plugin ...`
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plugin", abstract: "Lua plugins.", subcommands: [Check.self, Bench.self])

    /// `reprise plugin check`: loads every enabled plugin, runs its self-check, reports all problems.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load every enabled plugin and run its self-check; exit 1 on any problem.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let (text, failed) = try pluginCheckReport(settings: try global.settings())
            print(text)
            if failed { throw ExitCode.failure }
        }
    }

    /// `reprise plugin bench`: what the enabled token policy costs per stream request (for `make bench`).
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Time token_authorize through the enabled plugins against the built-in policy; prints JSON.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Calls per batch.") var calls = 20_000
        @Option(help: "Batches; the median batch is reported.") var batches = 15

        func run() async throws {
            let result = try pluginBench(settings: try global.settings(), calls: max(1, calls), batches: max(1, batches))
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        }
    }
}
