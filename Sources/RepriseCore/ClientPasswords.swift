import Crypto
import Foundation

/// A password a user mints for one Subsonic app (Subsonic's token auth needs the plaintext, which
/// bcrypt cannot give back): labelled, optionally expiring, revocable, shown once.
public struct ClientPasswordInfo: Sendable, Equatable, Codable {
    public var id: Int64
    public var userId: Int64
    public var label: String
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var lastUsedAt: Int64?
    public var revokedAt: Int64?
    public init(id: Int64, userId: Int64, label: String, createdAt: Int64, expiresAt: Int64?, lastUsedAt: Int64?, revokedAt: Int64?) {
        (self.id, self.userId, self.label, self.createdAt, self.expiresAt, self.lastUsedAt, self.revokedAt) = (id, userId, label, createdAt, expiresAt, lastUsedAt, revokedAt)
    }

    /// Whether it authenticates at `now`.
    public func usable(at now: Int64) -> Bool { revokedAt == nil && (expiresAt.map { $0 > now } ?? true) }
}

/// Seals and opens secrets with AES-GCM under a 256-bit key kept outside the database.
///
///     let box = try SecretBox(base64: env["REPRISE_SECRET_KEY"]!)
///     let sealed = try box.seal("pw", context: "client-password:7")
public struct SecretBox: Sendable {
    /// The key's bytes (`SymmetricKey` is not `Sendable`; one is made per use).
    private let bytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    public init(key bytes: [UInt8]) throws(RepriseError) {
        guard bytes.count == 32 else { throw RepriseError(.config, "the secret key must be 32 bytes (256 bits), not \(bytes.count)") }
        self.bytes = bytes
    }

    /// A key given as base64 (or 64 hex digits).
    public init(text: String) throws(RepriseError) {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.count == 64, t.allSatisfy(\.isHexDigit) {
            var bytes: [UInt8] = []
            var i = t.startIndex
            while i < t.endIndex {
                let j = t.index(i, offsetBy: 2)
                bytes.append(UInt8(t[i..<j], radix: 16)!)
                i = j
            }
            try self.init(key: bytes)
        } else if let data = Data(base64Encoded: t) {
            try self.init(key: [UInt8](data))
        } else {
            throw RepriseError(.config, "the secret key is neither base64 nor 64 hex digits")
        }
    }

    /// `plaintext` sealed (nonce, ciphertext and tag), bound to `context`.
    public func seal(_ plaintext: String, context: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(Array(plaintext.utf8), using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw RepriseError(.internal, "AES-GCM gave no combined box") }
        return [UInt8](combined)
    }

    /// The plaintext of `sealed`, or nil when it was not sealed with this key and context.
    public func open(_ sealed: [UInt8], context: String) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Array(context.utf8)) else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }

    /// A new client password: 24 characters without look-alikes (about 119 bits), in groups of four.
    public static func newClientPassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        var rng = SystemRandomNumberGenerator()
        let chars = (0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
        return stride(from: 0, to: 24, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-")
    }
}
