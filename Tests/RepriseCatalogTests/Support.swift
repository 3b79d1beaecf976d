import Foundation
import TestSupport
import Testing

extension TempDir {
    /// A folder for catalog tests (`cleanup()` removes it, unreadable parts included).
    init() throws { try self.init("reprise-cat") }

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

    /// Gives back permissions a test took away, then removes the folder.
    func cleanup() {
        _ = try? run("/bin/chmod", ["-R", "u+rwx", path])
        remove()
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

