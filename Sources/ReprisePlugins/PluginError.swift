import LuaHost

/// A plugin that cannot be found, configured or loaded; `message` names the file (and line).
public struct PluginError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable { case notFound, config, load }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// An enabled plugin has no file in `plugins.paths`.
        public static let notFound = Code(.notFound)
        /// A `plugins.*` key has a wrong value.
        public static let config = Code(.config)
        /// A plugin file fails to compile, run, return its table or pass its self-check.
        public static let load = Code(.load)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, starting with `file:line:` when Lua knows them.
    public let message: String
    /// The plugin involved, when known.
    public let plugin: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, plugin: String? = nil) {
        self.code = code
        self.message = message
        self.plugin = plugin
    }

    /// Wraps a load failure of the Lua host.
    init(_ error: LuaError) {
        self.init(.load, error.message, plugin: error.plugin)
    }

    public var description: String { message }
}
