import Hummingbird
import RepriseCore

/// The web UI's session cookie: a Reprise session of kind `web`, and the CSRF token derived from it.
public enum WebCookie {
    /// The cookie's name.
    public static let name = "reprise_session"

    /// The session secret in the request's `Cookie` header, if it holds a well-formed one.
    public static func session(_ request: Request) -> Secret? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard trimmed.hasPrefix(name + "=") else { continue }
                if let secret = Secret.presented(String(trimmed.dropFirst(name.count + 1))), secret.kind == .session { return secret }
            }
        }
        return nil
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
