import Crypto

/// A bearer secret (session id or stream token): 256 random bits, shown once, stored as SHA-256.
///
/// Its `description` never shows the secret, so it is safe to log by accident.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What a secret grants; its prefix tells the kinds apart before any lookup.
    public enum Kind: String, Sendable {
        case session = "rs_"
        case streamToken = "rt_"
    }

    /// The text handed to the client, e.g. `rs_<43 base64url chars>`.
    public let plaintext: String
    public let kind: Kind

    /// Creates a fresh secret from the system CSPRNG.
    public static func generate(_ kind: Kind) -> Secret {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 { bytes[i] = UInt8.random(in: .min ... .max, using: &rng) }
        return Secret(plaintext: kind.rawValue + Base64URL.encode(bytes), kind: kind)
    }

    /// Wraps a presented credential when its shape is right; nil otherwise.
    public static func presented(_ text: String) -> Secret? {
        for kind in [Kind.session, .streamToken] where text.hasPrefix(kind.rawValue) {
            let body = text.dropFirst(kind.rawValue.count)
            guard body.utf8.count == 43, body.utf8.allSatisfy(Base64URL.isAlphabet) else { return nil }
            return Secret(plaintext: text, kind: kind)
        }
        return nil
    }

    /// The SHA-256 of the plaintext: the only form that is stored.
    public var hash: SecretHash { SecretHash(Array(SHA256.hash(data: Array(plaintext.utf8)))) }

    public var description: String { "\(kind.rawValue)<redacted>" }
    public var debugDescription: String { description }
}

/// The stored form of a secret: 32 bytes of SHA-256, compared in constant time.
public struct SecretHash: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Compares two hashes without an early exit.
    public func constantTimeEquals(_ other: SecretHash) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        var diff: UInt8 = 0
        for i in bytes.indices { diff |= bytes[i] ^ other.bytes[i] }
        return diff == 0
    }

    /// The row id a session with this hash is stored under: the hash's first 53 bits, never 0.
    ///
    /// Looking a session up by row id needs no index on the random hash, which every GC batch
    /// would rewrite; 53 bits stay exact as a JSON number.
    public var rowId: Int64 {
        var n: UInt64 = 0
        for b in bytes.prefix(8) { n = n << 8 | UInt64(b) }
        let id = Int64(n >> 11)
        return id == 0 ? 1 : id
    }

    public var description: String { "<hash>" }
}

/// URL-safe base64 without padding (RFC 4648 §5), the alphabet of every secret.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func isAlphabet(_ c: UInt8) -> Bool {
        (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 || c == 95
    }
}

/// Hides credentials in text that may reach a log, an event or an API field.
///
/// Covers `token=`, `ssid=`, `auth=`, `apikey=`, `password=` query values, path segments after
/// `/ssid/`, `/token/` or `/auth/`, and `rs_`/`rt_`/`ak_` secrets anywhere.
public enum Redactor {
    /// Returns `text` with every credential replaced by `<redacted>`.
    ///
    /// ```swift
    /// Redactor.redact("/stream/1?token=rt_abc&x=1") // "/stream/1?token=<redacted>&x=1"
    /// ```
    public static func redact(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var rest = Substring(text)
        let keys = ["token=", "ssid=", "auth=", "apikey=", "password="]
        let segments = ["/ssid/", "/token/", "/auth/"]
        outer: while !rest.isEmpty {
            for key in keys where rest.hasPrefix(key) {
                let prev = out.last
                if prev == nil || prev == "?" || prev == "&" || prev == ";" || prev == " " || prev == "\"" || prev == "'" {
                    out += key + "<redacted>"
                    rest = rest.dropFirst(key.count)
                    while let c = rest.first, c != "&", c != " ", c != "#", c != ";", c != "\"", c != "'" { rest = rest.dropFirst() }
                    continue outer
                }
            }
            for segment in segments where rest.hasPrefix(segment) {
                out += segment + "<redacted>"
                rest = rest.dropFirst(segment.count)
                while let c = rest.first, c != "/", c != "?", c != " ", c != "#", c != "\"", c != "'" { rest = rest.dropFirst() }
                continue outer
            }
            for prefix in ["rs_", "rt_", "ak_"] where rest.hasPrefix(prefix) {
                let body = rest.dropFirst(3).prefix { $0.isASCII && Base64URL.isAlphabet($0.asciiValue!) }
                if body.count >= 16 {
                    out += prefix + "<redacted>"
                    rest = rest.dropFirst(3 + body.count)
                    continue outer
                }
            }
            out.append(rest.removeFirst())
        }
        return out
    }

    /// `redact(text)` with control characters escaped (`\n`, `\u{1b}`), so one call is one log line.
    public static func line(_ text: String) -> String {
        StoredText.escapingControls(redact(text))
    }
}
