import Foundation
import Hummingbird
import NIOCore
import RepriseCore
import RepriseHTTP
import RepriseStorage
import ServiceLifecycle

extension WebUI {
    static let commands: [(cmd: String, label: String)] = [("previous", "Previous"), ("play", "Play"), ("pause", "Pause"), ("stop", "Stop"), ("next", "Next")]

    func registerPlayers(_ on: RouteAdder) {
        on("/players", .get) { request, context in
            let (s, _) = try me(context)
            var rows: [[String: Any]] = []
            for p in myPlayers(s.user) {
                let r = await p.report()
                rows.append(["name": r.name, "backend": r.backend, "state": r.state, "connected": r.connected])
            }
            return page("players", context, ["players": rows])
        }
        on("/players/:name", .get) { request, context in
            let p = try player(context)
            return page("player", context, try await playerData(p))
        }
        on("/players/:name/state", .get) { request, context in
            let p = try player(context)
            return try json(.ok, try await LiveState(p, app: app))
        }
        on("/players/:name/events", .get) { request, context in
            let p = try player(context)
            // `?limit=N` ends the stream after N events (scripts, tests); a browser keeps it open.
            let limit = min(max(1, Int(request.uri.queryParameters.get("limit") ?? "") ?? 100_000), 100_000)
            let app = self.app
            let body = ResponseBody { writer in
                var last: LiveState?
                var sent = 0
                var quiet = 0
                // The browser reconnects a second after the stream ends: at shutdown, or after an hour.
                try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
                let until = ContinuousClock.now + .seconds(3_600)
                while sent < limit, !Task.isCancelled, !Task.isShuttingDownGracefully, ContinuousClock.now < until {
                    let now = try await LiveState(p, app: app)
                    // A comment line every 15 s keeps proxies from closing an idle stream.
                    if now != last || quiet >= 30 {
                        let line = now != last ? "event: state\ndata: \(String(decoding: try LiveState.encoder.encode(now), as: UTF8.self))\n\n" : ": idle\n\n"
                        try await writer.write(ByteBuffer(string: line))
                        if now != last { sent += 1 }
                        last = now
                        quiet = 0
                    } else {
                        quiet += 1
                    }
                    // A graceful shutdown ends the wait (and the stream) at once instead of holding the server.
                    do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(500)) } } catch is CancellationError { break }
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
        }
        for (cmd, _) in Self.commands {
            on("/players/:name/\(cmd)", .post) { request, context in
                let p = try player(context)
                try await p.command(cmd)
                return WebHeaders.redirect("/players/\(p.name)")
            }
        }
        on("/players/:name/volume", .post) { request, context in
            let p = try player(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let v = try form.int("volume", 0...100) else { throw WebError(.badRequest, "volume is 0 to 100") }
            try await p.setVolume(v)
            return WebHeaders.redirect("/players/\(p.name)")
        }
        on("/players/:name/autoplay", .post) { request, context in
            let p = try player(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            let mode = form.text("mode") ?? "off"
            if mode == "off" {
                try await p.setAutoplay(nil)
            } else {
                guard let m = AutoplaySettings.Mode(rawValue: mode) else { throw WebError(.badRequest, "autoplay is off, random, artist or album") }
                try await p.setAutoplay(AutoplaySettings(mode: m, filter: nil, ahead: 2))
            }
            return WebHeaders.redirect("/players/\(p.name)")
        }
        on("/players/queue", .post) { request, context in
            let (s, _) = try me(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            let name = form.text("player") ?? ""
            guard let p = playback?.players[name], s.user.role == .admin || p.owner == s.user.name else { throw WebError(.notFound, "no player \(name) of yours") }
            var ids: [Int64] = []
            if let raw = form.text("album_id"), let album = Int64(raw) {
                ids = try await app.catalog.songs(query: nil, artist: nil, album: nil, albumId: album, limit: 2_000, offset: 0).songs.map(\.id)
            } else if let raw = form.text("playlist_id"), let list = Int64(raw) {
                ids = try await app.library.playlistSongs(id: list, viewer: s.user.id)?.map(\.id) ?? []
            }
            guard !ids.isEmpty else { throw WebError(.badRequest, "nothing to queue") }
            try await p.enqueue(ids, clear: false)
            return WebHeaders.redirect("/players/\(p.name)")
        }
    }

    func playerData(_ p: any PlayerControl) async throws -> [String: Any] {
        let r = await p.report()
        let songs = Dictionary(try await app.catalog.songs(ids: Array(Set(r.queue.filter { $0 > 0 }))).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let queue: [[String: Any]] = r.queue.enumerated().map { i, id in
            let s = songs[id]
            return ["title": s?.title ?? "another client's entry", "artist": s?.artist ?? "", "current": i == r.position]
        }
        var data: [String: Any] = [
            "name": r.name, "state": r.state, "connected": r.connected, "error": r.lastError ?? "", "volume": r.volume.map(String.init) ?? "",
            "elapsed": WebFormat.duration(r.elapsedMs), "queue": queue,
            "commands": Self.commands.map { ["cmd": $0.cmd, "label": $0.label, "name": r.name] },
            "modes": (["off"] + AutoplaySettings.Mode.allValues).map { ["value": $0, "selected": $0 == (r.autoplay?.mode.rawValue ?? "off")] },
            "events": try await p.recentEvents(limit: 15).map { ["at": WebFormat.time($0.at), "kind": $0.kind, "source": $0.source.rawValue, "message": $0.message] },
        ]
        if r.queue.indices.contains(r.position), let s = songs[r.queue[r.position]] {
            data["current"] = ["id": s.id, "title": s.title, "artist": s.artist]
        }
        return data
    }
}

/// What the live player page shows, sent as server-sent events when it changes.
struct LiveState: Codable, Equatable {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = .sortedKeys
        return e
    }()
    var state: String
    var connected: Bool
    var position: Int
    var elapsedS: Int64
    var volume: Int?
    var title: String
    var artist: String
    var songId: Int64?
    var queue: [String]

    init(_ p: any PlayerControl, app: AppServices) async throws {
        let r = await p.report()
        let songs = Dictionary(try await app.catalog.songs(ids: Array(Set(r.queue.filter { $0 > 0 }))).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        state = r.state
        connected = r.connected
        position = r.position
        elapsedS = r.elapsedMs / 1000
        volume = r.volume
        queue = r.queue.map { songs[$0].map { "\($0.title) · \($0.artist)" } ?? "another client's entry" }
        let current = r.queue.indices.contains(r.position) ? songs[r.queue[r.position]] : nil
        title = current?.title ?? ""
        artist = current?.artist ?? ""
        songId = current?.id
    }
}

extension AutoplaySettings.Mode {
    static var allValues: [String] { ["random", "artist", "album"] }
}
