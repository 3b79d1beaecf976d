import Foundation
import Logging
import RepriseCore

/// Logs one line per event to standard error, in `StreamLogHandler`'s format.
///
/// Unlike `StreamLogHandler`, it renders metadata only when a line is written: Hummingbird sets
/// request metadata on every request, and most requests log nothing.
struct RepriseLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        // Every line, plugins' included, is redacted and kept on one line: a secret or a newline
        // in client or plugin text never reaches the log as such.
        let text = "\(Self.timestamp()) \(event.level) \(label):\(Redactor.line(fields)) [\(event.source)] \(Redactor.line(event.message.description))\n"
        Self.lock.withLock { FileHandle.standardError.write(Data(text.utf8)) }
    }

    private static let lock = NSLock()

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
