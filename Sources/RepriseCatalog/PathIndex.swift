#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The catalog's files by path, looked up by bytes: a rescan finds an unchanged file without
/// making a string for it.
///
/// Paths sit in one byte arena in the order added. A walk over an unchanged library finds them in
/// that same order (the catalog adds files in walk order), so ``ScanPlanner`` first compares a
/// found file with the one after the last match; the hash table behind them is built only when
/// that guess first fails.
///
///     var index = PathIndex()
///     index.add(path: "/m/a.flac", IndexedFile(id: 1, size: 10, mtimeMs: 5))
///     index.find("/m/a.flac")  // IndexedFile(id: 1, ...)
public struct PathIndex: Sendable {
    struct Entry: Sendable {
        var offset: Int
        var length: Int
        var file: IndexedFile
    }

    private var arena: [UInt8] = []
    private(set) var entries: [Entry] = []
    /// A hash's top 32 bits over its entry's position plus one; 0 is an empty slot. At most half
    /// full, a power of two long; empty until the first lookup by hash.
    private var slots: [UInt64] = []

    /// Creates an empty index with room for `capacity` paths.
    public init(capacity: Int = 0) {
        entries.reserveCapacity(capacity)
        arena.reserveCapacity(capacity * 64)
    }

    /// Creates an index holding `files`.
    public init(_ files: [String: IndexedFile]) {
        self.init(capacity: files.count)
        for (path, file) in files { add(path: path, file) }
    }

    /// The number of paths held.
    public var count: Int { entries.count }

    /// Adds `path`, which must not be held yet (the catalog's paths are unique).
    public mutating func add(path: UnsafeBufferPointer<UInt8>, _ file: IndexedFile) {
        entries.append(Entry(offset: arena.count, length: path.count, file: file))
        arena.append(contentsOf: path)
        if !slots.isEmpty { slots = [] }  // rebuilt on the next lookup
    }

    /// Adds `path`, which must not be held yet.
    public mutating func add(path: String, _ file: IndexedFile) {
        var path = path
        path.withUTF8 { add(path: $0, file) }
    }

    /// The row for `path`, if held.
    public mutating func find(_ path: String) -> IndexedFile? {
        var path = path
        return path.withUTF8 { bytes in find(hash: PathHash.of(bytes), bytes, UnsafeBufferPointer(start: nil, count: 0)) }
            .map { entries[$0].file }
    }

    /// Whether the entry at `position` is the path `head` + `tail`.
    func holds(_ position: Int, _ head: UnsafeBufferPointer<UInt8>, _ tail: UnsafeBufferPointer<UInt8>) -> Bool {
        let e = entries[position]
        guard e.length == head.count + tail.count else { return false }
        return arena.withUnsafeBufferPointer { Self.equal($0, e.offset, head) && Self.equal($0, e.offset + head.count, tail) }
    }

    /// The position in `entries` of the path `head` + `tail`, whose ``PathHash`` is `hash`.
    mutating func find(hash: UInt64, _ head: UnsafeBufferPointer<UInt8>, _ tail: UnsafeBufferPointer<UInt8>) -> Int? {
        if slots.isEmpty { buildTable() }
        let tag = hash >> 32
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[i]
            if slot == 0 { return nil }
            if slot >> 32 == tag, holds(Int(slot & 0xffff_ffff) - 1, head, tail) { return Int(slot & 0xffff_ffff) - 1 }
            i = (i + 1) & mask
        }
    }

    private static func equal(_ arena: UnsafeBufferPointer<UInt8>, _ offset: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        return memcmp(arena.baseAddress! + offset, base, bytes.count) == 0
    }

    private mutating func buildTable() {
        var size = 16
        while size < entries.count * 2 { size <<= 1 }
        var slots = [UInt64](repeating: 0, count: size)
        let mask = size - 1
        arena.withUnsafeBufferPointer { arena in
            for (position, e) in entries.enumerated() {
                let hash = PathHash.of(UnsafeBufferPointer(rebasing: arena[e.offset..<e.offset + e.length]))
                var i = Int(truncatingIfNeeded: hash) & mask
                while slots[i] != 0 { i = (i + 1) & mask }
                slots[i] = (hash >> 32) << 32 | UInt64(position + 1)
            }
        }
        self.slots = slots
    }
}

