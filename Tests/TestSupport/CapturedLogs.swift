import Logging
import RepriseSync

/// Log lines captured in memory, with their metadata flattened to strings.
public final class CapturedLogs: Sendable {
    public struct Line: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let lines = Locked<[Line]>([])

    public init() {}

    /// A logger that writes into this capture.
    public var logger: Logger {
        Logger(label: "test") { _ in Handler(sink: self) }
    }

    /// Every line so far.
    public var all: [Line] { lines.withLock { $0 } }

    /// Lines whose message is `message`.
    public func with(message: String) -> [Line] { all.filter { $0.message == message } }

    fileprivate func append(_ line: Line) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            var flat: [String: String] = [:]
            for (k, v) in self.metadata.merging(metadata ?? [:], uniquingKeysWith: { $1 }) { flat[k] = "\(v)" }
            sink.append(Line(level: level, message: "\(message)", metadata: flat))
        }
    }
}

