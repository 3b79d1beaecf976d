/// A plain Lua value as seen from Swift: no functions, userdata or shared references.
///
/// Tables whose keys are exactly `1...n` become `.array`; other tables become `.table`, with
/// integer keys written as decimal strings and other non-string keys skipped. An empty table
/// becomes `.table([:])`.
///
/// ```swift
/// let v: LuaValue = ["title": "Blue", "tracks": [1, 2, 3]]
/// v["title"].stringValue // "Blue"
/// ```
public enum LuaValue: Sendable, Hashable {
    case `nil`
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([LuaValue])
    case table([String: LuaValue])
    /// A table built in Swift, pushed field by field with no hashing on the way (hook contexts);
    /// Lua hands tables back as `.table`.
    case record([LuaField])
}

/// One field of a ``LuaValue/record(_:)``; a `.nil` value leaves the field out.
public struct LuaField: Sendable, Hashable {
    public var key: String
    public var value: LuaValue
    public init(_ key: String, _ value: LuaValue) {
        self.key = key
        self.value = value
    }
}

extension LuaValue {
    /// The string, if this is `.string`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer, if this is `.integer` or a `.number` with an exact integer value.
    public var intValue: Int? {
        switch self {
        case .integer(let i): return Int(exactly: i)
        case .number(let d): return Int(exactly: d)
        default: return nil
        }
    }

    /// The number, if this is `.integer` or `.number`.
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// The boolean, if this is `.bool`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, if this is `.array` (an empty `.table` counts as an empty array).
    public var arrayValue: [LuaValue]? {
        switch self {
        case .array(let a): return a
        case .table(let t) where t.isEmpty: return []
        default: return nil
        }
    }

    /// The fields, if this is `.table` (an `.array` is keyed by decimal indices).
    public var tableValue: [String: LuaValue]? {
        switch self {
        case .table(let t): return t
        case .record(let fields):
            var t: [String: LuaValue] = [:]
            for f in fields where f.value != .nil { t[f.key] = f.value }
            return t
        case .array(let a):
            var t: [String: LuaValue] = [:]
            for (i, v) in a.enumerated() { t[String(i + 1)] = v }
            return t
        default: return nil
        }
    }

    /// Whether this is `.nil`.
    public var isNil: Bool { self == .nil }

    /// Lua truthiness: everything except `nil` and `false` is true.
    public var isTruthy: Bool {
        switch self {
        case .nil, .bool(false): return false
        default: return true
        }
    }

    /// The field named `key` of a `.table`, or `.nil`.
    public subscript(key: String) -> LuaValue {
        switch self {
        case .table(let t): return t[key] ?? .nil
        case .record(let fields): return fields.last { $0.key == key }?.value ?? .nil
        default: return .nil
        }
    }

    /// The element at 1-based `index` of an `.array`, or `.nil`.
    public subscript(index: Int) -> LuaValue {
        if case .array(let a) = self, index >= 1, index <= a.count { return a[index - 1] }
        return .nil
    }
}

extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .nil }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: LuaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, LuaValue)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension LuaValue: CustomStringConvertible {
    /// A compact JSON-like rendering for logs and test failures.
    public var description: String {
        switch self {
        case .nil: return "nil"
        case .bool(let b): return String(b)
        case .integer(let i): return String(i)
        case .number(let d): return String(d)
        case .string(let s): return JSON.quote(s)
        case .array(let a): return "[" + a.map(\.description).joined(separator: ",") + "]"
        case .table(let t):
            let fields = t.keys.sorted().map { JSON.quote($0) + ":" + t[$0]!.description }
            return "{" + fields.joined(separator: ",") + "}"
        case .record: return LuaValue.table(tableValue ?? [:]).description
        }
    }
}
