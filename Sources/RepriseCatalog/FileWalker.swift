#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular audio file found by ``FileWalker``.
public struct FoundFile: Sendable, Hashable {
    /// Absolute, standardized path (through symlinks, not resolved).
    public var path: String
    /// Size in bytes.
    public var size: Int64
    /// Modification time in UTC epoch milliseconds.
    public var mtimeMs: Int64

    /// Creates a value.
    public init(path: String, size: Int64, mtimeMs: Int64) {
        self.path = path
        self.size = size
        self.mtimeMs = mtimeMs
    }
}

/// Why the walker passed over an entry.
public enum SkipReason: Sendable, Hashable, CustomStringConvertible {
    /// A symlink whose target does not exist.
    case brokenSymlink
    /// A directory that is one of its own ancestors (reached through a symlink).
    case symlinkLoop
    /// A directory already walked through another path.
    case alreadyVisited
    /// A file or directory that cannot be opened or stat'ed; carries the system error text.
    case unreadable(String)
    /// A root that does not exist or is not a directory.
    case invalidRoot(String)

    /// A short text for logs.
    public var description: String {
        switch self {
        case .brokenSymlink: "broken symlink"
        case .symlinkLoop: "symlink loop"
        case .alreadyVisited: "directory already visited through another path"
        case let .unreadable(reason): "unreadable: \(reason)"
        case let .invalidRoot(reason): "invalid root: \(reason)"
        }
    }
}

/// An entry the walker skipped, for the caller to log.
public struct SkippedEntry: Sendable, Hashable {
    /// The entry's path.
    public var path: String
    /// Why it was skipped.
    public var reason: SkipReason

    /// Creates a value.
    public init(path: String, reason: SkipReason) {
        self.path = path
        self.reason = reason
    }
}

/// One step of a walk.
public enum WalkEvent: Sendable, Hashable {
    /// An audio file.
    case file(FoundFile)
    /// A skipped entry.
    case skipped(SkippedEntry)
}

/// Walks music folders depth-first, in name order, yielding audio files and skipped entries.
///
/// Symlinks to files and directories are followed; directory loops and repeats are detected by
/// (device, inode). One bad entry never stops the walk. Blocking file I/O: run it off the
/// cooperative pool.
///
///     let result = FileWalker(roots: ["/srv/music"]).collect()
///     for skip in result.skipped { logger.warning("\(skip.path): \(skip.reason)") }
public struct FileWalker: Sendable {
    /// The default audio extensions, lowercase.
    public static let audioExtensions: Set<String> = ["mp3", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "wav"]

    /// Root directories, as given.
    public var roots: [String]
    /// Lowercase extensions to keep; matching is case-insensitive.
    public let extensions: Set<String>

    /// Creates a walker over `roots`.
    public init(roots: [String], extensions: Set<String> = FileWalker.audioExtensions) {
        self.roots = roots
        self.extensions = extensions
        let packed = extensions.map { Self.pack($0.utf8) }
        packedExtensions = packed.contains(nil) ? nil : Set(packed.compactMap { $0 })
    }

    /// `extensions` packed by `pack` for the per-file check; nil when one of them does not fit.
    private let packedExtensions: Set<UInt64>?

    /// Everything one walk found.
    public struct Result: Sendable, Equatable {
        /// Audio files in walk order.
        public var files: [FoundFile] = []
        /// Skipped entries in walk order.
        public var skipped: [SkippedEntry] = []
    }

    /// Walks all roots and gathers the events.
    public func collect() -> Result {
        var result = Result()
        walk { event in
            switch event {
            case let .file(file): result.files.append(file)
            case let .skipped(entry): result.skipped.append(entry)
            }
        }
        return result
    }

    /// Walks all roots, calling `visit` for each audio file and each skipped entry.
    public func walk(_ visit: (WalkEvent) -> Void) {
        walkFiles(
            file: { dir, name, info in
                visit(.file(FoundFile(path: dir.child(name), size: Int64(info.st_size), mtimeMs: Self.mtimeMs(info))))
            },
            skipped: { visit(.skipped($0)) })
    }

    /// Walks all roots and compares what it finds with `index`; an unchanged file costs no string.
    ///
    ///     let walk = FileWalker(roots: ["/srv/music"]).plan(against: PathIndex(existing))
    ///     walk.plan.added  // files to read
    public func plan(against index: PathIndex) -> (plan: ScanPlan, skipped: [SkippedEntry], filesFound: Int, folderImages: [String: String]) {
        var planner = ScanPlanner(index: index)
        var skipped: [SkippedEntry] = []
        var found = 0
        var images: [String: (rank: Int, path: String)] = [:]
        walkFiles(
            image: { dir, name, rank in
                // The best cover of each folder (`FolderArt.rank`); names compare as a tie-break.
                if let best = images[dir.path], best.rank < rank || (best.rank == rank && best.path < dir.child(name)) { return }
                images[dir.path] = (rank, dir.child(name))
            },
            file: { dir, name, info in
                found += 1
                dir.prefix.withUnsafeBufferPointer { prefix in
                    planner.found(
                        prefix, name, size: Int64(info.st_size), mtimeMs: Self.mtimeMs(info), hash: { PathHash.join(dir.hash, name) },
                        path: { dir.child(name) })
                }
            },
            skipped: { skipped.append($0) })
        return (planner.finish(), skipped, found, images.mapValues(\.path))
    }

