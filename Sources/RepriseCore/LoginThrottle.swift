import RepriseSync

/// Limits password and digest guesses per user name and per address.
///
/// Each key (`user:ann`, `ip:10.0.0.2`) may fail `maxFailures` times in `window` ms; then every
/// attempt under that key is refused until the oldest failure leaves the window. A success
/// clears the user's failures, not the address's.
///
/// ```swift
/// if let wait = throttle.refusal(keys: ["user:ann", "ip:127.0.0.1"], now: now) { throw tooMany(wait) }
/// ```
public final class LoginThrottle: Sendable {
    /// Failures allowed per key inside the window.
    public let maxFailures: Int
    /// The window, ms.
    public let window: Int64
    /// Most keys remembered; the oldest are forgotten first.
    public static let maxKeys = 50_000

    private let failures = Locked<[String: [Int64]]>([:])

    public init(maxFailures: Int = 10, window: Int64 = 60_000) {
        self.maxFailures = max(1, maxFailures)
        self.window = max(1, window)
    }

    /// How long (ms) until any of `keys` may try again, or nil when all may try now.
    public func refusal(keys: [String], now: Int64) -> Int64? {
        failures.withLock { table in
            var wait: Int64?
            for key in keys {
                guard var times = table[key] else { continue }
                times.removeAll { now - $0 >= window || now < $0 - window }
                table[key] = times.isEmpty ? nil : times
                if times.count >= maxFailures, let oldest = times.first {
                    let w = max(1, oldest + window - now)
                    wait = max(wait ?? 0, w)
                }
            }
            return wait
        }
    }

    /// Records a failed attempt under every key.
    public func failed(keys: [String], now: Int64) {
        failures.withLock { table in
            if table.count >= Self.maxKeys {
                let stale = table.filter { $0.value.last.map { now - $0 >= window } ?? true }.map(\.key)
                for k in stale { table[k] = nil }
                if table.count >= Self.maxKeys { table.removeAll(keepingCapacity: true) }
            }
            for key in keys {
                var times = table[key] ?? []
                times.append(now)
                if times.count > maxFailures { times.removeFirst(times.count - maxFailures) }
                table[key] = times
            }
        }
    }

    /// Clears the failures of `keys` (after a success).
    public func succeeded(keys: [String]) {
        failures.withLock { table in for k in keys { table[k] = nil } }
    }

    /// The keys for an attempt by `user` from `address`.
    public static func keys(user: String?, address: String?) -> [String] {
        var keys: [String] = []
        if let user { keys.append("user:\(user)") }
        if let address { keys.append("ip:\(address)") }
        return keys
    }
}
