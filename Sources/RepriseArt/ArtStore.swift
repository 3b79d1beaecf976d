import CVipsShim
import Dispatch
import Foundation
import Logging
import RepriseCatalog
import RepriseCore
import RepriseStorage
import RepriseSync

/// Scales images with libvips. Calls block (decoding, encoding): run them off Swift's cooperative pool.
public enum ImageScaler {
    private static let started: Bool = reprise_vips_start() == 0

    /// `bytes` scaled down to fit `size` x `size` pixels (never up), as JPEG (PNG when it has alpha).
    public static func thumbnail(_ bytes: [UInt8], size: Int) throws(RepriseError) -> (bytes: [UInt8], mime: String) {
        guard started else { throw RepriseError(.internal, "libvips did not start") }
        guard size > 0, size <= 8_192, !bytes.isEmpty else { throw RepriseError(.badRequest, "no image, or a size out of range") }
        var out: UnsafeMutableRawPointer?
        var length = 0
        var png: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        let rc = bytes.withUnsafeBytes { reprise_vips_thumbnail($0.baseAddress, $0.count, Int32(size), &out, &length, &png, &error, error.count) }
        defer { reprise_vips_free(out) }
        guard rc == 0, let out else {
            let why = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw RepriseError(.badRequest, "not a readable image: \(why.split(separator: "\n").first ?? "")")
        }
        return (Array(UnsafeRawBufferPointer(start: out, count: length)), png != 0 ? "image/png" : "image/jpeg")
    }

    /// An encoded image's width and height, read from its header; nil when it is not an image.
    public static func dimensions(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        guard started, !bytes.isEmpty else { return nil }
        var w: Int32 = 0, h: Int32 = 0
        let rc = bytes.withUnsafeBytes { reprise_vips_dimensions($0.baseAddress, $0.count, &w, &h) }
        return rc == 0 ? (Int(w), Int(h)) : nil
    }
}

/// Finds cover art (`LibraryRepository.art`), reads it (an image file, or a song's embedded picture),
/// scales it with libvips and keeps scaled copies on disk under `cacheDir` within `capBytes`, and the
/// most recent ones in memory.
public final class ArtStore: ArtServing {
    let library: any LibraryRepository
    let cacheDir: URL
    let capBytes: Int64
    let logger: Logger
    private let memory = Locked(MemoryCache(capBytes: 32 << 20))
    /// Bytes in the disk cache (nil until first counted).
    private let diskBytes = Locked<Int64?>(nil)
    private let queue = DispatchQueue(label: "reprise.art", attributes: .concurrent)

    /// The largest original picture read (a folder image or an embedded one).
    public static let maxSourceBytes = 32 << 20

    public init(library: any LibraryRepository, cacheDir: String, capBytes: Int64 = 256 << 20, logger: Logger) {
        self.library = library
        self.cacheDir = URL(fileURLWithPath: cacheDir, isDirectory: true)
        self.capBytes = capBytes
        self.logger = logger
    }

    public func image(kind: ItemKind, id: Int64, size: Int?) async throws -> ArtImage? {
        // A picture asked for again within `recheckMs` is answered from memory: no lookup, stat or hash.
        let key = "\(kind.rawValue)/\(id)/\(size ?? 0)"
        let now = DispatchTime.now().uptimeNanoseconds / 1_000_000
        if let hit = recent.withLock({ $0[key] }), now - hit.at < Self.recheckMs, let image = memory.withLock({ $0.get(hit.etag) }) { return image }
        guard let source = try await library.art(kind: kind, id: id) else { return nil }
        let image = await withCheckedContinuation { done in
            queue.async { done.resume(returning: self.load(source, size: size)) }
        }
        if let image {
            recent.withLock { r in
                if r.count >= 16_384 { r.removeAll() }
                r[key] = (image.etag, now)
            }
        }
        return image
    }

    public func cachedImage(kind: ItemKind, id: Int64, size: Int?) -> ArtImage? {
        let now = DispatchTime.now().uptimeNanoseconds / 1_000_000
        guard let hit = recent.withLock({ $0["\(kind.rawValue)/\(id)/\(size ?? 0)"] }), now - hit.at < Self.recheckMs else { return nil }
        return memory.withLock { $0.get(hit.etag) }
    }

    /// How long (ms) an item's answer is reused before its source is looked up and checked again.
    static let recheckMs: UInt64 = 5_000
    /// The latest answer per item and size (its key in `memory`, which holds the bytes), and when it was checked.
    private let recent = Locked<[String: (etag: String, at: UInt64)]>([:])

