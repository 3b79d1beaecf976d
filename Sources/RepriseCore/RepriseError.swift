/// An error Reprise reports to a caller, with a stable code and a message safe to show.
///
/// ```swift
/// throw RepriseError(.notFound, "no song 42")
/// ```
public struct RepriseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable error code; new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case badRequest = "bad_request"
            case unauthorized
            case forbidden
            case notFound = "not_found"
            case conflict
            case unavailable
            case config = "config_error"
            case `internal` = "internal_error"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let badRequest = Code(.badRequest)
        public static let unauthorized = Code(.unauthorized)
        public static let forbidden = Code(.forbidden)
        public static let notFound = Code(.notFound)
        public static let conflict = Code(.conflict)
        public static let unavailable = Code(.unavailable)
        public static let config = Code(.config)
        public static let `internal` = Code(.internal)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
