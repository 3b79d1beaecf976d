import Crypto

/// Lowercase hex SHA-256, the digest form Ampache's legacy handshakes are built from.
public enum SHA256Hex {
    /// The hex SHA-256 of the UTF-8 bytes of `text`.
    public static func of(_ text: String) -> String { hex(digest(text)) }

    /// The raw SHA-256 of the UTF-8 bytes of `text`.
    public static func digest(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares two strings without an early exit on the first difference.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
