import Foundation

/// Finds an album's image in its folder: `cover`, `folder`, `front` or `album` (in that order of
/// preference), as jpg, jpeg, png or webp, any case.
///
///     FolderArt.find(in: ["/music/Miles/Kind of Blue"]) // "/music/Miles/Kind of Blue/Folder.JPG"
public enum FolderArt {
    static let stems = ["cover", "folder", "front", "album"]
    static let extensions = ["jpg", "jpeg", "png", "webp"]

    /// The best image in `folders` (then, for disc folders like `CD1` or `Disc 2`, their parent); nil when none.
    public static func find(in folders: [String]) -> String? {
        var best: (rank: Int, path: String)?
        var parents: [String] = []
        for folder in folders {
            if let found = bestImage(in: folder), best == nil || found.rank < best!.rank { best = found }
            let name = (folder as NSString).lastPathComponent
            if isDiscFolder(name) { parents.append((folder as NSString).deletingLastPathComponent) }
        }
        if best == nil {
            for parent in Set(parents).sorted() {
                if let found = bestImage(in: parent), best == nil || found.rank < best!.rank { best = found }
            }
        }
        return best?.path
    }

    static func bestImage(in folder: String) -> (rank: Int, path: String)? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        var best: (rank: Int, path: String)?
        for name in names {
            guard let rank = rank(name) else { continue }
            if best == nil || rank < best!.rank || (rank == best!.rank && name < (best!.path as NSString).lastPathComponent) {
                best = (rank, folder + "/" + name)
            }
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
