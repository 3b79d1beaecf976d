import Foundation
import TestSupport
import Testing

/// A temporary directory removed by `cleanup()`.
final class TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("reprise-cat-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ relative: String) -> String { path + "/" + relative }

    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: sub(relative), withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String = "x") throws {
        try text.write(toFile: sub(relative), atomically: false, encoding: .utf8)
    }

    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: sub(relative), withDestinationPath: target)
    }

    func cleanup() {
        _ = try? run("/bin/chmod", ["-R", "u+rwx", path])
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct CommandFailed: Error, CustomStringConvertible {
    let description: String
}

/// Runs a program and throws when it exits non-zero.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> String {
    let r = try Child.runBlocking(executable, arguments)
    let output = r.output + r.errors
    guard r.status == 0 else {
        throw CommandFailed(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(output)")
    }
    return output
}

/// Whether a tool the audio tests need is installed.
func hasTool(_ name: String) -> Bool {
    FileManager.default.isExecutableFile(atPath: "/usr/bin/" + name)
}

let audioToolsAvailable = hasTool("sox") && hasTool("metaflac") && hasTool("vorbiscomment")

/// Synthesizes a sine tone with sox: `sox -n -r RATE -c CH OUT synth SECONDS sine 440`.
func synth(_ path: String, seconds: Double, rate: Int = 44100, channels: Int = 2) throws {
    try run("/usr/bin/sox", ["-n", "-r", "\(rate)", "-c", "\(channels)", path, "synth", "\(seconds)", "sine", "440"])
}
