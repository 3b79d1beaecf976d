import Logging
import LuaHost

/// `reprise plugin check`: loads every enabled plugin on its own and collects every problem.
public enum PluginCheck {
    /// The outcome for one enabled plugin.
    public struct Entry: Sendable, Equatable {
        /// The plugin's name.
        public var name: String
        /// Its file, when found.
        public var file: String?
        /// Its version, when it loaded.
        public var version: String?
        /// Its hooks, when it loaded.
        public var hooks: [String]
        /// What is wrong with it; empty when it loaded and passed its self-check.
        public var problems: [String]
    }

    /// The whole check.
    public struct Report: Sendable, Equatable {
        /// One entry per enabled plugin, in `plugins.enabled` order.
        public var entries: [Entry]
        /// Things worth knowing that are not failures.
        public var warnings: [String]
        /// Whether any plugin has a problem.
        public var failed: Bool { entries.contains { !$0.problems.isEmpty } }
    }

    /// Loads each enabled plugin in a fresh VM (load phase, `check()`), and checks hook names.
    public static func run(_ settings: PluginSettings, logger: Logger = Logger(label: "reprise.plugins.check")) -> Report {
        let found = PluginDiscovery.discover(settings)
        var warnings = found.warnings
        for name in found.skipped { warnings.append("\(name): not found; the built-in default applies") }
        let registry = PluginHost.registry(logger: logger, clock: HostFunctionRegistry.wallClockMilliseconds)
        var entries: [Entry] = []
        for name in settings.enabled where !found.skipped.contains(name) {
            var entry = Entry(name: name, file: nil, version: nil, hooks: [], problems: [])
            if let missing = found.problems.first(where: { $0.plugin == name }) {
                entry.problems.append(missing.message)
                entries.append(entry)
                continue
            }
            guard let source = found.sources.first(where: { $0.name == name }) else { continue }
            entry.file = source.path
            do {
                let vm = try LuaVM(limits: settings.limits, registry: registry)
                try vm.load(plugins: [source])
                if let info = vm.plugins.first {
                    entry.version = info.version
                    entry.hooks = info.hooks
                    for hook in info.hooks where !Hooks.names.contains(hook) {
                        entry.problems.append("\(source.path): unknown hook '\(hook)' (known: \(Hooks.names.sorted().joined(separator: ", ")))")
                    }
                }
            } catch let error as LuaError {
                entry.problems.append(error.message)
            } catch {
                entry.problems.append("\(source.path): \(error)")
            }
            entries.append(entry)
        }
        return Report(entries: entries, warnings: warnings)
    }
}
