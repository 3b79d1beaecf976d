import Foundation
import Hummingbird
import Logging
import NIOCore

/// The per-request context of Reprise's routes.
public struct RepriseContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address, when known.
    public var remoteAddress: String?
    /// The connection; stream bodies pace their writes on its event loop.
    public var channel: (any Channel)?
    /// Who the request is made as (`IdentityMiddleware`); nil without a usable credential.
    public var identity: Identity?
    /// Whether the bearer was a stream token (which no API route takes).
    public var presentedStreamToken = false
    /// The `Authorization: Bearer` value as presented (`IdentityMiddleware`), for credentials only a
    /// module understands (Ampache's handshake, the metrics token); routes never read the header.
    public var bearer: String?
    /// Whether `identity` came from the web UI's session cookie (its forms then need the CSRF token).
    public var webSession = false

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }

    public var responseEncoder: JSONEncoder { Self.encoder }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

