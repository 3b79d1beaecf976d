import Foundation
import Hummingbird
import RepriseCore
import RepriseStorage

/// `/api/v1/client-passwords`: a user's passwords for Subsonic apps (one per device), minted, listed, revoked.
func clientPasswordRoutes(_ app: AppServices) -> RouteModule {
    RouteModule.build { on in
        @Sendable func store() throws -> any ClientPasswordRepository {
            guard let store = app.clientPasswords else { throw APIError(.serviceUnavailable, code: .unavailable, "client passwords need the server's secret key") }
            return store
        }
        on("/api/v1/client-passwords", .post) { request, context in
            let s = try context.requireSession()
            let body = try await JSONBody.read(request, limit: app.maxBodyBytes)
            try body.require("label")
            let (password, info) = try await store().create(user: s.user, label: try body.string("label")!, ttlSeconds: try body.int("ttl_seconds"))
            return try json(.created, ClientPasswordCreated(id: info.id, password: password, label: info.label, expiresAt: info.expiresAt))
        }
        on("/api/v1/client-passwords", .get) { _, context in
            let s = try context.requireSession()
            return try json(.ok, ClientPasswordList(clientPasswords: try await store().list(userId: s.user.id)))
        }
        on("/api/v1/client-passwords/:id", .delete) { _, context in
            let s = try context.requireSession()
            guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError(.badRequest, code: .badRequest, "client password ids are integers") }
            guard try await store().revoke(id: id, userId: s.user.role == .admin ? nil : s.user.id) else {
                throw APIError(.notFound, code: .notFound, "no usable client password \(id) of yours")
            }
            return Response(status: .noContent)
        }
    }
}

struct ClientPasswordCreated: Encodable { let id: Int64, password: String, label: String, expiresAt: Int64? }
struct ClientPasswordList: Encodable { let clientPasswords: [ClientPasswordInfo] }
