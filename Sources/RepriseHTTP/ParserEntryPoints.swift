import Foundation

/// The parsers that read request bytes before any check, exposed for the fuzz targets (`make fuzz`).
public enum HTTPParserEntryPoints {
    /// The fast path's request-target parser: `/stream/{id}?token=...`.
    public static func streamTarget(_ uri: String) -> (songId: Int64, token: String)? {
        StreamFastPath.parse(uri).map { ($0.songId, $0.token) }
    }

    /// A JSON body as the API reads it, and each typed getter on every key it has.
    public static func jsonBody(_ data: Data) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let object) = value else { return }
        let body = JSONBody(object: object)
        for key in object.keys {
            _ = try? body.string(key)
            _ = try? body.int(key)
            _ = try? body.bool(key)
            _ = try? body.intArray(key)
        }
    }
}
