import Hummingbird
import RepriseCore
import RepriseStorage

/// Who a request is made as, set once per request by `IdentityMiddleware`; routes read `context.identity`.
///
/// Cookie sessions (web UI) and Subsonic credentials are further cases of this type.
public enum Identity: Sendable {
    /// A session bearer (`rs_…`), with its secret (logout needs it).
    case session(AuthenticatedSession, Secret)
    /// An API key bearer (`ak_…`): reads what its user may read.
    case apiKey(User)

    /// The user behind the credential.
    public var user: User {
        switch self {
        case .session(let s, _): s.user
        case .apiKey(let u): u
        }
    }
}

/// Resolves `Authorization: Bearer` once per request into `context.identity`.
///
/// A missing or unknown credential leaves it nil (routes that need one answer 401); a stream
/// token is noted, so that API routes can say it authorizes streaming only.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = RepriseContext
    let sessions: any SessionRepository
    let apiKeys: any ApiKeyRepository

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let value = Authenticator.bearerValue(request) else { return try await next(request, context) }
        var context = context
        context.bearer = value
        if let secret = Secret.presented(value) {
            switch secret.kind {
            case .session:
                if let s = try await sessions.authenticate(secret) { context.identity = .session(s, secret) }
            case .streamToken:
                context.presentedStreamToken = true
            }
        } else if value.hasPrefix(ApiKeyFormat.prefix), let user = try await apiKeys.user(forKey: value) {
            context.identity = .apiKey(user)
        }
        return try await next(request, context)
    }
}

extension RepriseContext {
    /// The session of the request; 401 without one (an API key or stream token is not a session).
    public func requireSession() throws -> AuthenticatedSession {
        guard case .session(let s, _)? = identity else { throw missingCredential }
        return s
    }

    /// The user of a session or API key; 401 without either.
    public func requireUser() throws -> User {
        guard let identity else { throw missingCredential }
        return identity.user
    }

    /// The session of an admin; 401 without a session, 403 for other users.
    public func requireAdmin() throws -> AuthenticatedSession {
        let s = try requireSession()
        guard s.user.role == .admin else { throw APIError.adminOnly }
        return s
    }

    private var missingCredential: APIError {
        presentedStreamToken
            ? APIError(.unauthorized, code: .unauthorized, "a stream token authorizes streaming only; this needs a session (POST /api/v1/sessions)")
            : .unauthenticated
    }
}
