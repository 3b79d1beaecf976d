import CLua
import CLuaShim

/// Writes a table's fields straight onto a VM's stack; for hook contexts built on every request.
///
/// ```swift
/// let ctx = LuaTableArgument(fields: 2) { t in
///     t.set("path", "/stream/1")
///     t.set("user", fields: 1) { u in u.set("id", 7) }
/// }
/// try vm.call(plugin: "p", hook: "token_authorize", table: ctx)
/// ```
public struct LuaTableWriter {
    let L: OpaquePointer

    /// Sets `key` to an integer; nil leaves the field out.
    public func set(_ key: String, _ value: Int64?) {
        guard let value else { return }
        LuaStack.push(L, string: key)
        lua_pushinteger(L, value)
        lua_rawset(L, -3)
    }

    /// Sets `key` to a string; nil leaves the field out.
    public func set(_ key: String, _ value: String?) {
        guard let value else { return }
        LuaStack.push(L, string: key)
        LuaStack.push(L, string: value)
        lua_rawset(L, -3)
    }

    /// Sets `key` to a nested table of about `fields` fields written by `body`.
    public func set(_ key: String, fields: Int32, _ body: (LuaTableWriter) -> Void) {
        guard lua_checkstack(L, 4) != 0 else { return }
        LuaStack.push(L, string: key)
        lua_createtable(L, 0, fields)
        body(self)
        lua_rawset(L, -3)
    }
}

/// One table argument written by a closure rather than converted from a ``LuaValue``.
public struct LuaTableArgument {
    public let fields: Int32
    public let write: (LuaTableWriter) -> Void

    public init(fields: Int32, _ write: @escaping (LuaTableWriter) -> Void) {
        self.fields = fields
        self.write = write
    }
}
