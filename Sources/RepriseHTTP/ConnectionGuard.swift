import Logging
import NIOCore
import NIOHTTP1
import RepriseSync

/// Limits what one connection can hold: time to send a request head, time to send its body, and
/// connections per address.
public struct ConnectionLimits: Sendable {
    /// Time a connection may take to send a complete request head, idle time between requests included.
    public var requestTimeout: TimeAmount
    /// Time a request body may take to arrive after its head.
    public var bodyTimeout: TimeAmount
    /// Open connections allowed from one address.
    public var maxPerPeer: Int

    public init(requestTimeout: TimeAmount = .seconds(30), bodyTimeout: TimeAmount = .seconds(60), maxPerPeer: Int = 256) {
        self.requestTimeout = requestTimeout
        self.bodyTimeout = bodyTimeout
        self.maxPerPeer = maxPerPeer
    }
}

/// Open connections per peer address, shared by every connection of a server.
public final class PeerConnections: Sendable {
    private let counts = Locked<[String: Int]>([:])

    public init() {}

    /// Counts a new connection from `peer`; false when that would exceed `max`.
    func open(_ peer: String, max: Int) -> Bool {
        counts.withLock { c in
            let n = c[peer, default: 0]
            guard n < max else { return false }
            c[peer] = n + 1
            return true
        }
    }

    func close(_ peer: String) {
        counts.withLock { c in
            let n = (c[peer] ?? 1) - 1
            c[peer] = n > 0 ? n : nil
        }
    }
}

/// Closes connections that are too slow to send a request, and refuses peers over their cap.
///
/// Sits after the HTTP request decoder. A timer runs while the server waits for a request head
/// (from accept, and from the end of each response) and while a request body arrives; none runs
/// while a response is being written, so a long stream is never cut.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let limits: ConnectionLimits
    let peers: PeerConnections
    let logger: Logger
    private var peer: String?
    /// The one scheduled check; it re-schedules itself while a later deadline stands.
    private var timer: Scheduled<Void>?
    /// When the connection is closed unless disarmed or moved, and what it was waiting for.
    /// Requests move it without scheduling anything: a pipelining player sends thousands a second.
    private var deadline: (at: NIODeadline, what: String, amount: TimeAmount)?
    /// Requests whose response has not ended yet (more than one when a client pipelines).
    private var inFlight = 0

    init(limits: ConnectionLimits, peers: PeerConnections, logger: Logger) {
        self.limits = limits
        self.peers = peers
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard peer == nil else { return }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard peers.open(address, max: limits.maxPerPeer) else {
            logger.warning("connection refused: too many from one address", metadata: ["http.peer": "\(address)", "http.max_connections_per_peer": "\(limits.maxPerPeer)"])
            context.close(promise: nil)
            return
        }
        peer = address
        arm(context: context, limits.requestTimeout, what: "request head")
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        deadline = nil
        if let peer { peers.close(peer) }
        peer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        deadline = nil
        if let peer { peers.close(peer) }
        peer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            arm(context: context, limits.bodyTimeout, what: "request body")
        case .body:
            break
        case .end:
            deadline = nil  // the response is being made: no request timeout runs
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 {
                // The next request head is awaited from now; the check waits while the client is
                // still reading this response (the channel not writable), so a stream is never cut.
                arm(context: context, limits.requestTimeout, what: "request head")
            }
        }
        context.write(data, promise: promise)
    }

    private func arm(context: ChannelHandlerContext, _ amount: TimeAmount, what: String) {
        deadline = (.now() + amount, what, amount)
        if timer == nil { schedule(context: context, at: deadline!.at) }
    }

    /// Checks at `at`: closes if the deadline passed, sleeps on if it moved, stops if disarmed.
    private func schedule(context: ChannelHandlerContext, at: NIODeadline) {
        let channel = context.channel
        let loop = NIOLoopBound(self, eventLoop: context.eventLoop)
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: at) {
            let guardian = loop.value
            guardian.timer = nil
            guard let deadline = guardian.deadline else { return }
            if deadline.at > .now() {
                guardian.schedule(context: ctx.value, at: deadline.at)
                return
            }
            if !channel.isWritable {
                // A response is still being read: wait for it, then give the next head its whole time.
                let again = NIODeadline.now() + deadline.amount
                guardian.deadline = (again, deadline.what, deadline.amount)
                guardian.schedule(context: ctx.value, at: again)
                return
            }
            guardian.logger.info("connection closed: the \(deadline.what) took too long", metadata: [
                "http.peer": "\(guardian.peer ?? "unknown")", "http.timeout_ms": "\(deadline.amount.nanoseconds / 1_000_000)",
            ])
            channel.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}
