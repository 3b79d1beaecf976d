/// Resource limits of one VM.
public struct LuaLimits: Sendable, Hashable {
    /// Lua instructions a single top-level call may run.
    public var instructionBudget: Int
    /// Bytes the whole VM may hold while Lua code runs.
    public var memoryLimitBytes: Int
    /// Lua instructions the loading of one plugin (its chunk and self-check) may run.
    public var loadInstructionBudget: Int
    /// Wall-clock ms one hook call may take, pattern matching included; 0: no deadline.
    public var hookDeadlineMs: Int
    /// Wall-clock ms the loading of one plugin may take.
    public var loadDeadlineMs: Int
    /// Wall-clock ms one backend call may take (it waits on its player through host functions).
    public var backendDeadlineMs: Int

    /// Creates limits; the defaults suit small hooks.
    public init(instructionBudget: Int = 10_000_000, memoryLimitBytes: Int = 64 << 20, loadInstructionBudget: Int = 50_000_000,
                hookDeadlineMs: Int = 500, loadDeadlineMs: Int = 5_000, backendDeadlineMs: Int = 60_000) {
        self.instructionBudget = instructionBudget
        self.memoryLimitBytes = memoryLimitBytes
        self.loadInstructionBudget = loadInstructionBudget
        self.hookDeadlineMs = hookDeadlineMs
        self.loadDeadlineMs = loadDeadlineMs
        self.backendDeadlineMs = backendDeadlineMs
    }
}

/// A plugin file to load: `name` is the file stem, `config` becomes `reprise.config`.
public struct PluginSource: Sendable, Hashable {
    /// The plugin's name, used in calls and logs.
    public var name: String
    /// Path of the `.lua` file; its directory is the root for `require`.
    public var path: String
    /// The plugin's configuration, visible read-only as `reprise.config`.
    public var config: LuaValue

    /// Creates a source; `name` defaults to the file stem of `path`.
    public init(path: String, name: String? = nil, config: LuaValue = .table([:])) {
        self.path = path
        self.config = config
        if let name {
            self.name = name
        } else {
            let file = path.split(separator: "/").last.map(String.init) ?? path
            self.name = file.hasSuffix(".lua") ? String(file.dropLast(4)) : file
        }
    }
}

/// A loaded plugin as described by its returned table.
public struct PluginInfo: Sendable, Hashable {
    /// The plugin's name (its file stem).
    public var name: String
    /// The `version` field of the plugin table, if any.
    public var version: String?
    /// The names of the hooks it defines, sorted.
    public var hooks: [String]

    /// Creates a description.
    public init(name: String, version: String?, hooks: [String]) {
        self.name = name
        self.version = version
        self.hooks = hooks
    }
}
