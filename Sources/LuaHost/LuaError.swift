/// A failure of a Lua VM, plugin load or hook call; `message` keeps Lua's `file:line:` prefix.
public struct LuaError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What kind of failure this is; new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case syntax, runtime, budgetExceeded, memoryLimit, loadFailed, badPlugin, notFound
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A chunk does not compile.
        public static let syntax = Code(.syntax)
        /// Lua code raised an error.
        public static let runtime = Code(.runtime)
        /// A call used up its instruction budget.
        public static let budgetExceeded = Code(.budgetExceeded)
        /// The VM hit its memory cap.
        public static let memoryLimit = Code(.memoryLimit)
        /// A plugin file cannot be read, or a VM cannot be created.
        public static let loadFailed = Code(.loadFailed)
        /// A plugin loads but does not have the expected shape or fails its self-check.
        public static let badPlugin = Code(.badPlugin)
        /// The plugin or backend named in a call is not loaded.
        public static let notFound = Code(.notFound)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// Lua's message, usually starting with `file:line:`.
    public let message: String
    /// The plugin involved, when known.
    public let plugin: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, plugin: String? = nil) {
        self.code = code
        self.message = message
        self.plugin = plugin
    }

    public var description: String {
        if let plugin { return "\(code) in plugin '\(plugin)': \(message)" }
        return "\(code): \(message)"
    }
}
