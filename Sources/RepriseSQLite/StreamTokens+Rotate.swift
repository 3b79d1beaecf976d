import Foundation
import RepriseCore
import RepriseStorage

extension StreamTokenStore {
    /// Revokes the user's active tokens with `label` and issues a new one; returns it and the number revoked.
    public func rotate(user: User, label: String, policy: any TokenPolicy) async throws -> (Secret, StreamTokenInfo, Int) {
        try await issue(user: user, label: label, requestedTTLSeconds: nil, policy: policy, replacing: true)
    }
}
