import Foundation
import RepriseCore

extension StreamTokenStore {
    /// Revokes the user's active tokens with `label` and issues a new one; returns it and the number revoked.
    public func rotate(user: User, label: String, policy: any TokenPolicy) async throws -> (Secret, StreamTokenInfo, Int) {
        let label = label.trimmingCharacters(in: .whitespaces)
        let (secret, info) = try await issue(user: user, label: label, requestedTTLSeconds: nil, policy: policy)
        var revoked = 0
        for t in try await list(userId: user.id) where t.label == label && t.revokedAt == nil && t.id != info.id {
            if try await revoke(id: t.id, userId: user.id) { revoked += 1 }
        }
        return (secret, info, revoked)
    }
}
