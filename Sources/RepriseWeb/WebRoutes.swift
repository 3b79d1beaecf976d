import Foundation
import HTTPTypes
import Hummingbird
import RepriseCore
import RepriseHTTP
import RepriseStorage

/// What the administration pages read and do beyond `AppServices` (plugins live in another module).
public struct WebAdmin: Sendable {
    /// One loaded plugin as `/admin/plugins` lists it.
    public struct Plugin: Sendable {
        public var name: String, version: String, file: String, calls: Int, errors: Int, lastError: String
        public init(name: String, version: String, file: String, calls: Int, errors: Int, lastError: String) {
            (self.name, self.version, self.file, self.calls, self.errors, self.lastError) = (name, version, file, calls, errors, lastError)
        }
    }
    public var plugins: @Sendable () -> [Plugin]
    /// Reloads the plugins; throws with the reason when the new set fails (the old one stays).
    public var reloadPlugins: @Sendable () async throws -> Void
    /// Finished scans since start, newest first, with when they finished (UTC epoch ms).
    public var scans: @Sendable () -> [(finishedAt: Int64, summary: ScanSummary)]
    public init(
        plugins: @escaping @Sendable () -> [Plugin] = { [] }, reloadPlugins: @escaping @Sendable () async throws -> Void = {},
        scans: @escaping @Sendable () -> [(finishedAt: Int64, summary: ScanSummary)] = { [] }
    ) {
        self.plugins = plugins
        self.reloadPlugins = reloadPlugins
        self.scans = scans
    }
}

/// The one-time code that lets a browser create the first administrator (printed by `reprise serve`).
public struct SetupCode: Sendable {
    public let value: String
    /// 12 random letters and digits (no look-alikes).
    public init() {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        var rng = SystemRandomNumberGenerator()
        value = String((0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }
    public init(value: String) { self.value = value }
}

/// The web UI: server-rendered pages over cookie sessions of kind `web`, with CSRF checks on every
/// form, a browser player, live player pages (server-sent events) and administration.
public func webRoutes(_ app: AppServices, assets: WebAssets, playback: (any PlayerDirectory)? = nil, admin: WebAdmin = WebAdmin(), setup: SetupCode = SetupCode()) -> RouteModule {
    let ui = WebUI(app: app, assets: assets, playback: playback, admin: admin, setup: setup)
    // The middleware first: a route's responder takes the middleware present when it is added.
    let module = RouteCollection(context: RepriseContext.self)
    module.add(middleware: WebMiddleware(ui: ui))
    ui.register { path, method, handler in module.on(path, method, handler) }
    return module
}

/// Resolves the cookie session, checks CSRF on every non-GET request, and turns failures into pages.
struct WebMiddleware: RouterMiddleware {
    typealias Context = RepriseContext
    let ui: WebUI
    /// Forms posted before a session exists (the CSRF token is the session's).
    static let openForms: Set<String> = ["/login", "/setup"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        do {
            if let secret = WebCookie.session(request), let s = try await ui.app.sessions.authenticate(secret), s.kind == .web {
                context.identity = .session(s, secret)
                context.webSession = true
            }
            if request.method != .get, request.method != .head, Self.openForms.contains(request.uri.path) {
                // Before a session: the form's nonce must equal its cookie's (a cross-site form has neither).
                let body = try await request.collectBody(upTo: ui.app.maxBodyBytes)
                guard let nonce = WebCookie.loginNonce(request), SHA256Hex.constantTimeEquals(WebForm(String(buffer: body))["csrf"] ?? "", nonce) else {
                    throw WebError(.forbidden, code: .csrfFailed, "the form's security token is missing or wrong: reload the page and send it again")
                }
            } else if request.method != .get, request.method != .head {
                guard context.webSession, case .session(_, let secret)? = context.identity else {
                    throw WebError(.forbidden, code: .csrfFailed, "this form needs a web session: log in and send it again")
                }
                var presented = request.headers[.xCSRFToken]
                if presented == nil {
                    let body = try await request.collectBody(upTo: ui.app.maxBodyBytes)
                    presented = WebForm(String(buffer: body))["csrf"]
                }
                guard WebCookie.csrfMatches(presented, secret: secret) else {
                    throw WebError(.forbidden, code: .csrfFailed, "the form's security token is missing or wrong: reload the page and send it again")
                }
            }
            return try await next(request, context)
        } catch let e as WebError {
            if e.status == .unauthorized {
                let back = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return WebHeaders.redirect("/login?next=" + (back.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
            }
            return ui.errorPage(e, context: context)
        } catch let e as APIError {
            return ui.errorPage(WebError(e.status, code: e.code, e.message), context: context)
        } catch let e as RepriseError {
            let api = APIError(e)
            return ui.errorPage(WebError(api.status, code: api.code, api.message), context: context)
        } catch let e as PlayerError {
            return ui.errorPage(WebError(e.refused ? .conflict : .serviceUnavailable, code: e.refused ? .playerRefused : .playerUnavailable, e.message), context: context)
        } catch let e as HTTPError {
            throw e  // a body over the limit, say: the router's error answer
        } catch {
            // Logged with a request id, which the page repeats.
            let e = APIError.unexpected(error, request: request, logger: context.logger)
            return ui.errorPage(WebError(e.status, code: e.code, e.message), context: context)
        }
    }
}
