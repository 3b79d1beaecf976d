import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RepriseHTTP
@testable import RepriseServer
import RepriseWeb
import Testing

/// `docs/openapi.yaml` describes exactly the routes the router serves.
@Suite struct OpenAPITests {
    /// The repository's root, found from this file.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A core with a player configured, so that the localplay routes are registered too (nothing connects).
    static func library() throws -> Library {
        try Library(extraYAML: """
            plugins:
              paths: [\(root.appendingPathComponent("plugins").path)]
            playback:
              players:
                - {name: den, backend: mpd, owner: admin, host: 127.0.0.1, port: 9}
            """)
    }

    @Test func everyRouteIsDescribedAndEveryDescriptionRouted() throws {
        let lib = try Self.library()
        func routes(_ modules: [RouteModule]) -> Set<String> {
            Set(buildRouter(lib.core.services, modules: modules).routes.map {
                "\($0.method.rawValue) " + $0.path.description.replacingOccurrences(of: #"\{([^}]+)\}"#, with: ":$1", options: .regularExpression)
            })
        }
        // Ampache's and Subsonic's routes follow their own documentation, not this one; the web UI's pages are HTML.
        let web = routes([webRoutes(lib.core.services, assets: try WebAssets.bundled())]).subtracting(routes([]))
        let routed = routes(lib.core.routeModules).subtracting(web).filter { r in !["/server/", "/play/", "/rest/"].contains { r.split(separator: " ")[1].hasPrefix($0) } }
        let described = Set(try OpenAPIDocument.operations().map { "\($0.method) \($0.path)" })
        #expect(routed.count > 30)
        #expect(routed.subtracting(described).sorted() == [], "routes missing from docs/openapi.yaml")
        #expect(described.subtracting(routed).sorted() == [], "docs/openapi.yaml describes routes that do not exist")
    }

    @Test func docsFileIsTheShippedOne() throws {
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        #expect(docs == (try OpenAPIDocument.yaml()))
        #expect(docs.hasPrefix("openapi: 3.1.0"))
    }

    /// 405 and `Allow` come from the router's own routes, feature modules' included (captures and wildcards).
    @Test func wrongMethodsAnswer405FromTheRoutersRoutes() async throws {
        let lib = try Self.library()
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router) { client in
            for (method, path, allow) in [
                (HTTPRequest.Method.put, "/api/v1/tokens/7", "DELETE"),
                (.patch, "/api/v1/players/den/queue", "DELETE, POST"),
                (.delete, "/play/index.php/ssid/abc/oid/1/name/x.mp3", "GET, HEAD"),
                (.put, "/server/json.server.php", "GET, HEAD, POST"),
            ] {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                }
            }
            try await client.execute(uri: "/api/v1/players/den/nothing", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func servedAsJSONWithoutAuthentication() async throws {
        let lib = try Self.library()
        try await Application(router: buildRouter(lib.core.services, modules: lib.core.routeModules)).test(.router) { client in
            try await client.execute(uri: "/api/v1/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let doc = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(doc?["openapi"] as? String == "3.1.0")
                let paths = doc?["paths"] as? [String: Any]
                #expect(paths?["/api/v1/tokens/{id}"] != nil)
            }
        }
    }
}
