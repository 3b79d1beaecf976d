import CLua
import CLuaShim

/// Writes a table's fields straight onto a VM's stack; for hook contexts built on every request.
///
/// Keys are literals: Lua's string cache finds them by address, without hashing them again.
///
/// ```swift
/// try vm.call(plugin: "p", hook: "token_authorize", context: LuaContextShape("request")) { _, t in
///     t.set("request", fields: 1) { r in r.set("path", "/stream/1") }
/// }
/// ```
public struct LuaTableWriter {
    let L: OpaquePointer

    /// Sets `key` to an integer; nil leaves the field out.
    public func set(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        push(key)
        lua_pushinteger(L, value)
        lua_rawset(L, -3)
    }

    /// Sets `key` to a string; nil leaves the field out.
    public func set(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        push(key)
        LuaStack.push(L, string: value)
        lua_rawset(L, -3)
    }

    /// Sets `key` to a nested table of about `fields` fields written by `body`.
    public func set(_ key: StaticString, fields: Int32, _ body: (LuaTableWriter) -> Void) {
        guard lua_checkstack(L, 4) != 0 else { return }
        push(key)
        lua_createtable(L, 0, fields)
        body(self)
        lua_rawset(L, -3)
    }

    private func push(_ key: StaticString) {
        if key.hasPointerRepresentation {
            _ = lua_pushstring(L, UnsafeRawPointer(key.utf8Start).assumingMemoryBound(to: CChar.self))
        } else {
            key.withUTF8Buffer { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }
}
