import Hummingbird
import RepriseCore

/// The web UI's session cookie: a Reprise session of kind `web`, and the CSRF token derived from it.
public enum WebCookie {
    /// The cookie's name.
    public static let name = "reprise_session"

    /// The cookie that guards the login and setup forms before a session exists (double submit).
    public static let loginName = "reprise_login"

    /// The value of cookie `cookie` in the request, if present.
    static func value(_ request: Request, _ cookie: String) -> Substring? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                if trimmed.hasPrefix(cookie + "=") { return trimmed.dropFirst(cookie.count + 1) }
            }
        }
        return nil
    }

    /// The session secret in the request's `Cookie` header, if it holds a well-formed one.
    public static func session(_ request: Request) -> Secret? {
        guard let raw = value(request, name), let secret = Secret.presented(String(raw)), secret.kind == .session else { return nil }
        return secret
    }

    /// The login form's nonce from its cookie, if well-formed (43 base64url characters).
    public static func loginNonce(_ request: Request) -> String? {
        guard let raw = value(request, loginName), raw.utf8.count == 43, raw.utf8.allSatisfy(Base64URL.isAlphabet) else { return nil }
        return String(raw)
    }

    /// A new login nonce: 256 random bits.
    public static func newLoginNonce() -> String {
        var rng = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
    }

    /// `Set-Cookie` for the login form's nonce: an hour, sent only from Reprise's own pages.
    public static func setLogin(_ nonce: String, secure: Bool) -> String {
        "\(loginName)=\(nonce); Path=/; HttpOnly; SameSite=Strict; Max-Age=3600" + (secure ? "; Secure" : "")
    }

    /// `Set-Cookie` that removes the login nonce.
    public static func clearLogin(secure: Bool) -> String {
        "\(loginName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (secure ? "; Secure" : "")
    }

    /// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Path=/, Secure over https.
    public static func set(_ secret: Secret, secure: Bool, maxAgeSeconds: Int64) -> String {
        "\(name)=\(secret.plaintext); Path=/; HttpOnly; SameSite=Lax; Max-Age=\(max(0, maxAgeSeconds))" + (secure ? "; Secure" : "")
    }

    /// `Set-Cookie` that removes the cookie.
    public static func clear(secure: Bool) -> String {
        "\(name)=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0" + (secure ? "; Secure" : "")
    }

    /// The session's CSRF token: a domain-separated hash of its secret, which only its holder knows.
    public static func csrf(for secret: Secret) -> String {
        SHA256Hex.of("reprise-csrf\u{0}" + secret.plaintext)
    }

    /// Whether `presented` is the session's CSRF token (constant time).
    public static func csrfMatches(_ presented: String?, secret: Secret) -> Bool {
        guard let presented else { return false }
        return SHA256Hex.constantTimeEquals(presented, csrf(for: secret))
    }
}
