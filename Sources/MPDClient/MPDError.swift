/// A failure talking to MPD, with MPD's or libmpdclient's message.
public struct MPDError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; new kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case connectionFailed, connectionLost, timeout, server, closed, `protocol`, usage
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// Connecting (or authenticating) failed: refused, unresolvable host, bad password.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke during a call: MPD exited or the socket failed.
        public static let connectionLost = Code(.connectionLost)
        /// MPD did not answer within the connection's timeout; the connection is now broken.
        public static let timeout = Code(.timeout)
        /// MPD answered with an ACK; the connection stays usable.
        public static let server = Code(.server)
        /// The connection was closed or is broken; nothing was sent.
        public static let closed = Code(.closed)
        /// MPD sent something libmpdclient could not parse; the connection is now broken.
        public static let `protocol` = Code(.protocol)
        /// libmpdclient rejected an argument or call order; the connection stays usable.
        public static let usage = Code(.usage)

        public var description: String {
            switch kind {
            case .connectionFailed: "connectionFailed"
            case .connectionLost: "connectionLost"
            case .timeout: "timeout"
            case .server: "server"
            case .closed: "closed"
            case .protocol: "protocol"
            case .usage: "usage"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// MPD's ACK text or libmpdclient's message.
    public let message: String
    /// MPD's ACK error number (`enum mpd_server_error`) for `.server`, else nil.
    public let serverError: Int?

    /// Makes an error of a kind with a message.
    public init(_ code: Code, _ message: String, serverError: Int? = nil) {
        self.code = code
        self.message = message
        self.serverError = serverError
    }

    public var description: String {
        if let serverError { return "MPDError.\(code) [\(serverError)]: \(message)" }
        return "MPDError.\(code): \(message)"
    }
}
