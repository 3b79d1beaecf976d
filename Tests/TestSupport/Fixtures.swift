import Foundation

/// A new folder under the system's temporary directory, named `prefix-<uuid>`.
///
/// ```swift
/// let dir = try TempDir("reprise-lib")
/// defer { dir.remove() }
/// let db = dir.file("db.sqlite").path
/// ```
public struct TempDir: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the folder (nothing is created).
    public func file(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    /// Deletes the folder and everything in it.
    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Audio made with Debian's sox: a sine wave, the format from the file's extension.
public enum Tone {
    static func arguments(_ path: String, seconds: Double, frequency: Int, rate: Int, channels: Int, noise: Bool = false) -> [String] {
        ["-n", "-r", "\(rate)", "-c", "\(channels)", "-b", "16", path, "synth", "\(seconds)"] + (noise ? ["whitenoise", "vol", "0.5"] : ["sine", "\(frequency)"])
    }

    /// Writes the tone (`noise`: white noise, which FLAC cannot shrink: files of a real song's size);
    /// for async tests (sox runs off the cooperative pool).
    public static func write(_ path: String, seconds: Double, frequency: Int = 440, rate: Int = 44_100, channels: Int = 2, noise: Bool = false) async throws {
        let r = try await Child.run("/usr/bin/sox", arguments(path, seconds: seconds, frequency: frequency, rate: rate, channels: channels, noise: noise))
        guard r.status == 0 else { throw ChildError("sox \(path): \(r.errors)") }
    }

    /// Writes the tone, blocking the calling thread (for synchronous fixtures).
    public static func writeBlocking(_ path: String, seconds: Double, frequency: Int = 440, rate: Int = 44_100, channels: Int = 2) throws {
        let r = try Child.runBlocking("/usr/bin/sox", arguments(path, seconds: seconds, frequency: frequency, rate: rate, channels: channels))
        guard r.status == 0 else { throw ChildError("sox \(path): \(r.errors)") }
    }
}
