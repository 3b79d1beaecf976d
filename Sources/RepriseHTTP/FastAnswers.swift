import RepriseSync

/// Answers a feature module gives on the event loop, from memory only, before Hummingbird sees the
/// request (`StreamFastPath`); a module registers one per path and returns nil for anything it
/// cannot answer without I/O, which then takes the full path.
///
/// ```swift
/// app.fastAnswers.register(paths: ["/rest/getCoverArt"]) { query, header in nil }
/// ```
public final class FastAnswers: Sendable {
    /// A complete response held in memory.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public init(status: Int, headers: [(String, String)], body: [UInt8]) { (self.status, self.headers, self.body) = (status, headers, body) }
    }

    /// Given the query string (after `?`) and a request header lookup, an answer or nil.
    public typealias Handler = @Sendable (_ query: Substring, _ header: (String) -> String?) -> Answer?

    private let handlers = Locked<[String: Handler]>([:])

    public init() {}

    /// Registers `handler` for each exact path.
    public func register(paths: [String], _ handler: @escaping Handler) {
        handlers.withLock { h in for p in paths { h[p] = handler } }
    }

    /// The handler for `path`, if a module registered one.
    func handler(for path: Substring) -> Handler? {
        handlers.withLock { $0[String(path)] }
    }

    /// Whether any handler is registered (the fast path skips the lookup otherwise).
    var isEmpty: Bool { handlers.withLock { $0.isEmpty } }
}
