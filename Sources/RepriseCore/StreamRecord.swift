/// One stream as accounted: who, what, which bytes, how it ended. Times are UTC epoch ms.
///
/// The stream ledger keeps these; plugins see them in `on_stream_started` and `on_stream_finished`.
public struct StreamRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case active, completed, aborted }
    /// The reason of a stream the client closed (a player told to stop), as opposed to one the server ended.
    public static let clientLeft = "client went away"
    /// Whether the client ended this aborted stream (its reason starts with `clientLeft`).
    public var endedByClient: Bool { status == .aborted && (reason ?? Self.clientLeft).hasPrefix(Self.clientLeft) }
    public var id: Int64
    public var songId: Int64
    public var userId: Int64?
    public var sessionId: Int64?
    public var tokenId: Int64?
    public var player: String?
    public var rangeStart: Int64
    public var rangeEnd: Int64
    public var bytesExpected: Int64
    public var bytesSent: Int64
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var status: Status
    public var reason: String?

    public init(
        id: Int64, songId: Int64, userId: Int64?, sessionId: Int64?, tokenId: Int64?, player: String?,
        rangeStart: Int64, rangeEnd: Int64, bytesExpected: Int64, bytesSent: Int64,
        startedAt: Int64, finishedAt: Int64?, status: Status, reason: String?
    ) {
        self.id = id
        self.songId = songId
        self.userId = userId
        self.sessionId = sessionId
        self.tokenId = tokenId
        self.player = player
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.bytesExpected = bytesExpected
        self.bytesSent = bytesSent
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.reason = reason
    }
}
