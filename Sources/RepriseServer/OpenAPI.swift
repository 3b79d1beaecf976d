import Foundation
import Hummingbird
import NIOCore
import RepriseHTTP
import Yams

/// The native API's OpenAPI 3.1 description (`docs/openapi.yaml`), shipped as a resource.
public enum OpenAPIDocument {
    /// The YAML text as shipped.
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "openapi.yaml (RepriseServer resources)"])
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The document as JSON, converted once.
    public static func json() throws -> Data {
        guard let object = try Yams.load(yaml: try yaml()) else { throw CocoaError(.fileReadCorruptFile) }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The `(path, method)` pairs the document describes, paths written with `:name` parameters.
    ///
    ///     try OpenAPIDocument.operations().contains { $0 == ("/api/v1/tokens/:id", "DELETE") }
    public static func operations() throws -> [(path: String, method: String)] {
        let root = try Yams.load(yaml: try yaml()) as? [String: Any] ?? [:]
        let paths = root["paths"] as? [String: Any] ?? [:]
        let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        return paths.flatMap { path, item -> [(path: String, method: String)] in
            let routed = path.replacingOccurrences(of: #"\{([^}]+)\}"#, with: ":$1", options: .regularExpression)
            return ((item as? [String: Any]) ?? [:]).keys.filter(methods.contains).map { (routed, $0.uppercased()) }
        }
    }
}

/// `GET /api/v1/openapi.json`, unauthenticated.
func openAPIRoutes(_ body: Data) -> RouteModule {
    RouteModule.build { on in
        on("/api/v1/openapi.json", .get) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(data: body)))
        }
    }
}
