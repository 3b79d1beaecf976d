import Dispatch
import Foundation
import Logging
import RepriseCatalog
import RepriseCore
import RepriseSQLite
import RepriseStorage
import ServiceLifecycle
import RepriseSync

/// Scans the music folders into the catalog; one scan at a time.
public final class LibraryScanner: Sendable {
    let roots: [String]
    let catalog: any CatalogWriting
    let logger: Logger
    private let running = Locked<Bool>(false)
    /// Finished scans since start, newest first (at most `keepScans`), with when they finished (UTC epoch ms).
    private let finished = Locked<[(finishedAt: Int64, summary: ScanSummary)]>([])
    static let keepScans = 20

    /// The latest finished scan.
    public var lastScan: ScanSummary? { finished.withLock { $0.first?.summary } }

    /// Finished scans since start (scheduled, API, web), newest first.
    public var recentScans: [(finishedAt: Int64, summary: ScanSummary)] { finished.withLock { $0 } }

    /// Called after a scan changed the catalog (the song cache forgets what it held).
    let changed: @Sendable () -> Void

    public init(roots: [String], catalog: any CatalogWriting, logger: Logger, changed: @escaping @Sendable () -> Void = {}) {
        self.roots = roots.map { standardizePath(URL(fileURLWithPath: $0).path) }
        self.catalog = catalog
        self.changed = changed
        self.logger = logger
    }

    /// Walks, reads changed files' tags and writes the result; fails with `.conflict` if a scan is running.
    public func scan() async throws -> ScanSummary {
        guard running.withLock({ r in defer { r = true }; return !r }) else {
            throw RepriseError(.conflict, "a scan is already running")
        }
        defer { running.withLock { $0 = false } }
        let started = DispatchTime.now().uptimeNanoseconds
        let existing = try await catalog.index(PathIndex.init(capacity:)) { $0.add(path: $1, IndexedFile(id: $2, size: $3, mtimeMs: $4)) }
        let roots = self.roots
        // Walking and TagLib are blocking file I/O: run them on a Dispatch thread, off the cooperative pool.
        let result = await withCheckedContinuation { (c: CheckedContinuation<ScanResult, Never>) in
            DispatchQueue.global().async {
                let scanner = CatalogScanner(roots: roots, clock: { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) })
                c.resume(returning: scanner.scan(index: existing))
            }
        }
        var problems: [ScanProblem] = []
        for s in result.skipped {
            if case .invalidRoot(let why) = s.reason {
                let text = "catalog folder \(s.path) cannot be scanned (\(why)); set catalog.paths in the config file (or REPRISE_CATALOG_PATHS) to your music folders"
                logger.error("catalog folder missing", metadata: ["file.path": "\(s.path)", "reason": "\(why)"])
                problems.append(ScanProblem(path: s.path, reason: text))
            } else {
                logger.warning("scan skipped a file", metadata: ["file.path": "\(s.path)", "reason": "\(s.reason)"])
                problems.append(ScanProblem(path: s.path, reason: "skipped: \(s.reason)"))
            }
        }
        for f in result.failures {
            logger.warning("scan could not read a file", metadata: ["file.path": "\(f.path)", "error": "\(f.error)"])
            problems.append(ScanProblem(path: f.path, reason: "\(f.error.code): \(f.error.detail)"))
        }
        for r in result.inserts + result.updates {
            guard let problem = r.tags.problem else { continue }
            logger.warning("scan flagged a file", metadata: ["file.path": "\(r.path)", "problem": "\(problem)"])
            problems.append(ScanProblem(path: r.path, reason: problem))
        }
        // A scan that found nothing new keeps the song cache (the stream path's, emptied otherwise).
        let changes = !result.inserts.isEmpty || !result.updates.isEmpty || !result.removedIDs.isEmpty
        defer { if changes { changed() } }
        try await catalog.apply(inserts: result.inserts.map(Self.file), updates: result.updates.map(Self.file), removed: result.removedIDs)
        // A cover added beside unchanged songs is found too: the walk saw every folder's images.
        let inUse = try await catalog.albumArtPaths()
        if changes || Set(result.folderImages.values) != inUse {
            try await findFolderArt(result.folderImages)
        }
        let st = result.stats
        // The whole scan, as a user waits for it: the index, the walk, the tags and the writes.
        let ns = DispatchTime.now().uptimeNanoseconds - started
        let ms = Double(ns / 1000) / 1000
        let perSecond = ns > 0 ? Double(st.filesFound) * 1e9 / Double(ns) : 0
        var summary = ScanSummary(added: st.added, updated: st.updated, removed: st.removed, unchanged: st.unchanged, skipped: st.skipped, errors: st.errors, durationMs: ms, filesPerSecond: perSecond)
        summary.problems = Array(problems.prefix(ScanSummary.maxProblems))
        let at = Int64(Date().timeIntervalSince1970 * 1000)
        finished.withLock { f in
            f.insert((at, summary), at: 0)
            if f.count > Self.keepScans { f.removeLast() }
        }
        logger.info("scan finished", metadata: [
            "scan.added": "\(st.added)", "scan.updated": "\(st.updated)", "scan.removed": "\(st.removed)", "scan.unchanged": "\(st.unchanged)",
            "scan.skipped": "\(st.skipped)", "scan.errors": "\(st.errors)", "scan.duration_ms": "\(ms)", "scan.walk_ms": "\(st.elapsedMs)",
        ])
        return summary
    }

    /// Records each album's folder image (`cover.jpg`, `folder.png`...), found beside its songs by the walk.
    func findFolderArt(_ images: [String: String]) async throws {
        for album in try await catalog.albumFolders() {
            let new = FolderArt.choose(folders: album.folders, images: images)
            if new != album.art { try await catalog.setArt(album: album.album, path: new) }
        }
    }

    static func file(_ r: SongRecord) -> SongFile {
        let t = r.tags
        return SongFile(
            id: r.id, path: r.path, size: r.size, mtimeMs: r.mtimeMs, title: t.title ?? "", artist: t.artist ?? TagInfo.unknownArtist,
            album: t.album ?? "", albumArtist: t.albumArtist, track: t.track, disc: t.disc, year: t.year, genre: t.genre,
            durationMs: t.durationMs, bitrate: t.bitrate, sampleRate: t.sampleRate, channels: t.channels, format: t.format.rawValue, hasArt: t.hasArt, problem: t.problem)
    }
}

/// Scans at start (if configured) and every `catalog.scan_interval`.
struct ScanService: Service {
    let scanner: LibraryScanner
    let onStart: Bool
    let intervalMs: Int64
    let logger: Logger

    func run() async throws {
        if onStart { await scanOnce() }
        // With no interval there is nothing more to do, but a Service that returns stops the server.
        guard intervalMs > 0 else { try? await gracefulShutdown(); return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(intervalMs)) } } catch { return }
            if Task.isShuttingDownGracefully { return }
            await scanOnce()
        }
    }

    func scanOnce() async {
        do { _ = try await scanner.scan() } catch { logger.error("scan failed", metadata: ["error": "\(error)"]) }
    }
}
