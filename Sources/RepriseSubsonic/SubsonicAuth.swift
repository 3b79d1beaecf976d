import Crypto
import Foundation
import Hummingbird
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseStorage
import RepriseSync

/// A Subsonic request's parameters: the query string and a form-encoded POST body (`formPost`),
/// names repeated as clients repeat them (`id=1&id=2`).
struct SubsonicParams: Sendable {
    var values: [String: [String]] = [:]

    subscript(_ name: String) -> String? { values[name]?.first }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// A boolean, any case (`true`, `TRUE`, `1`); nil when absent.
    func bool(_ name: String) -> Bool? {
        guard let v = self[name]?.lowercased() else { return nil }
        return v == "true" || v == "1"
    }

    /// An integer in `range`, `fallback` when absent; error 0 when malformed or out of range.
    func int(_ name: String, _ range: ClosedRange<Int>, fallback: Int) throws -> Int {
        guard let raw = self[name] else { return fallback }
        guard let v = Int(raw), range.contains(v) else { throw SubsonicError(.generic, "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)") }
        return v
    }

    init(values: [String: [String]] = [:]) { self.values = values }

    /// The parameters of a query string (or form body).
    init<S: StringProtocol>(query: S) { add(query) }

    mutating func add<S: StringProtocol>(_ text: S) {
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: S.SubSequence) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let k = decode(kv[0]), !k.isEmpty, values.count < 256 else { continue }
            values[k, default: []].append(kv.count > 1 ? decode(kv[1]) ?? "" : "")
        }
    }

    static func read(_ request: Request, limit: Int) async throws -> SubsonicParams {
        var p = SubsonicParams(query: request.uri.query ?? "")
        if request.method == .post, let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded") {
            var request = request
            p.add(String(buffer: try await request.collectBody(upTo: limit)))
        }
        return p
    }
}

/// Who a Subsonic call is made as, and how.
struct SubsonicCaller: Sendable {
    var user: User
    /// The client's name (`c`), for now-playing and the stream ledger.
    var client: String
}

/// How long accepted Subsonic credentials are remembered.
public enum SubsonicAuthenticatorLimits {
    /// The longest a change made by another process (the CLI) takes to reach this one, ms.
    public static let acceptedMs: Int64 = 10_000
}

/// Checks Subsonic credentials: `u`+`p` (plain or `enc:` hex) against client passwords and the account
/// password (bcrypt, its success cached briefly), `u`+`t`+`s` against the user's client passwords,
/// and `apiKey` against Reprise's API keys; failures count against the login throttle.
final class SubsonicAuthenticator: Sendable {
    let app: AppServices
    /// Successful password checks: keyed hash of user, password version and password -> (user id, until).
    private let verified = Locked<[String: (userId: Int64, until: Int64)]>([:])
    /// The key of that hash, random per process.
    private let cacheKey = SymmetricKey(size: .bits256).withUnsafeBytes { [UInt8]($0) }
    /// How long a verified password is trusted without bcrypt, ms.
    static let cacheMs: Int64 = 300_000
    /// Credentials accepted lately: keyed hash of what was presented -> who, under which credential
    /// epoch, until when. Apps send credentials with every call (a cover grid is hundreds): a hit
    /// reads nothing. A change in this process (password, role, disabled user, revoked client password,
    /// new or revoked API key) moves the epoch and misses at once; one by another process (the CLI) within `acceptedMs`.
    private let accepted = Locked<[String: Accepted]>([:])
    struct Accepted {
        var caller: SubsonicCaller
        var epoch: Int
        var until: Int64
    }
    static let acceptedMs: Int64 = SubsonicAuthenticatorLimits.acceptedMs

    init(app: AppServices) { self.app = app }

    static let howToMint = "Subsonic token authentication (t and s) needs a client password for this app: create one with `reprise user client-password add NAME --label phone` or POST /api/v1/client-passwords, then enter it in the app as the password"

    /// The accepted-credentials key of a presentation: the credential parameters, each length-prefixed, under the process's key.
    func acceptedKey(_ p: SubsonicParams) -> String {
        Self.hmacHex(cacheKey, ["apiKey", "u", "p", "t", "s"].map { k in p[k].map { "\($0.utf8.count):\($0)" } ?? "-" }.joined(separator: "|"))
    }

    /// The caller when these credentials were accepted lately and nothing changed since; nil otherwise (no I/O).
    func cachedCaller(_ p: SubsonicParams) -> SubsonicCaller? {
        let key = acceptedKey(p)
        let epoch = app.credentialEpoch.current
        let now = app.clock.nowMs()
        guard let hit = accepted.withLock({ $0[key] }), hit.epoch == epoch, hit.until > now else { return nil }
        var caller = hit.caller
        caller.client = StoredText.bounded(p["c"], max: StoredText.maxClient) ?? "subsonic"
        return caller
    }

