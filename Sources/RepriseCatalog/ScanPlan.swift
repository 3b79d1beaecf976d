/// What the store already holds for one path.
public struct IndexedFile: Sendable, Hashable {
    /// The song's stable id.
    public var id: Int64
    /// Size in bytes at the last scan.
    public var size: Int64
    /// Modification time in UTC epoch ms at the last scan.
    public var mtimeMs: Int64

    /// Creates a value.
    public init(id: Int64, size: Int64, mtimeMs: Int64) {
        self.id = id
        self.size = size
        self.mtimeMs = mtimeMs
    }
}

/// A found file whose indexed row must be re-read and updated in place (same id).
public struct ChangedFile: Sendable, Hashable {
    /// The existing song id, kept.
    public var id: Int64
    /// The file as found now.
    public var file: FoundFile

    /// Creates a value.
    public init(id: Int64, file: FoundFile) {
        self.id = id
        self.file = file
    }
}

/// The difference between the index and the disk, keyed by path.
public struct ScanPlan: Sendable, Equatable {
    /// Found files with no indexed row, in walk order.
    public var added: [FoundFile] = []
    /// Indexed files whose size or mtime differ, in walk order.
    public var changed: [ChangedFile] = []
    /// Indexed files found unchanged (not re-read).
    public var unchangedCount = 0
    /// Ids of indexed paths no longer found, ascending.
    public var removed: [Int64] = []

    /// Creates a plan.
    public init(added: [FoundFile] = [], changed: [ChangedFile] = [], unchangedCount: Int = 0, removed: [Int64] = []) {
        self.added = added
        self.changed = changed
        self.unchangedCount = unchangedCount
        self.removed = removed
    }
}

/// Compares the index with the files found; pure. A renamed file is a removal plus an addition.
/// A path found twice counts once.
///
///     planScan(existing: ["/m/a.mp3": IndexedFile(id: 1, size: 10, mtimeMs: 5)],
///              found: [FoundFile(path: "/m/b.mp3", size: 10, mtimeMs: 5)])
///     // added: [/m/b.mp3], removed: [1]
public func planScan(existing: [String: IndexedFile], found: [FoundFile]) -> ScanPlan {
    var planner = ScanPlanner(index: PathIndex(existing))
    for file in found {
        var path = file.path
        path.withUTF8 { bytes in
            let none = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
            planner.found(bytes, none, size: file.size, mtimeMs: file.mtimeMs, hash: { PathHash.of(bytes) }, path: { file.path })
        }
    }
    return planner.finish()
}
