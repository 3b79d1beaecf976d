import CLua
import CLuaShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The top-level field names of a hook context, in the order `fill` receives their indices.
///
/// ```swift
/// static let authorize = LuaContextShape("token", "user", "request", "song")
/// ```
public struct LuaContextShape: Sendable {
    /// The field names; at most 64.
    public let names: [StaticString]

    /// Creates a shape from literal names.
    public init(_ names: StaticString...) {
        precondition(names.count <= 64, "a hook context has at most 64 fields")
        self.names = names
    }

    /// The index of the Lua string at `index`, if it names a field.
    func index(of L: OpaquePointer, at index: Int32) -> Int? {
        var length = 0
        guard let bytes = reprise_tostring(L, index, &length) else { return nil }
        return names.firstIndex { name in
            name.withUTF8Buffer { $0.count == length && (length == 0 || memcmp($0.baseAddress!, bytes, length) == 0) }
        }
    }
}