    /// The picture of `source` at `size`: from memory, the disk cache, or read and scaled now. Blocks.
    func load(_ source: ArtSource, size: Int?) -> ArtImage? {
        let path = switch source {
        case .file(let p): p
        case .embedded(let p): p
        }
        // The source's mtime and size version the cached copies: a new cover is a new ETag.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970, let length = attributes[.size] as? Int64 else { return nil }
        let key = String(SHA256Hex.of("\(source.key)|\(Int64(modified * 1000))|\(length)|\(size ?? 0)").prefix(32))
        if let hit = memory.withLock({ $0.get(key) }) { return hit }
        if size != nil, let hit = readCached(key) {
            memory.withLock { $0.put(key, hit) }
            return hit
        }
        do {
            guard let original = try read(source) else { return nil }
            var image = ArtImage(bytes: original.bytes, mime: original.mime, etag: key)
            if let size {
                let scaled = try ImageScaler.thumbnail(original.bytes, size: size)
                image = ArtImage(bytes: scaled.bytes, mime: scaled.mime, etag: key)
                writeCached(key, image)
            }
            memory.withLock { $0.put(key, image) }
            return image
        } catch {
            // A broken picture is no picture: the caller answers 404, never a broken image.
            logger.warning("unreadable cover art", metadata: ["file.path": "\(path)", "error": "\(error)"])
            return nil
        }
    }

    func read(_ source: ArtSource) throws -> (bytes: [UInt8], mime: String)? {
        switch source {
        case .embedded(let path):
            return try TagReader.picture(path: path)
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
            defer { try? handle.close() }
            guard let data = try handle.read(upToCount: Self.maxSourceBytes + 1), data.count <= Self.maxSourceBytes else {
                throw RepriseError(.badRequest, "the image is larger than \(Self.maxSourceBytes >> 20) MB")
            }
            return ([UInt8](data), FolderArt.mime(path))
        }
    }

    func file(_ key: String, png: Bool) -> URL { cacheDir.appendingPathComponent(key + (png ? ".png" : ".jpg")) }

    func readCached(_ key: String) -> ArtImage? {
        for png in [false, true] {
            if let data = FileManager.default.contents(atPath: file(key, png: png).path) {
                return ArtImage(bytes: [UInt8](data), mime: png ? "image/png" : "image/jpeg", etag: key)
            }
        }
        return nil
    }

    /// Writes a scaled copy (atomically), then removes the oldest copies while the cache is over its cap.
    func writeCached(_ key: String, _ image: ArtImage) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: cacheDir, withIntermediateDirectories: true)
            try Data(image.bytes).write(to: file(key, png: image.mime == "image/png"), options: .atomic)
        } catch {
            logger.warning("cannot cache cover art", metadata: ["dir": "\(cacheDir.path)", "error": "\(error)"])
            return
        }
        let total = diskBytes.withLock { bytes -> Int64 in
            bytes = (bytes ?? Self.usage(cacheDir)) + Int64(image.bytes.count)
            return bytes!
        }
        guard total > capBytes else { return }
        let entries = ((try? fm.contentsOfDirectory(at: cacheDir, includingPropertiesForKeys: [.contentModificationDateKey, .fileSizeKey])) ?? [])
            .compactMap { url -> (URL, Date, Int64)? in
                guard let v = try? url.resourceValues(forKeys: [.contentModificationDateKey, .fileSizeKey]) else { return nil }
                return (url, v.contentModificationDate ?? .distantPast, Int64(v.fileSize ?? 0))
            }
            .sorted { $0.1 < $1.1 }
        var left = entries.reduce(0) { $0 + $1.2 }
        for (url, _, size) in entries where left > capBytes * 9 / 10 {
            if (try? fm.removeItem(at: url)) != nil { left -= size }
        }
        diskBytes.withLock { $0 = left }
    }

    static func usage(_ dir: URL) -> Int64 {
        let urls = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: [.fileSizeKey])) ?? []
        return urls.reduce(0) { $0 + Int64((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
    }
}

/// The most recently stored images, up to a number of bytes.
struct MemoryCache {
    let capBytes: Int
    private var images: [String: ArtImage] = [:]
    private var order: [String] = []
    private var bytes = 0

    init(capBytes: Int) { self.capBytes = capBytes }

    /// O(1): a hit does not reorder (the oldest stored goes first).
    func get(_ key: String) -> ArtImage? { images[key] }

    mutating func put(_ key: String, _ image: ArtImage) {
        guard image.bytes.count <= capBytes / 4, images[key] == nil else { return }
        images[key] = image
        order.append(key)
        bytes += image.bytes.count
        while bytes > capBytes, !order.isEmpty {
            let old = order.removeFirst()
            bytes -= images.removeValue(forKey: old)?.bytes.count ?? 0
        }
    }
}
