/// An Ampache v6 error: HTTP 200 with `errorCode`, `errorAction`, `errorType`, `errorMessage`.
struct AmpacheError: Error, Sendable {
    /// The Ampache error codes Reprise answers with.
    enum Code: String, Sendable {
        case accessControl = "4700"
        case invalidHandshake = "4701"
        case accessDenied = "4703"
        case notFound = "4704"
        case missing = "4705"
        case badRequest = "4710"
    }

    var code: Code
    var action: String
    /// `account`, `system`, or the name of the parameter at fault.
    var type: String
    var message: String

    init(_ code: Code, action: String, type: String, _ message: String) {
        self.code = code
        self.action = action
        self.type = type
        self.message = message
    }

    /// The fields of the `error` object, in Ampache's order.
    var fields: [(String, AValue)] {
        [("errorCode", .text(code.rawValue)), ("errorAction", .text(action)), ("errorType", .text(type)), ("errorMessage", .text(message))]
    }

    static func missing(_ action: String, _ parameter: String) -> AmpacheError {
        AmpacheError(.missing, action: action, type: parameter, "missing mandatory parameter '\(parameter)'")
    }

    static func bad(_ action: String, _ parameter: String, _ message: String) -> AmpacheError {
        AmpacheError(.badRequest, action: action, type: parameter, message)
    }
}
