import Foundation
import LuaHost

/// Finds enabled plugin files in `plugins.paths`.
public enum PluginDiscovery {

    /// One discovery: the sources to load, the default plugins skipped, and the problems found.
    public struct Result: Sendable {
        /// Plugins to load, in `plugins.enabled` order.
        public var sources: [PluginSource] = []
        /// Default plugins left out because no file exists and `plugins.enabled` was not set.
        public var skipped: [String] = []
        /// Enabled plugins without a file.
        public var problems: [PluginError] = []
        /// Config sections for plugins that are not enabled.
        public var warnings: [String] = []
    }

    /// Looks up `<dir>/<name>.lua` for every enabled plugin, first folder first.
    public static func discover(_ settings: PluginSettings) -> Result {
        var result = Result()
        for name in settings.enabled {
            let file = settings.paths.lazy
                .map { ($0 as NSString).appendingPathComponent("\(name).lua") }
                .first { FileManager.default.fileExists(atPath: $0) }
            if let file {
                result.sources.append(PluginSource(path: file, name: name, config: settings.config[name] ?? .table([:])))
            } else if !settings.enabledExplicitly && PluginSettings.defaultEnabled.contains(name) {
                result.skipped.append(name)
            } else {
                result.problems.append(PluginError(
                    .notFound, "\(settings.file): plugins.enabled: no file \(name).lua in plugins.paths (\(settings.paths.joined(separator: ", ")))",
                    plugin: name))
            }
        }
        for name in settings.config.keys.sorted() where !settings.enabled.contains(name) {
            result.warnings.append("\(settings.file): plugins.config.\(name): no enabled plugin has this name; the section is ignored")
        }
        return result
    }

    /// The file of backend plugin `name`: `<dir>/backends/<name>.lua`, first folder first.
    public static func backendFile(named name: String, in paths: [String]) -> String? {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { return nil }
        return paths.lazy.map { ($0 as NSString).appendingPathComponent("backends/\(name).lua") }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The sources to load; throws the first problem.
    public static func sources(_ settings: PluginSettings) throws -> [PluginSource] {
        let result = discover(settings)
        if let problem = result.problems.first { throw problem }
        return result.sources
    }
}
