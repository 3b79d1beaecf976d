import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import RepriseConfig
import RepriseCore
import RepriseHTTP
@testable import RepriseServer
import TestSupport
import Testing

/// Runs a tool and fails the test if it does not exit 0.
@discardableResult
func sh(_ tool: String, _ args: [String]) throws -> String {
    let r = try Child.runBlocking(tool.hasPrefix("/") ? tool : "/usr/bin/\(tool)", args)
    guard r.status == 0 else { throw ChildError("\(tool) \(args) exited \(r.status): \(r.errors)") }
    return r.output
}

/// A temporary library of real audio files and a server core built from a real config file.
struct Library {
    let dir: URL
    let music: URL
    let core: ServerCore

    /// `clock` replaces the system's, e.g. a `ManualWallClock` so that caches never go stale during a test.
    init(extraYAML: String = "", auth: [String] = [], clock: any WallClock = SystemWallClock(), busyTimeout: String = "10s", tokenPolicy: (any TokenPolicy)? = nil) throws {
        dir = try TempDir("reprise-lib").url
        music = dir.appendingPathComponent("music")
        try FileManager.default.createDirectory(at: music, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("reprise.yaml").path
        try """
            database:
              path: \(dir.path)/db.sqlite
              busy_timeout: \(busyTimeout)
              readers: 2
            auth:
              bcrypt_cost: 4
            \(auth.map { "  \($0)\n" }.joined())http:
              public_url: http://music.test:8460
            catalog:
              paths: [\(music.path)]
            \(extraYAML)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        core = try ServerCore(settings: try ConfigLoader.load(file: config, env: [:]), logger: logger, tokenPolicy: tokenPolicy, clock: clock)
    }

    /// Writes a tone with sox; tags FLAC with metaflac and Ogg with vorbiscomment.
    @discardableResult
    func tone(_ relative: String, seconds: Double = 1, tags: [String: String] = [:]) throws -> String {
        let path = music.appendingPathComponent(relative).path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Tone.writeBlocking(path, seconds: seconds)
        if !tags.isEmpty {
            if path.hasSuffix(".flac") {
                try sh("metaflac", tags.map { "--set-tag=\($0.key)=\($0.value)" } + [path])
            } else if path.hasSuffix(".ogg") {
                try sh("vorbiscomment", ["-w"] + tags.flatMap { ["-t", "\($0.key)=\($0.value)"] } + [path])
            }
        }
        return path
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: buildRouter(core.services)).test(.router, body)
    }

    /// Runs a body against the router (bodies copied) or a live `.reprise` server (bodies by `sendfile`).
    func test(_ transport: Transport, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        switch transport {
        case .copy: try await test(body)
        case .sendfile, .fastPath: try await live(transport, body)
        }
    }

    /// Runs a body against a live server: plain HTTP/1 (bodies copied) or `.reprise` (bodies by `sendfile`).
    func live(_ transport: Transport, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        switch transport {
        case .copy: try await Application(router: buildRouter(core.services)).test(.live, body)
        case .sendfile: try await Application(router: buildRouter(core.services), server: .reprise).test(.live, body)
        case .fastPath: try await Application(router: buildRouter(core.services), server: .reprise(fastPath: core.services, serverName: "reprise/test")).test(.live, body)
        }
    }

    /// An admin, a session for it and a stream token.
    func credentials() async throws -> (session: String, token: String) {
        let user = try await core.users.add(name: "ann", password: "password1", role: .admin)
        let (s, _) = try await core.sessions.create(user: user, kind: .web)
        let (t, _) = try await core.tokens.issue(user: user, label: "test", requestedTTLSeconds: nil, policy: DefaultTokenPolicy())
        return (s.plaintext, t.plaintext)
    }
}

/// A response's status, headers and body bytes.
struct Reply {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Data
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

extension TestClientProtocol {
    func get(_ uri: String, method: HTTPRequest.Method = .get, bearer: String? = nil, headers extra: [String: String] = [:]) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
        return try await execute(uri: uri, method: method, headers: headers) { r in Reply(status: r.status, headers: r.headers, body: Data(r.body.readableBytesView)) }
    }
}

/// How a test reaches the stream endpoint.
enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// File bodies read and copied chunk by chunk (the router test client, or plain HTTP/1).
    case copy
    /// A live server built with `.reprise`: file bodies go out as NIO file regions.
    case sendfile
    /// `.reprise(fastPath:)`, as `reprise serve` runs: short stream requests are answered on the event loop.
    case fastPath

    var testDescription: String { rawValue }
}
