import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import RepriseSync

/// Lets a response body send a file region with `sendfile(2)` through Hummingbird, whose body
/// writer carries only `ByteBuffer`s.
///
/// The body registers a region and writes the 24-byte marker it gets back; `FileRegionHandler`, which
/// sits in front of NIO's HTTP encoder, swaps the marker for the region. The promise completes once
/// the kernel took every byte of the region, or fails when the connection ends first.
final class FileRegionHandoff: Sendable {
    static let shared = FileRegionHandoff()

    struct Pending: Sendable {
        let region: FileRegion
        let promise: EventLoopPromise<Void>
    }

    static let markerSize = 24
    /// Random per process, so that no file's bytes are taken for a marker.
    private let magic: (UInt64, UInt64)
    private let state = Locked<(next: UInt64, pending: [UInt64: Pending])>((1, [:]))

    init() {
        var random = SystemRandomNumberGenerator()
        magic = (random.next(), random.next())
    }

    /// Registers a region and returns its id and the marker to write in its place.
    func register(_ region: FileRegion, promise: EventLoopPromise<Void>) -> (id: UInt64, marker: ByteBuffer) {
        let id = state.withLock { s in
            let id = s.next
            s.next += 1
            s.pending[id] = Pending(region: region, promise: promise)
            return id
        }
        var marker = ByteBuffer()
        marker.reserveCapacity(Self.markerSize)
        marker.writeInteger(magic.0)
        marker.writeInteger(magic.1)
        marker.writeInteger(id)
        return (id, marker)
    }

    /// Takes the region a marker stands for; nil for any other buffer.
    func take(marker: ByteBuffer) -> Pending? {
        guard marker.readableBytes == Self.markerSize,
              let a = marker.getInteger(at: marker.readerIndex, as: UInt64.self), a == magic.0,
              let b = marker.getInteger(at: marker.readerIndex + 8, as: UInt64.self), b == magic.1,
              let id = marker.getInteger(at: marker.readerIndex + 16, as: UInt64.self)
        else { return nil }
        let pending = state.withLock { $0.pending.removeValue(forKey: id) }
        if pending != nil { sent.add(1, ordering: .relaxed) }
        return pending
    }

    /// Withdraws a region whose marker was never written; nil when the handler already took it.
    func cancel(_ id: UInt64) -> Pending? {
        state.withLock { $0.pending.removeValue(forKey: id) }
    }

    /// How many regions handlers took (for tests).
    var regionsSent: Int { sent.load(ordering: .relaxed) }
    private let sent = Atomic<Int>(0)
}

/// Replaces file-region markers with the regions themselves, just before NIO's HTTP encoder.
///
/// While a region is being sent it checks the file's size every second: NIO retries a `sendfile`
/// that returns 0 forever, so a file truncated under it would otherwise spin the event loop.
final class FileRegionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(.byteBuffer(let buffer)) = unwrapOutboundIn(data),
              buffer.readableBytes == FileRegionHandoff.markerSize,
              let pending = FileRegionHandoff.shared.take(marker: buffer)
        else {
            context.write(data, promise: promise)
            return
        }
        Self.watchForTruncation(pending.region, channel: context.channel, until: pending.promise.futureResult)
        if let promise { pending.promise.futureResult.cascade(to: promise) }
        context.write(wrapOutboundOut(.body(.fileRegion(pending.region))), promise: pending.promise)
    }

    /// Closes the connection if the region's file becomes shorter than the region before `done`.
    static func watchForTruncation(_ region: FileRegion, channel: any Channel, until done: EventLoopFuture<Void>) {
        let watchdog = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            let size = (try? region.fileHandle.withUnsafeFileDescriptor { fd in
                var st = stat()
                return fstat(fd, &st) == 0 ? Int(st.st_size) : -1
            }) ?? -1
            if size < region.endIndex { channel.close(promise: nil) }
        }
        done.whenComplete { _ in watchdog.cancel() }
    }
}

@available(*, unavailable)
extension FileRegionHandler: Sendable {}

/// Hummingbird's HTTP/1 channel with a `FileRegionHandler` in front of NIO's response encoder,
/// and, given a stream endpoint, a `StreamFastPath` right after the request decoder.
public struct FileRegionHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let fastPath: StreamFastPath.Services?
    let serverName: String?
    var fileRegions = true
    var limits: ConnectionLimits?
    var peers = PeerConnections()

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            if fileRegions {
                let encoder = try pipeline.handler(type: HTTPResponseEncoder.self)
                try pipeline.addHandler(FileRegionHandler(), position: .after(encoder))
            }
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            if let fastPath {
                try pipeline.addHandler(StreamFastPath(services: fastPath, serverName: serverName, sendfile: fileRegions), position: .after(decoder))
            }
            // Right after the decoder: it sees every request, the fast path's answers included.
            if let limits {
                try pipeline.addHandler(ConnectionGuard(limits: limits, peers: peers, logger: logger), position: .after(decoder))
            }
            return value
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }

    /// Whether a connection can take file regions (it was set up by this channel).
    static func accepts(_ channel: any Channel) -> Bool {
        (try? channel.pipeline.syncOperations.handler(type: FileRegionHandler.self)) != nil
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 whose stream bodies go out with `sendfile(2)`.
    ///
    /// ```swift
    /// Application(router: router, server: .reprise, configuration: ...)
    /// ```
    public static var reprise: HTTPServerBuilder {
        .init { responder in FileRegionHTTP1Channel(base: HTTP1Channel(responder: responder), fastPath: nil, serverName: nil) }
    }

    /// `reprise`, with short stream requests answered on the event loop (`StreamFastPath`).
    ///
    /// ```swift
    /// Application(router: router, server: .reprise(fastPath: services, serverName: "reprise/1.0.0"), ...)
    /// ```
    public static func reprise(fastPath app: AppServices, serverName: String?) -> HTTPServerBuilder {
        let services = StreamFastPath.Services(app)
        return .init { responder in FileRegionHTTP1Channel(base: HTTP1Channel(responder: responder), fastPath: services, serverName: serverName) }
    }

    /// Reprise's server: the fast path (with `sendfile` for its longer bodies when `sendfile` is on),
    /// `sendfile` for the router's streams when on, and `limits` on every connection.
    public static func reprise(_ app: AppServices, serverName: String?, sendfile: Bool, limits: ConnectionLimits, peers: PeerConnections = PeerConnections()) -> HTTPServerBuilder {
        let services = StreamFastPath.Services(app)
        return .init { responder in
            FileRegionHTTP1Channel(base: HTTP1Channel(responder: responder), fastPath: services, serverName: serverName, fileRegions: sendfile, limits: limits, peers: peers)
        }
    }
}
