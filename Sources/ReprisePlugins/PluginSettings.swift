import LuaHost

/// The `plugins:` section as the plugin host uses it, already validated.
public struct PluginSettings: Sendable, Equatable {
    /// The plugins enabled when `plugins.enabled` is not set.
    public static let defaultEnabled = ["default_tokens", "default_expiry"]

    /// Folders searched, in order, for `<name>.lua`.
    public var paths: [String]
    /// Plugin names, in the order their hooks are consulted.
    public var enabled: [String]
    /// Whether `enabled` was set in the configuration; default plugins that are missing are then errors.
    public var enabledExplicitly: Bool
    /// Each plugin's `plugins.config.<name>` section, visible to it as `reprise.config`.
    public var config: [String: LuaValue]
    /// Lua instructions one hook call may run.
    public var budgetInstructions: Int
    /// Bytes each VM may hold.
    public var memoryLimit: Int
    /// VMs per pool created up front (each with every plugin loaded).
    public var poolSize: Int
    /// The configuration file, named in error messages.
    public var file: String

    /// Creates settings; the defaults match an absent `plugins:` section.
    public init(
        paths: [String] = ["plugins"], enabled: [String]? = nil, config: [String: LuaValue] = [:],
        budgetInstructions: Int = 1_000_000, memoryLimit: Int = 32 << 20, poolSize: Int = 4, file: String = "config"
    ) {
        self.paths = paths
        self.enabled = enabled ?? Self.defaultEnabled
        self.enabledExplicitly = enabled != nil
        self.config = config
        self.budgetInstructions = budgetInstructions
        self.memoryLimit = memoryLimit
        self.poolSize = poolSize
        self.file = file
    }

    /// The VM limits these settings ask for.
    public var limits: LuaLimits {
        LuaLimits(instructionBudget: budgetInstructions, memoryLimitBytes: memoryLimit)
    }
}