/// A path's 64-bit hash, in two parts: a directory's (through its last slash) and a name's, so a
/// walk hashes each directory once. Not for untrusted keys.
enum PathHash {
    /// The hash of a whole path.
    static func of(_ path: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let cut = path.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0
        return join(bytes(UnsafeBufferPointer(rebasing: path[..<cut])), UnsafeBufferPointer(rebasing: path[cut...]))
    }

    /// The hash of the path made of a directory hashed as `directory` and `name`.
    static func join(_ directory: UInt64, _ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        mix(directory &* 0x9e37_79b9_7f4a_7c15 ^ bytes(name))
    }

    /// The hash of `bytes`, eight at a time.
    static func bytes(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h = 0x2545_f491_4f6c_dd1d ^ UInt64(bytes.count)
        guard let base = bytes.baseAddress else { return mix(h) }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= bytes.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 32
            i += 8
        }
        if i < bytes.count {
            var tail: UInt64 = 0
            withUnsafeMutableBytes(of: &tail) { $0.copyMemory(from: UnsafeRawBufferPointer(start: raw + i, count: bytes.count - i)) }
            h = (h ^ tail) &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 32
        }
        return mix(h)
    }

    /// MurmurHash3's finalizer.
    private static func mix(_ x: UInt64) -> UInt64 {
        var h = x
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}

/// Builds a ``ScanPlan`` from files found one by one against a ``PathIndex``.
struct ScanPlanner {
    private var index: PathIndex
    private var matched: [Bool]
    private var matchedCount = 0
    /// The entry expected next: the one after the last match.
    private var cursor = 0
    private var addedPaths = Set<String>()
    private(set) var plan = ScanPlan()

    init(index: PathIndex) {
        self.index = index
        matched = [Bool](repeating: false, count: index.count)
    }

    /// Notes the file at `head` + `tail`; `hash` gives its ``PathHash`` and `path` its string, when needed.
    mutating func found(
        _ head: UnsafeBufferPointer<UInt8>, _ tail: UnsafeBufferPointer<UInt8>, size: Int64, mtimeMs: Int64,
        hash: () -> UInt64, path: () -> String
    ) {
        var position: Int?
        if cursor < index.count, index.holds(cursor, head, tail) {
            position = cursor
        } else {
            position = index.find(hash: hash(), head, tail)
        }
        var made: String?
        if position == nil {
            // A name that is not UTF-8 is repaired in its string, and stored so: look that up.
            var p = path()
            made = p
            position = p.withUTF8 { b in
                Self.same(b, head, tail) ? nil : index.find(hash: PathHash.of(b), b, UnsafeBufferPointer(start: nil, count: 0))
            }
        }
        if let position {
            cursor = position + 1
            guard !matched[position] else { return }  // found twice
            matched[position] = true
            matchedCount += 1
            let indexed = index.entries[position].file
            if indexed.size == size && indexed.mtimeMs == mtimeMs {
                plan.unchangedCount += 1
            } else {
                plan.changed.append(ChangedFile(id: indexed.id, file: FoundFile(path: made ?? path(), size: size, mtimeMs: mtimeMs)))
            }
        } else {
            let p = made ?? path()
            guard addedPaths.insert(p).inserted else { return }
            plan.added.append(FoundFile(path: p, size: size, mtimeMs: mtimeMs))
        }
    }

    private static func same(_ bytes: UnsafeBufferPointer<UInt8>, _ head: UnsafeBufferPointer<UInt8>, _ tail: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count == head.count + tail.count && bytes.prefix(head.count).elementsEqual(head) && bytes.dropFirst(head.count).elementsEqual(tail)
    }

    /// The plan, with the indexed files never found as removals.
    mutating func finish() -> ScanPlan {
        if matchedCount < index.count {
            plan.removed = index.entries.indices.compactMap { matched[$0] ? nil : index.entries[$0].file.id }.sorted()
        }
        return plan
    }
}
