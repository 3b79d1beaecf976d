import Foundation
import HTTPTypes
import Hummingbird
import RepriseCore

/// The localplay API: `/api/v1/players...`, for each player's owner and admins, over any
/// `PlayerDirectory` (ReprisePlayback's supervised players in `reprise serve`).
public func localplayRoutes(_ playback: any PlayerDirectory, app: AppServices) -> RouteModule {
    RouteModule.build { on in
        /// The supervisor of a player the caller may drive; 404 for unknown or foreign players.
        @Sendable func player(_ request: Request, _ context: RepriseContext) async throws -> any PlayerControl {
            let s = try context.requireSession()
            let name = context.parameters.get("name") ?? ""
            guard let p = playback.players[name], s.user.role == .admin || p.owner == s.user.name else {
                throw APIError(.notFound, code: .notFound, "no player named '\(name)'")
            }
            return p
        }
        @Sendable func mapped(_ body: () async throws -> Void) async throws {
            do { try await body() } catch let e as RepriseError { throw APIError(e) } catch let e as PlayerError {
                // A refusal is the player's answer to this request (409); anything else means it cannot be reached (503).
                if e.refused { throw APIError(.conflict, code: .playerRefused, e.message) }
                throw APIError(.serviceUnavailable, code: .playerUnavailable, e.message)
            }
        }
        on("/api/v1/players", .get) { request, context in
            let s = try context.requireSession()
            var reports: [PlayerReport] = []
            for p in playback.players.values.sorted(by: { $0.name < $1.name }) where s.user.role == .admin || p.owner == s.user.name {
                reports.append(await p.report())
            }
            return try json(.ok, ["players": reports])
        }
        on("/api/v1/players/:name", .get) { request, context in
            let p = try await player(request, context)
            let events = try await p.recentEvents(limit: 20)
            return try json(.ok, PlayerDetail(player: await p.report(), events: events))
        }
        on("/api/v1/players/:name/queue", .post) { request, context in
            let p = try await player(request, context)
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("song_ids")
            let ids = try body.intArray("song_ids") ?? []
            guard !ids.isEmpty, ids.count <= 1000 else { throw APIError(.badRequest, code: .badField, "'song_ids' must hold 1 to 1000 ids") }
            let clear = try body.bool("clear") ?? false
            try await mapped { try await p.enqueue(ids, clear: clear) }
            return try json(.ok, await p.report())
        }
        on("/api/v1/players/:name/queue", .delete) { request, context in
            let p = try await player(request, context)
            try await mapped { try await p.clearQueue() }
            return Response(status: .noContent)
        }
        for command in ["play", "pause", "stop", "next", "previous"] {
            on("/api/v1/players/:name/\(command)", .post) { request, context in
                let p = try await player(request, context)
                try await mapped { try await p.command(command) }
                return try json(.ok, await p.report())
            }
        }
        on("/api/v1/players/:name/volume", .put) { request, context in
            let p = try await player(request, context)
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("volume")
            let v = try body.int("volume")!
            guard (0...100).contains(v) else { throw APIError(.badRequest, code: .badField, "'volume' must be 0 to 100") }
            try await mapped { try await p.setVolume(Int(v)) }
            return try json(.ok, await p.report())
        }
        on("/api/v1/players/:name/autoplay", .post) { request, context in
            let p = try await player(request, context)
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("mode")
            guard let mode = AutoplaySettings.Mode(rawValue: try body.string("mode")!) else {
                throw APIError(.badRequest, code: .badField, "'mode' must be random, artist or album")
            }
            let filter = try body.int("filter")
            if mode != .random && filter == nil { throw APIError(.badRequest, code: .missingFields, "missing field: filter (an \(mode.rawValue) id)") }
            let ahead = Int(try body.int("ahead") ?? 3)
            guard (1...100).contains(ahead) else { throw APIError(.badRequest, code: .badField, "'ahead' must be 1 to 100") }
            try await mapped { try await p.setAutoplay(AutoplaySettings(mode: mode, filter: filter, ahead: ahead)) }
            return try json(.ok, await p.report())
        }
        on("/api/v1/players/:name/autoplay", .delete) { request, context in
            let p = try await player(request, context)
            try await mapped { try await p.setAutoplay(nil) }
            return Response(status: .noContent)
        }
    }
}

struct PlayerDetail: Encodable, Sendable { let player: PlayerReport, events: [PlayerEvent] }