    private static func mtimeMs(_ info: stat) -> Int64 {
        Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// The walk itself: `file` gets each readable audio file as its directory, name and `stat`.
    /// `image` gets each regular file named like a cover (`FolderArt.rank`), with its rank, at no extra system call.
    private func walkFiles(
        image: ((WalkedDirectory, UnsafeBufferPointer<UInt8>, Int) -> Void)? = nil, file: (WalkedDirectory, UnsafeBufferPointer<UInt8>, stat) -> Void,
        skipped: (SkippedEntry) -> Void
    ) {
        let access = ReadAccess.current()
        var visited = Set<DirectoryID>()
        for root in roots {
            let path = standardizePath(root)
            var info = stat()
            guard stat(path, &info) == 0 else {
                skipped(SkippedEntry(path: path, reason: .invalidRoot(String(cString: strerror(errno)))))
                continue
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                skipped(SkippedEntry(path: path, reason: .invalidRoot("not a directory")))
                continue
            }
            var ancestors = Set<DirectoryID>()
            walkDirectory(
                WalkedDirectory(path: path), id: DirectoryID(info), access: access, ancestors: &ancestors, visited: &visited,
                image: image, file: file, skipped: skipped)
        }
    }

    private func walkDirectory(
        _ dir: WalkedDirectory, id: DirectoryID, access: ReadAccess, ancestors: inout Set<DirectoryID>, visited: inout Set<DirectoryID>,
        image: ((WalkedDirectory, UnsafeBufferPointer<UInt8>, Int) -> Void)?, file: (WalkedDirectory, UnsafeBufferPointer<UInt8>, stat) -> Void,
        skipped: (SkippedEntry) -> Void
    ) {
        if ancestors.contains(id) {
            skipped(SkippedEntry(path: dir.path, reason: .symlinkLoop))
            return
        }
        if visited.contains(id) {
            skipped(SkippedEntry(path: dir.path, reason: .alreadyVisited))
            return
        }
        visited.insert(id)
        guard let stream = opendir(dir.path) else {
            skipped(SkippedEntry(path: dir.path, reason: .unreadable(String(cString: strerror(errno)))))
            return
        }
        defer { closedir(stream) }
        // Children are looked up relative to the open directory: no full path walk per file.
        let fd = dirfd(stream)
        let listing = DirectoryListing(stream)
        ancestors.insert(id)
        defer { ancestors.remove(id) }
        listing.bytes.withUnsafeBufferPointer { bytes in
            for entry in listing.entries {
                let name = UnsafeBufferPointer(rebasing: bytes[Int(entry.offset)..<Int(entry.offset + entry.length)])
                let cName = UnsafeRawPointer(name.baseAddress!).assumingMemoryBound(to: CChar.self)
                // Regular files with another extension need no stat.
                if entry.type == DT_REG, !hasAudioExtension(name) {
                    if let image, let rank = FolderArt.rank(name) { image(dir, name, rank) }
                    continue
                }
                var info = stat()
                if fstatat(fd, cName, &info, 0) != 0 {
                    let error = errno
                    var linkInfo = stat()
                    let child = dir.child(name)
                    if fstatat(fd, cName, &linkInfo, AT_SYMLINK_NOFOLLOW) == 0, (linkInfo.st_mode & S_IFMT) == S_IFLNK,
                        error == ENOENT || error == ENOTDIR
                    {
                        skipped(SkippedEntry(path: child, reason: .brokenSymlink))
                    } else if error == ELOOP {
                        skipped(SkippedEntry(path: child, reason: .symlinkLoop))
                    } else {
                        skipped(SkippedEntry(path: child, reason: .unreadable(String(cString: strerror(error)))))
                    }
                    continue
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    walkDirectory(
                        WalkedDirectory(path: dir.child(name)), id: DirectoryID(info), access: access, ancestors: &ancestors,
                        visited: &visited, image: image, file: file, skipped: skipped)
                case S_IFREG:
                    guard hasAudioExtension(name) else {
                        if let image, let rank = FolderArt.rank(name) { image(dir, name, rank) }
                        continue
                    }
                    // The mode bits answer for nearly every file without a system call; `faccessat`
                    // decides the rest (ACLs, groups the bits do not grant).
                    guard access.permits(info) || faccessat(fd, cName, R_OK, 0) == 0 else {
                        skipped(SkippedEntry(path: dir.child(name), reason: .unreadable(String(cString: strerror(errno)))))
                        continue
                    }
                    file(dir, name, info)
                default:
                    continue  // sockets, FIFOs, devices
                }
            }
        }
    }

    private func hasAudioExtension(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot != name.startIndex else { return false }
        let ext = name[(dot + 1)...]
        // Every known extension is short ASCII: compare lowercased bytes packed in an integer.
        if let packed = Self.pack(ext), let known = packedExtensions { return known.contains(packed) }
        return extensions.contains(String(decoding: ext.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self))
    }

    /// Up to 7 bytes, ASCII-lowercased, in one integer with their count (so "a" and "\0a" differ).
    static func pack<C: Collection>(_ bytes: C) -> UInt64? where C.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= 7 else { return nil }
        var n = UInt64(bytes.count)
        for b in bytes { n = n << 8 | UInt64(b >= 65 && b <= 90 ? b | 0x20 : b) }
        return n
    }
}

