/// An HTTP entity tag (RFC 9110 §8.8.3).
public struct EntityTag: Sendable, Hashable {
    /// The opaque tag without quotes, e.g. `2a-1f4-18c2b`.
    public let opaque: String
    /// Whether the tag is weak (`W/` prefix).
    public let isWeak: Bool

    /// Creates a tag from its opaque part, given without the surrounding quotes.
    public init(opaque: String, isWeak: Bool = false) {
        self.opaque = opaque
        self.isWeak = isWeak
    }

    /// Returns a strong tag from an identity (song id or inode), the byte size and mtime in epoch ms.
    ///
    ///     EntityTag.strong(id: 42, size: 500, mtimeMs: 1_700_000_000_000).headerValue  // "\"2a-1f4-18bcfe56800\""
    public static func strong(id: Int64, size: Int64, mtimeMs: Int64) -> EntityTag {
        EntityTag(opaque: "\(String(id, radix: 16))-\(String(size, radix: 16))-\(String(mtimeMs, radix: 16))")
    }

    /// The field value: the quoted tag, prefixed by `W/` when weak.
    public var headerValue: String { (isWeak ? "W/" : "") + "\"" + opaque + "\"" }

    /// Returns whether two tags match under weak comparison (opaque tags equal).
    public func weaklyMatches(_ other: EntityTag) -> Bool { opaque == other.opaque }

    /// Returns whether two tags match under strong comparison (both strong, opaque tags equal).
    public func stronglyMatches(_ other: EntityTag) -> Bool { !isWeak && !other.isWeak && opaque == other.opaque }

    /// Parses one entity-tag such as `"abc"` or `W/"abc"`; nil when malformed.
    public static func parse(_ text: String) -> EntityTag? {
        guard case let .tags(tags)? = EntityTagList.parse(text), tags.count == 1 else { return nil }
        return tags[0]
    }
}

/// The value of `If-None-Match` or `If-Match`: `*` or a list of entity tags.
public enum EntityTagList: Sendable, Equatable {
    /// `*`: matches any current representation.
    case any
    /// A non-empty list of tags.
    case tags([EntityTag])

    /// Parses a field value; nil when malformed (the caller then ignores the field).
    public static func parse(_ text: String) -> EntityTagList? {
        let value = trimOWS(Substring(text))
        if value == "*" { return .any }
        var tags: [EntityTag] = []
        var rest = value.utf8[...]
        while true {
            while let c = rest.first, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: ",") {
                rest = rest.dropFirst()
            }
            guard !rest.isEmpty else { break }
            var weak = false
            if rest.starts(with: "W/".utf8) {
                weak = true
                rest = rest.dropFirst(2)
            }
            guard rest.first == UInt8(ascii: "\"") else { return nil }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            let opaqueBytes = rest[..<close]
            // etagc = %x21 / %x23-7E / obs-text
            guard opaqueBytes.allSatisfy({ $0 == 0x21 || $0 >= 0x23 && $0 != 0x7F }) else { return nil }
            tags.append(EntityTag(opaque: String(decoding: opaqueBytes, as: UTF8.self), isWeak: weak))
            rest = rest[rest.index(after: close)...]
            while let c = rest.first, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { rest = rest.dropFirst() }
            guard rest.isEmpty || rest.first == UInt8(ascii: ",") else { return nil }
        }
        return tags.isEmpty ? nil : .tags(tags)
    }

    /// Returns whether `tag` matches this list under weak comparison (as `If-None-Match` requires).
    public func weaklyMatches(_ tag: EntityTag) -> Bool {
        switch self {
        case .any: true
        case let .tags(tags): tags.contains { $0.weaklyMatches(tag) }
        }
    }
}