    func authenticate(_ p: SubsonicParams, context: RepriseContext) async throws -> SubsonicCaller {
        let client = StoredText.bounded(p["c"], max: StoredText.maxClient) ?? "subsonic"
        if let caller = cachedCaller(p) { return caller }
        let key = acceptedKey(p)
        let epoch = app.credentialEpoch.current
        let now = app.clock.nowMs()
        let caller = try await check(p, client: client, context: context)
        accepted.withLock { a in
            if a.count >= 10_000 { a = a.filter { $0.value.until > now && $0.value.epoch == epoch } }
            if a.count < 10_000 { a[key] = Accepted(caller: caller, epoch: epoch, until: now + Self.acceptedMs) }
        }
        return caller
    }

    /// Checks credentials against the stores (no cache of accepted ones).
    func check(_ p: SubsonicParams, client: String, context: RepriseContext) async throws -> SubsonicCaller {
        if let key = p["apiKey"] {
            guard p["u"] == nil else { throw SubsonicError(.conflictingAuth, "apiKey cannot be combined with u") }
            guard let user = try await app.apiKeys.user(forKey: key) else { throw SubsonicError(.invalidApiKey, "invalid API key") }
            return SubsonicCaller(user: user, client: client)
        }
        guard let name = p["u"] else { throw SubsonicError.missing("u") }
        guard name.unicodeScalars.count <= StoredText.maxName, !StoredText.hasControl(name) else { throw SubsonicError(.wrongCredentials, "wrong username or password") }
        let keys = LoginThrottle.keys(user: name, address: context.remoteAddress)
        let now = app.clock.nowMs()
        if let wait = app.loginThrottle.refusal(keys: keys, now: now) {
            throw SubsonicError(.wrongCredentials, "too many failed attempts; try again in \(max(1, (wait + 999) / 1000)) s")
        }
        let denied = SubsonicError(.wrongCredentials, "wrong username or password")
        func fail() -> SubsonicError {
            app.loginThrottle.failed(keys: keys, now: now)
            return denied
        }
        guard let user = try await app.users.find(name: name), !user.disabled else { throw fail() }
        let clientPasswords = try await app.clientPasswords?.usable(userId: user.id) ?? []
        if let token = p["t"], let salt = p["s"] {
            guard p["p"] == nil else { throw SubsonicError(.conflictingAuth, "use either p, or t and s") }
            guard !clientPasswords.isEmpty else { throw SubsonicError(.tokenAuthNotSupported, Self.howToMint) }
            // A salt may be reused (several apps keep one per session): t + s proves the password, nothing more.
            let presented = token.lowercased()
            for (info, password) in clientPasswords where SHA256Hex.constantTimeEquals(Self.md5Hex(password + salt), presented) {
                try? await app.clientPasswords?.used(id: info.id)
                app.loginThrottle.succeeded(keys: [keys[0]])
                return SubsonicCaller(user: user, client: client)
            }
            throw fail()
        }
        guard let raw = p["p"] else { throw SubsonicError.missing("p (or t and s)") }
        guard let password = Self.decode(raw), password.unicodeScalars.count <= StoredText.maxCredential else { throw fail() }
        for (info, pw) in clientPasswords where SHA256Hex.constantTimeEquals(pw, password) {
            try? await app.clientPasswords?.used(id: info.id)
            app.loginThrottle.succeeded(keys: [keys[0]])
            return SubsonicCaller(user: user, client: client)
        }
        // bcrypt is slow on purpose; apps send the password with every call: a success is remembered
        // for a while, keyed by the password's current version, so a changed password misses at once.
        let version = try await app.apiKeys.passwordDigest(name: name)?.1
        let cacheKey = version.map { Self.hmacHex(self.cacheKey, name + "\u{0}" + $0 + "\u{0}" + password) }
        if let cacheKey, let hit = verified.withLock({ $0[cacheKey] }), hit.userId == user.id, hit.until > now {
            return SubsonicCaller(user: user, client: client)
        }
        guard let checked = try await app.users.verify(name: name, password: password), checked.id == user.id else { throw fail() }
        app.loginThrottle.succeeded(keys: [keys[0]])
        if let cacheKey {
            verified.withLock { v in
                if v.count >= 10_000 { v = v.filter { $0.value.until > now } }
                if v.count < 10_000 { v[cacheKey] = (user.id, now + Self.cacheMs) }
            }
        }
        return SubsonicCaller(user: user, client: client)
    }

    /// A `p` as sent: plain, or `enc:` and hex of its UTF-8 bytes.
    static func decode(_ raw: String) -> String? {
        guard raw.hasPrefix("enc:") else { return raw }
        let hex = Array(raw.utf8.dropFirst(4))
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var i = 0
        while i < hex.count {
            guard let hi = hexValue(hex[i]), let lo = hexValue(hex[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }

    static func md5Hex(_ text: String) -> String { SHA256Hex.hex(Array(Insecure.MD5.hash(data: Array(text.utf8)))) }

    static func hmacHex(_ key: [UInt8], _ text: String) -> String {
        SHA256Hex.hex(Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key))))
    }
}
