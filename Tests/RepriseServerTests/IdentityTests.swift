import Foundation
import Hummingbird
import HummingbirdTesting
import RepriseCore
import RepriseHTTP
import RepriseSQLite
@testable import RepriseServer
import Testing

/// One middleware sets `context.identity`; routes say what they need.
@Suite struct IdentityTests {
    @Test func eachCredentialReachesWhatItMayAndNoMore() async throws {
        let lib = try Library()
        let (session, token) = try await lib.credentials()
        let ann = try #require(try await lib.core.users.find(name: "ann"))
        let key = try await ApiKeyStore(db: lib.core.db, clock: lib.core.clock).rotate(userId: ann.id)
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router) { client in
            // A session reaches everything its user may.
            #expect(try await client.get("/api/v1/songs", bearer: session).status == .ok)
            #expect(try await client.post("/api/v1/tokens", bearer: session, json: #"{"label":"x"}"#).status == .created)
            // An API key reads the catalog, and mints nothing.
            #expect(try await client.get("/api/v1/songs", bearer: key).status == .ok)
            let mint = try await client.post("/api/v1/tokens", bearer: key, json: #"{"label":"x"}"#)
            #expect(mint.status == .unauthorized)
            // A stream token authorizes streaming only, and says so.
            let songs = try await client.get("/api/v1/songs", bearer: token)
            #expect(songs.status == .unauthorized)
            #expect(songs.errorMessage.contains("streaming only"))
            // Nothing, or an unknown credential: 401 with the usual hint.
            #expect(try await client.get("/api/v1/songs").status == .unauthorized)
            #expect(try await client.get("/api/v1/songs", bearer: "rs_unknown").status == .unauthorized)
            // A logged-out session is gone for every route.
            #expect(try await client.execute(uri: "/api/v1/sessions/current", method: .delete, headers: [.authorization: "Bearer \(session)"]) { $0.status } == .noContent)
            #expect(try await client.get("/api/v1/songs", bearer: session).status == .unauthorized)
        }
    }
}
