import Foundation

/// Finds an album's image in its folder: `cover`, `folder`, `front` or `album` (in that order of
/// preference), as jpg, jpeg, png or webp, any case.
///
///     FolderArt.choose(folders: ["/m/Kind of Blue"], images: walk.folderImages) // "/m/Kind of Blue/Folder.JPG"
public enum FolderArt {
    static let stems = ["cover", "folder", "front", "album"]
    static let extensions = ["jpg", "jpeg", "png", "webp"]

    /// `rank` of a file name's bytes: nil at once for the many names that are not a few letters and an image extension.
    static func rank(_ name: UnsafeBufferPointer<UInt8>) -> Int? {
        guard name.count >= 8, name.count <= 11, let first = name.first, [UInt8(ascii: "c"), UInt8(ascii: "C"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "a"), UInt8(ascii: "A")].contains(first) else { return nil }
        return rank(String(decoding: name, as: UTF8.self))
    }

    /// The best image among the covers a walk found (`images`: folder -> image), for an album's song folders (then,
    /// for disc folders, their parents); nil when none.
    public static func choose(folders: [String], images: [String: String]) -> String? {
        func better(_ a: String?, _ b: String) -> String {
            guard let a else { return b }
            let ra = rank((a as NSString).lastPathComponent) ?? .max, rb = rank((b as NSString).lastPathComponent) ?? .max
            return ra < rb || (ra == rb && a <= b) ? a : b
        }
        var best: String?
        for folder in folders { if let found = images[folder] { best = better(best, found) } }
        guard best == nil else { return best }
        for folder in folders where isDiscFolder((folder as NSString).lastPathComponent) {
            if let found = images[(folder as NSString).deletingLastPathComponent] { best = better(best, found) }
        }
        return best
    }

    /// Lower is better; nil for a name that is not a cover image.
    static func rank(_ name: String) -> Int? {
        let lower = name.lowercased()
        guard let dot = lower.lastIndex(of: ".") else { return nil }
        let stem = String(lower[..<dot]), ext = String(lower[lower.index(after: dot)...])
        guard let s = stems.firstIndex(of: stem), let e = extensions.firstIndex(of: ext) else { return nil }
        return s * extensions.count + e
    }

    static func isDiscFolder(_ name: String) -> Bool {
        let lower = name.lowercased().replacingOccurrences(of: " ", with: "")
        for prefix in ["cd", "disc", "disk"] where lower.hasPrefix(prefix) {
            let rest = lower.dropFirst(prefix.count)
            return !rest.isEmpty && rest.allSatisfy(\.isNumber)
        }
        return false
    }

    /// The MIME type of an image file by its extension.
    public static func mime(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": "image/png"
        case "webp": "image/webp"
        case "gif": "image/gif"
        default: "image/jpeg"
        }
    }
}
