/// A song row to write: tags with fallbacks applied, plus the file facts.
public struct SongRecord: Sendable, Equatable {
    /// The existing id for updates; nil for inserts.
    public var id: Int64?
    /// Absolute path.
    public var path: String
    /// Size in bytes.
    public var size: Int64
    /// Modification time in UTC epoch ms.
    public var mtimeMs: Int64
    /// Tags and audio properties, fallbacks applied (title, album and artist are never nil).
    public var tags: TagInfo

    /// Creates a value.
    public init(id: Int64?, path: String, size: Int64, mtimeMs: Int64, tags: TagInfo) {
        self.id = id
        self.path = path
        self.size = size
        self.mtimeMs = mtimeMs
        self.tags = tags
    }
}

/// A file found on disk whose tags could not be read; it is neither written nor removed.
public struct ScanFailure: Sendable, Equatable {
    /// The file.
    public var path: String
    /// The reader's error.
    public var error: CatalogError
}

/// Counters for one scan.
public struct ScanStats: Sendable, Equatable {
    /// New songs read.
    public var added = 0
    /// Changed songs re-read.
    public var updated = 0
    /// Songs whose files disappeared.
    public var removed = 0
    /// Files found unchanged.
    public var unchanged = 0
    /// Entries the walker skipped.
    public var skipped = 0
    /// Files whose tags could not be read.
    public var errors = 0
    /// Audio files found by the walk.
    public var filesFound = 0
    /// Wall time of the scan in ms, from the injected clock.
    public var elapsedMs: Int64 = 0

    /// Files found per second of scan time; 0 when no time elapsed.
    public var filesPerSecond: Double {
        elapsedMs > 0 ? Double(filesFound) * 1000 / Double(elapsedMs) : 0
    }
}

/// The outcome of one scan, for the store to apply.
public struct ScanResult: Sendable, Equatable {
    /// Rows to insert (id nil).
    public var inserts: [SongRecord] = []
    /// Rows to update in place (id set).
    public var updates: [SongRecord] = []
    /// Ids to delete.
    public var removedIDs: [Int64] = []
    /// Entries the walker skipped, for logging.
    public var skipped: [SkippedEntry] = []
    /// Files that could not be read, for logging.
    public var failures: [ScanFailure] = []
    /// Counters.
    public var stats = ScanStats()
    /// Each folder's best cover image (`FolderArt`), found by the walk.
    public var folderImages: [String: String] = [:]
}

/// Walks the roots, plans against the index and reads tags of new and changed files.
///
/// Synchronous and blocking (file I/O, TagLib): run it off the cooperative pool.
///
///     let scanner = CatalogScanner(roots: ["/srv/music"], clock: { monotonicMs() })
///     let result = scanner.scan(existing: ["/srv/music/a.flac": IndexedFile(id: 1, size: 10, mtimeMs: 5)])
public struct CatalogScanner: Sendable {
    /// The walker used.
    public var walker: FileWalker
    /// Milliseconds from any fixed origin; only differences are used.
    public var clock: @Sendable () -> Int64
    /// The tag reader; ``TagReader/read(path:)`` by default.
    public var readTags: @Sendable (String) throws(CatalogError) -> TagInfo

    /// Creates a scanner over `roots`.
    public init(
        roots: [String],
        clock: @escaping @Sendable () -> Int64,
        readTags: @escaping @Sendable (String) throws(CatalogError) -> TagInfo = { path throws(CatalogError) in try TagReader.read(path: path) }
    ) {
        self.walker = FileWalker(roots: roots)
        self.clock = clock
        self.readTags = readTags
    }

    /// Scans against `existing` (path to indexed row) and returns what to write.
    public func scan(existing: [String: IndexedFile]) -> ScanResult {
        scan(index: PathIndex(existing))
    }

    /// Scans against `index` and returns what to write.
    public func scan(index: PathIndex) -> ScanResult {
        let start = clock()
        var result = ScanResult()
        let walk = walker.plan(against: index)
        result.skipped = walk.skipped
        result.folderImages = walk.folderImages
        let plan = walk.plan

        for file in plan.added {
            switch read(file, id: nil) {
            case let .success(record): result.inserts.append(record)
            case let .failure(error): result.failures.append(ScanFailure(path: file.path, error: error))
            }
        }
        for change in plan.changed {
            switch read(change.file, id: change.id) {
            case let .success(record): result.updates.append(record)
            case let .failure(error): result.failures.append(ScanFailure(path: change.file.path, error: error))
            }
        }
        result.removedIDs = plan.removed

        result.stats.added = result.inserts.count
        result.stats.updated = result.updates.count
        result.stats.removed = plan.removed.count
        result.stats.unchanged = plan.unchangedCount
        result.stats.skipped = walk.skipped.count
        result.stats.errors = result.failures.count
        result.stats.filesFound = walk.filesFound
        result.stats.elapsedMs = clock() - start
        return result
    }

    private func read(_ file: FoundFile, id: Int64?) -> Result<SongRecord, CatalogError> {
        do {
            let tags = try readTags(file.path).withFallbacks(path: file.path)
            return .success(SongRecord(id: id, path: file.path, size: file.size, mtimeMs: file.mtimeMs, tags: tags))
        } catch {
            return .failure(error)
        }
    }
}
