import Foundation
import Hummingbird
import RepriseCore
import RepriseHTTP
import RepriseStorage

extension WebUI {
    func registerAdmin(_ on: RouteAdder) {
        on("/admin", .get) { _, context in
            _ = try requireAdmin(context)
            return WebHeaders.redirect("/admin/users")
        }
        on("/admin/users", .get) { request, context in try await users(context) }
        on("/admin/users", .post) { request, context in
            _ = try requireAdmin(context)
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let name = form.text("username"), name.unicodeScalars.count <= StoredText.maxName, !StoredText.hasControl(name) else {
                return try await users(context, error: "A user needs a name (at most \(StoredText.maxName) characters).", status: .badRequest)
            }
            guard let password = form["password"], password.count >= 8 else { return try await users(context, error: "A password needs 8 characters or more.", status: .badRequest) }
            guard let role = Role(rawValue: form.text("role") ?? "user") else { return try await users(context, error: "The role is user or admin.", status: .badRequest) }
            guard try await app.users.find(name: name) == nil else { return try await users(context, error: "A user named \(name) exists.", status: .conflict) }
            _ = try await app.users.add(name: name, password: password, role: role)
            return WebHeaders.redirect("/admin/users")
        }
        for (action, disabled) in [("disable", true), ("enable", false)] {
            on("/admin/users/:name/\(action)", .post) { request, context in
                let (s, _) = try requireAdmin(context)
                let name = context.parameters.get("name") ?? ""
                guard let user = try await app.users.find(name: name) else { throw WebError(.notFound, "no user named \(name)") }
                guard !(disabled && name == s.user.name) else { return try await users(context, error: "You cannot disable yourself.", status: .badRequest) }
                try await app.users.setDisabled(name: name, disabled)
                // Disabled now, not at the next revalidation: their sessions end.
                if disabled { try await app.sessions.endAll(userId: user.id, except: nil) }
                return WebHeaders.redirect("/admin/users")
            }
        }
        on("/admin/users/:name/role", .post) { request, context in
            let (s, _) = try requireAdmin(context)
            let name = context.parameters.get("name") ?? ""
            guard let user = try await app.users.find(name: name) else { throw WebError(.notFound, "no user named \(name)") }
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let role = Role(rawValue: form.text("role") ?? "") else { return try await users(context, error: "The role is user or admin.", status: .badRequest) }
            guard !(name == s.user.name && role != .admin) else { return try await users(context, error: "You cannot take your own admin role.", status: .badRequest) }
            try await app.users.setRole(name: name, role)
            // A demoted admin's sessions end, so no page of theirs keeps admin rights.
            if user.role == .admin, role != .admin { try await app.sessions.endAll(userId: user.id, except: nil) }
            return WebHeaders.redirect("/admin/users")
        }
        on("/admin/users/:name/password", .post) { request, context in
            _ = try requireAdmin(context)
            let name = context.parameters.get("name") ?? ""
            guard let user = try await app.users.find(name: name) else { throw WebError(.notFound, "no user named \(name)") }
            let form = try await Self.form(request, limit: app.maxBodyBytes)
            guard let password = form["password"], password.count >= 8 else { return try await users(context, error: "A password needs 8 characters or more.", status: .badRequest) }
            try await app.users.setPassword(name: name, password: password)
            // A reset password ends every session of that user.
            try await app.sessions.endAll(userId: user.id, except: nil)
            return WebHeaders.redirect("/admin/users")
        }
        on("/admin/gc", .get) { request, context in
            _ = try requireAdmin(context)
            let runs = try await app.gc.recentRuns()
            return page("admin_gc", context, ["runs": runs.map { g in
                ["started": WebFormat.time(g.startedAt), "ms": g.durationMs, "examined": g.examined, "deleted": g.deleted, "grace": g.sparedByGrace,
                 "lease": g.sparedByLease, "rule": g.sparedByRule, "tokens": g.tokensPurged] as [String: Any]
            }])
        }
        on("/admin/gc", .post) { request, context in
            _ = try requireAdmin(context)
            _ = try await app.gc.runOnce()
            return WebHeaders.redirect("/admin/gc")
        }
        on("/admin/plugins", .get) { request, context in try await plugins(context) }
        on("/admin/plugins/reload", .post) { request, context in
            _ = try requireAdmin(context)
            do {
                try await admin.reloadPlugins()
            } catch {
                return try await plugins(context, error: "Reload failed; the running plugins stay: \(error)", status: .unprocessableContent)
            }
            return WebHeaders.redirect("/admin/plugins")
        }
        on("/admin/scan", .get) { request, context in
            _ = try requireAdmin(context)
            let counts = try await app.catalog.counts()
            let scans = admin.scans()
            return page("admin_scan", context, [
                "songs": counts.songs, "albums": counts.albums, "artists": counts.artists, "can_scan": app.scan != nil,
                "scans": scans.map { ["at": WebFormat.time($0.finishedAt), "added": $0.summary.added, "updated": $0.summary.updated, "removed": $0.summary.removed, "errors": $0.summary.errors, "ms": Int($0.summary.durationMs)] as [String: Any] },
                "problems": (scans.first?.summary.problems ?? []).prefix(100).map { ["path": $0.path, "reason": $0.reason] },
                "has_scans": !scans.isEmpty, "has_problems": !(scans.first?.summary.problems ?? []).isEmpty,
            ])
        }
        on("/admin/scan", .post) { request, context in
            _ = try requireAdmin(context)
            guard let scan = app.scan else { throw WebError(.notFound, "no catalog folder is configured (catalog.paths)") }
            _ = try await scan()
            return WebHeaders.redirect("/admin/scan")
        }
        on("/admin/streams", .get) { request, context in
            _ = try requireAdmin(context)
            let names = Dictionary(try await app.users.list().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            let active = app.ledger.active()
            let songs = Dictionary(try await app.catalog.songs(ids: Array(Set(active.map(\.songId)))).map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
            return page("admin_streams", context, ["streams": active.map { r in
                ["id": r.id, "song": songs[r.songId] ?? "song \(r.songId)", "user": r.userId.flatMap { names[$0] } ?? "", "player": r.player ?? "", "bytes": r.bytesSent] as [String: Any]
            }])
        }
    }

    func users(_ context: RepriseContext, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        _ = try requireAdmin(context)
        let users = try await app.users.list()
        var data: [String: Any] = ["users": users.map { ["name": $0.name, "role": $0.role.rawValue, "is_admin": $0.role == .admin, "disabled": $0.disabled] as [String: Any] }]
        if let error { data["error"] = error }
        return page("admin_users", context, data, status: status)
    }

    func plugins(_ context: RepriseContext, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        _ = try requireAdmin(context)
        var data: [String: Any] = ["plugins": admin.plugins().map { ["name": $0.name, "version": $0.version, "file": $0.file, "calls": $0.calls, "errors": $0.errors, "last_error": $0.lastError] as [String: Any] }]
        if let error { data["error"] = error }
        return page("admin_plugins", context, data, status: status)
    }
}
