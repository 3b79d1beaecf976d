import ArgumentParser
import Foundation
import RepriseConfig
import RepriseCore

/// The `reprise` command.
@main
struct RepriseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reprise",
        abstract: "A music server whose playback survives session GC.",
        version: Reprise.version,
        subcommands: [Serve.self, UserCommand.self, TokenCommand.self, SessionCommand.self, GCCommand.self, ScanCommand.self, PluginCommand.self]
    )

    /// Runs the command and maps failures to exit codes: 1 failure, 2 usage or configuration error.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("reprise: configuration error: \(error.message)\n".utf8))
            Foundation.exit(2)
        } catch let error as RepriseError {
            FileHandle.standardError.write(Data("reprise: \(Redactor.redact(error.message))\n".utf8))
            Foundation.exit(error.code == .config || error.code == .badRequest ? 2 : 1)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue == 0 {
                // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data("\(fullMessage(for: error))\n".utf8))
            Foundation.exit(code == .validationFailure || code.rawValue == 64 ? 2 : 1)
        }
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Path of the YAML configuration file.")
    var config: String = "config/reprise.yaml"

    /// Loads the layered configuration with CLI overrides.
    func settings(overrides: [String: String] = [:]) throws -> RepriseSettings {
        try ConfigLoader.load(file: config, env: ProcessInfo.processInfo.environment, overrides: overrides)
    }
}

/// Reads a password from standard input (first line, without the newline).
func readPasswordFromStdin() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw RepriseError(.badRequest, "expected a password on standard input")
    }
    return line
}

/// Prints a value as pretty JSON with snake_case keys.
func printJSON(_ value: some Encodable) throws {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try e.encode(value), as: UTF8.self))
}

/// Formats epoch ms as ISO 8601 UTC for humans.
func iso(_ ms: Int64?) -> String {
    guard let ms else { return "-" }
    let f = ISO8601DateFormatter()
    return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
}
