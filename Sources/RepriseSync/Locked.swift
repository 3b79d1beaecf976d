#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex, with `Synchronization.Mutex`'s `withLock`.
///
/// Swift 6.3's `Mutex` on Linux locks with a futex that ThreadSanitizer does not model: every
/// access under it is reported as a race (docs/hardening.md), which blinds `make sanitize`.
/// ThreadSanitizer understands pthread mutexes, so Reprise locks with this.
///
///     let hits = Locked([String: Int]())
///     hits.withLock { $0["a", default: 0] += 1 }
public final class Locked<Value>: @unchecked Sendable {
    // Inlinable, like `Mutex`: every module specializes `withLock` for its values (hot paths lock per request).
    @usableFromInline var value: Value
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock; do not lock again from inside.
    @inlinable
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
