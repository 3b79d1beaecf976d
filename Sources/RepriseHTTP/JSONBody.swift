import Foundation
import Hummingbird
import NIOCore

/// A JSON value, for bodies whose fields are checked one by one.
public enum JSONValue: Decodable, Equatable, Sendable {
    case null, bool(Bool), int(Int64), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// A request's JSON object body, with typed getters whose errors name the field.
public struct JSONBody: Sendable {
    public let object: [String: JSONValue]

    /// Reads and parses the body; 413 over `limit`, 400 when it is not a JSON object.
    public static func read(_ request: Request, limit: Int) async throws -> JSONBody {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: .bodyTooLarge, "the request body is over \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError(.badRequest, code: .badRequest, "the request needs a JSON object body") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError(.badRequest, code: .malformedJson, "the request body is not valid JSON")
        }
        guard case .object(let object) = value else { throw APIError(.badRequest, code: .badRequest, "the request body must be a JSON object") }
        return JSONBody(object: object)
    }

    /// Fails with one 400 naming every missing field.
    public func require(_ fields: String...) throws {
        let missing = fields.filter { object[$0] == nil || object[$0] == .null }
        if !missing.isEmpty {
            throw APIError(.badRequest, code: .missingFields, "missing field\(missing.count > 1 ? "s" : ""): \(missing.joined(separator: ", "))")
        }
    }

    public func string(_ key: String) throws -> String? {
        switch object[key] {
        case nil, .null: return nil
        case .string(let s): return s
        default: throw APIError(.badRequest, code: .badField, "'\(key)' must be a string")
        }
    }

    public func int(_ key: String) throws -> Int64? {
        switch object[key] {
        case nil, .null: return nil
        case .int(let i): return i
        default: throw APIError(.badRequest, code: .badField, "'\(key)' must be an integer")
        }
    }

    public func bool(_ key: String) throws -> Bool? {
        switch object[key] {
        case nil, .null: return nil
        case .bool(let b): return b
        default: throw APIError(.badRequest, code: .badField, "'\(key)' must be true or false")
        }
    }

    /// An array of integers; 400 naming the field otherwise.
    public func intArray(_ key: String) throws -> [Int64]? {
        switch object[key] {
        case nil, .null: return nil
        case .array(let items):
            return try items.map { item in
                guard case .int(let i) = item else { throw APIError(.badRequest, code: .badField, "'\(key)' must be an array of integers") }
                return i
            }
        default: throw APIError(.badRequest, code: .badField, "'\(key)' must be an array of integers")
        }
    }
}
