import CLua
import CLuaShim

/// Conversion between `LuaValue` and the Lua stack. Nothing here raises a Lua error: pushes run
/// with the memory cap lifted, and stack space is checked first.
enum LuaStack {
    /// Tables nested deeper than this read as `.nil` (this also stops cycles).
    static let maxDepth = 100

    /// What one conversion from Lua may produce: a table reached twice (`t = {t, t}`) counts twice,
    /// so shared subtables cannot expand past the limit however they nest.
    struct Allowance {
        /// Values (table entries included) left to convert.
        var nodes: Int
        /// String bytes left to copy.
        var bytes: Int
        /// Set once either ran out; the value read is then incomplete and must be refused.
        var exceeded = false

        init(nodes: Int = 100_000, bytes: Int = 16 << 20) {
            self.nodes = nodes
            self.bytes = bytes
        }

        mutating func take(nodes n: Int, bytes b: Int) -> Bool {
            nodes -= n
            bytes -= b
            if nodes < 0 || bytes < 0 { exceeded = true }
            return !exceeded
        }
    }

    /// Reads the value at `index` without calling metamethods, within a fresh allowance.
    static func value(_ L: OpaquePointer, at index: Int32) -> LuaValue {
        var allowance = Allowance()
        return value(L, at: index, depth: 0, allowance: &allowance)
    }

    /// Reads the value at `index` without calling metamethods; past `allowance` it reads `.nil`.
    static func value(_ L: OpaquePointer, at index: Int32, depth: Int, allowance: inout Allowance) -> LuaValue {
        guard allowance.take(nodes: 1, bytes: 0) else { return .nil }
        switch lua_type(L, index) {
        case LUA_TBOOLEAN:
            return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 { return .integer(reprise_tointeger(L, index)) }
            return .number(reprise_tonumber(L, index))
        case LUA_TSTRING:
            var length = 0
            _ = reprise_tostring(L, index, &length)
            guard allowance.take(nodes: 0, bytes: length) else { return .nil }
            return .string(string(L, at: index))
        case LUA_TTABLE:
            return depth < maxDepth ? table(L, at: index, depth: depth, allowance: &allowance) : .nil
        default:
            return .nil
        }
    }

    /// Reads the string at `index`, which must be a string (numbers would be converted in place).
    static func string(_ L: OpaquePointer, at index: Int32) -> String {
        var length = 0
        guard let bytes = reprise_tostring(L, index, &length) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    /// Reads a table with raw access: keys `1...n` give `.array`, anything else `.table`.
    static func table(_ L: OpaquePointer, at index: Int32, depth: Int, allowance: inout Allowance) -> LuaValue {
        guard lua_checkstack(L, 3) != 0 else { return .nil }
        let t = lua_absindex(L, index)
        reprise_context_prepare(L, t) // a hook's context shows every field
        var integers: [Int64: LuaValue] = [:]
        var strings: [String: LuaValue] = [:]
        lua_pushnil(L) // [.. nil]
        while lua_next(L, t) != 0 { // [.. key value]
            let v = value(L, at: -1, depth: depth + 1, allowance: &allowance)
            if allowance.exceeded {
                reprise_pop(L, 2) // [..]
                return .nil
            }
            switch lua_type(L, -2) {
            case LUA_TSTRING:
                var length = 0
                _ = reprise_tostring(L, -2, &length)
                guard allowance.take(nodes: 0, bytes: length) else {
                    reprise_pop(L, 2) // [..]
                    return .nil
                }
                strings[string(L, at: -2)] = v
            case LUA_TNUMBER where lua_isinteger(L, -2) != 0:
                integers[reprise_tointeger(L, -2)] = v
            default:
                break
            }
            reprise_pop(L, 1) // [.. key]
        }
        if strings.isEmpty, !integers.isEmpty, integers.keys.min() == 1, integers.keys.max() == Int64(integers.count) {
            return .array((1...Int64(integers.count)).map { integers[$0]! })
        }
        for (k, v) in integers { strings[String(k)] = v }
        return .table(strings)
    }

    /// Pushes one value; a table that does not fit on the stack is pushed as nil.
    static func push(_ L: OpaquePointer, _ value: LuaValue) {
        switch value {
        case .nil:
            lua_pushnil(L)
        case .bool(let b):
            lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i):
            lua_pushinteger(L, i)
        case .number(let d):
            lua_pushnumber(L, d)
        case .string(let s):
            push(L, string: s)
        case .array(let elements):
            guard lua_checkstack(L, 3) != 0 else { return lua_pushnil(L) }
            lua_createtable(L, Int32(clamping: elements.count), 0) // [.. t]
            for (i, element) in elements.enumerated() {
                push(L, element)                         // [.. t v]
                lua_rawseti(L, -2, lua_Integer(i + 1))  // [.. t]
            }
        case .table(let fields):
            guard lua_checkstack(L, 3) != 0 else { return lua_pushnil(L) }
            lua_createtable(L, 0, Int32(clamping: fields.count)) // [.. t]
            for (key, field) in fields {
                push(L, string: key) // [.. t k]
                push(L, field)       // [.. t k v]
                lua_rawset(L, -3)    // [.. t]
            }
        case .record(let fields):
            guard lua_checkstack(L, 3) != 0 else { return lua_pushnil(L) }
            lua_createtable(L, 0, Int32(clamping: fields.count)) // [.. t]
            for f in fields where f.value != .nil {
                push(L, string: f.key) // [.. t k]
                push(L, f.value)       // [.. t k v]
                lua_rawset(L, -3)      // [.. t]
            }
        }
    }

    /// Pushes a Swift string as a Lua string of its UTF-8 bytes.
    static func push(_ L: OpaquePointer, string: String) {
        var s = string
        s.withUTF8 { bytes in
            _ = lua_pushlstring(L, bytes.baseAddress, bytes.count)
        }
    }

    /// Describes the error object at the top of the stack.
    static func errorMessage(_ L: OpaquePointer) -> String {
        if lua_type(L, -1) == LUA_TSTRING { return string(L, at: -1) }
        let type = String(cString: lua_typename(L, lua_type(L, -1)))
        return "(error object is a \(type) value)"
    }
}
