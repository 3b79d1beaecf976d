#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host API a VM exposes to Lua as `reprise.<module>.<name>`, plus the log sink and clock.
///
/// ```swift
/// var registry = HostFunctionRegistry()
/// registry.register("library", "count") { args in [.integer(42)] }
/// // Lua: local n, err = reprise.library.count()
/// ```
/// A function that throws returns `nil, message` to Lua instead of raising.
public struct HostFunctionRegistry: Sendable {
    /// A host function: Lua arguments in, Lua results out.
    public typealias Function = @Sendable ([LuaValue]) throws -> [LuaValue]
    /// Receives `reprise.log.*` and `print` output.
    public typealias LogSink = @Sendable (_ level: String, _ plugin: String, _ message: String, _ fields: [String: LuaValue]) -> Void

    /// One registered function.
    struct Entry: Sendable {
        var module: String
        var name: String
        var function: Function
    }

    private(set) var functions: [Entry] = []
    private(set) var values: [(name: String, value: LuaValue)] = []

    /// Milliseconds since the Unix epoch, returned by `reprise.now()`.
    public var clock: @Sendable () -> Int64
    /// Where plugin log lines go.
    public var logSink: LogSink

    /// Creates a registry with the wall clock and a log sink that drops everything.
    public init(
        clock: @escaping @Sendable () -> Int64 = HostFunctionRegistry.wallClockMilliseconds,
        logSink: @escaping LogSink = { _, _, _, _ in }
    ) {
        self.clock = clock
        self.logSink = logSink
    }

    /// Registers `function` as `reprise.<module>.<name>`; a later registration of the same name wins,
    /// also over the built-ins (`log`, `json`, `now`, `backend`).
    public mutating func register(_ module: String, _ name: String, _ function: @escaping Function) {
        functions.append(Entry(module: module, name: name, function: function))
    }

    /// Registers a plain value, visible read-only as `reprise.<name>` in every plugin.
    public mutating func register(value: LuaValue, as name: String) {
        values.append((name, value))
    }

    /// The current wall-clock time in milliseconds since the Unix epoch.
    @Sendable public static func wallClockMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Host functions under one `reprise.<namespace>` table (`mpd`, `http`), added to a registry
/// before a VM loads its plugins.
public protocol LuaHostModule: Sendable {
    /// The table's name under `reprise`.
    var namespace: String { get }
    /// Adds the module's functions.
    func register(into registry: inout HostFunctionRegistry)
    /// Releases what the module holds (connections) when its owner lets the player go.
    func closeAll()
    /// Ends a blocking wait in progress (MPD's `idle`) early, so that a command queued behind it runs now.
    func interrupt()
}

extension LuaHostModule {
    public func closeAll() {}
    public func interrupt() {}
}