/// A directory in a walk: its path, and the bytes and hash every child's path starts with.
struct WalkedDirectory {
    let path: String
    /// The path with its trailing slash.
    let prefix: [UInt8]
    /// `PathHash.bytes` of `prefix`.
    let hash: UInt64

    init(path: String) {
        self.path = path
        prefix = Array((path == "/" ? "/" : path + "/").utf8)
        hash = prefix.withUnsafeBufferPointer { PathHash.bytes($0) }
    }

    /// The path of the entry `name` in this directory.
    func child(_ name: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: prefix.count + name.count) { out in
            _ = out.initialize(fromContentsOf: prefix)
            _ = out[prefix.count...].initialize(fromContentsOf: name)
            return prefix.count + name.count
        }
    }
}

/// A directory's entries without `.` and `..`, in byte order: names in one buffer, each followed by a NUL.
struct DirectoryListing {
    struct Entry {
        var offset: Int32
        var length: Int32
        var type: UInt8
    }

    var bytes: [UInt8] = []
    var entries: [Entry] = []

    init(_ stream: OpaquePointer) {
        while let entry = readdir(stream) {
            let type = entry.pointee.d_type
            withUnsafePointer(to: &entry.pointee.d_name) {
                let name = UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self)
                let length = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
                if name[0] == UInt8(ascii: "."), length == 1 || (length == 2 && name[1] == UInt8(ascii: ".")) { return }
                entries.append(Entry(offset: Int32(bytes.count), length: Int32(length), type: type))
                bytes.append(contentsOf: UnsafeBufferPointer(start: name, count: length + 1))
            }
        }
        bytes.withUnsafeBufferPointer { b in
            let base = b.baseAddress
            entries.sort { x, y in
                let c = memcmp(base! + Int(x.offset), base! + Int(y.offset), Int(min(x.length, y.length)))
                return c != 0 ? c < 0 : x.length < y.length
            }
        }
    }
}

/// Who this process reads files as: whether a file's mode bits alone let it read the file.
struct ReadAccess {
    let uid: uid_t
    let gids: Set<gid_t>

    static func current() -> ReadAccess {
        var groups = [gid_t](repeating: 0, count: Int(max(0, getgroups(0, nil))))
        let n = getgroups(Int32(groups.count), &groups)
        return ReadAccess(uid: geteuid(), gids: Set(groups.prefix(max(0, Int(n)))).union([getegid()]))
    }

    /// True when the read bit for owner, group or others grants it; false means "ask the kernel"
    /// (root, ACLs), never "unreadable". A named-user ACL entry that denies what the bits grant is
    /// missed: reading the tags, or the stream, then fails with its own error.
    func permits(_ info: stat) -> Bool {
        if info.st_uid == uid { return info.st_mode & S_IRUSR != 0 }
        if gids.contains(info.st_gid) { return info.st_mode & S_IRGRP != 0 }
        return info.st_mode & S_IROTH != 0
    }
}

/// A directory's identity on disk.
struct DirectoryID: Hashable {
    let device: UInt64
    let inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// Makes `path` absolute (against the working directory) and removes `.`, `..` and repeated slashes
/// lexically, without resolving symlinks.
///
///     standardizePath("/music/./a//b/../c")  // "/music/a/c"
public func standardizePath(_ path: String) -> String {
    var absolute = path
    if !path.hasPrefix("/") {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if getcwd(&buffer, buffer.count) != nil {
            let cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            absolute = cwd + "/" + path
        }
    }
    var parts: [Substring] = []
    for component in absolute.split(separator: "/", omittingEmptySubsequences: true) {
        switch component {
        case ".": continue
        case "..": if !parts.isEmpty { parts.removeLast() }
        default: parts.append(component)
        }
    }
    return "/" + parts.joined(separator: "/")
}
