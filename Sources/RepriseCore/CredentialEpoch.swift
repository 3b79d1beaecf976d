import Synchronization

/// A number that changes whenever a credential changes in this process (a password, a user
/// disabled, a client password revoked, an API key replaced): caches of accepted credentials keep
/// the number they were filled under and miss once it moved.
public final class CredentialEpoch: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    /// Marks a change; call it after the change is stored.
    public func bump() { value.add(1, ordering: .sequentiallyConsistent) }
    /// The current number; read it before the reads whose answer is cached.
    public var current: Int { value.load(ordering: .sequentiallyConsistent) }
}
