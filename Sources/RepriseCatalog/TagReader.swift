import CTagLib
import CTagLibShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads tags and audio properties through TagLib.
///
/// Calls are synchronous and do blocking file I/O: run them off Swift's cooperative pool
/// (a dedicated thread or `DispatchQueue`). Concurrent reads of different files are safe:
/// each call owns its TagLib handle and TagLib's shared C-string list is disabled
/// (strings are freed one by one with `taglib_free`).
public enum TagReader {
    /// Configures TagLib's C API once per process: UTF-8 strings, no global string list.
    private static let configured: Void = {
        taglib_set_strings_unicode(1)
        taglib_set_string_management_enabled(0)
    }()

    /// Reads `path`; throws ``CatalogError`` with `.fileUnreadable`, `.unsupportedFormat` or `.invalidFile`.
    ///
    /// The format comes from the TagLib file class that parsed the file (TagLib 1.x picks the class
    /// by extension, then validates the content), or from the extension when that class has no
    /// ``AudioFormat`` counterpart.
    public static func read(path: String) throws(CatalogError) -> TagInfo {
        _ = configured
        guard access(path, R_OK) == 0 else {
            throw CatalogError(code: .fileUnreadable, path: path, detail: String(cString: strerror(errno)))
        }
        guard let file = taglib_file_new(path) else {
            throw CatalogError(code: .unsupportedFormat, path: path, detail: "TagLib cannot open this file type")
        }
        defer { taglib_file_free(file) }
        guard taglib_file_is_valid(file) != 0 else {
            throw CatalogError(code: .invalidFile, path: path, detail: "TagLib could not parse the file")
        }

        var extras = RepriseTagLibExtras()
        _ = reprise_taglib_extras(file, &extras)
        defer { free(extras.albumArtist) }

        let ext = path.split(separator: "/").last.flatMap { name in
            name.lastIndex(of: ".").map { String(name[name.index(after: $0)...]) }
        } ?? ""
        guard let format = format(for: extras.kind) ?? AudioFormat(fileExtension: ext) else {
            throw CatalogError(code: .unsupportedFormat, path: path, detail: "not an audio format the catalog serves")
        }

        var info = TagInfo(format: format)
        if let tag = taglib_file_tag(file) {
            info.title = take(taglib_tag_title(tag))
            info.artist = take(taglib_tag_artist(tag))
            info.album = take(taglib_tag_album(tag))
            info.genre = take(taglib_tag_genre(tag))
            info.track = positive(taglib_tag_track(tag))
            info.year = positive(taglib_tag_year(tag))
        }
        info.albumArtist = extras.albumArtist.flatMap { nonEmpty(String(cString: $0)) }
        info.disc = extras.discNumber > 0 ? Int(extras.discNumber) : nil
        info.hasArt = extras.hasPicture != 0
        if let props = taglib_file_audioproperties(file) {
            info.bitrate = Int(taglib_audioproperties_bitrate(props))
            info.sampleRate = Int(taglib_audioproperties_samplerate(props))
            info.channels = Int(taglib_audioproperties_channels(props))
            info.durationMs = extras.lengthMs >= 0
                ? Int64(extras.lengthMs)
                : Int64(taglib_audioproperties_length(props)) * 1000
        }
        // TagLib accepts some junk (an MPEG "file" with no frames); a playable file has audio.
        guard info.sampleRate > 0, info.channels > 0 else {
            // A copy cut short is said so (TagLib refuses a WAV whose data chunk runs past its end).
            throw CatalogError(code: .invalidFile, path: path, detail: AudioIntegrity.problem(path: path, format: format) ?? "no audio stream found")
        }
        info.problem = AudioIntegrity.problem(path: path, format: format)
        return info
    }

    /// The embedded picture of `path` (the front cover if one is marked) and its MIME type; nil when it has none.
    ///
    /// Blocking file I/O, like `read`.
    public static func picture(path: String) throws(CatalogError) -> (bytes: [UInt8], mime: String)? {
        _ = configured
        var data: UnsafeMutablePointer<UInt8>?
        var length = 0
        var mime = [CChar](repeating: 0, count: 64)
        let rc = reprise_taglib_picture(path, &data, &length, &mime, mime.count)
        defer { free(data) }
        guard rc != 1 else { return nil }
        guard rc == 0, let data else { throw CatalogError(code: .invalidFile, path: path, detail: "cannot read its embedded picture") }
        let type = String(decoding: mime.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (Array(UnsafeBufferPointer(start: data, count: length)), type.isEmpty ? "image/jpeg" : type)
    }

    private static func format(for kind: RepriseTagLibKind) -> AudioFormat? {
        switch kind {
        case RepriseTagLibKindMPEG: .mp3
        case RepriseTagLibKindFLAC: .flac
        case RepriseTagLibKindOggVorbis, RepriseTagLibKindOggFLAC: .ogg
        case RepriseTagLibKindOggOpus: .opus
        case RepriseTagLibKindMP4: .m4a
        case RepriseTagLibKindWAV: .wav
        default: nil
        }
    }

    /// Converts and frees a string returned by the C API (string management is off).
    private static func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { taglib_free(pointer) }
        return nonEmpty(String(cString: pointer))
    }

    private static func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func positive(_ value: UInt32) -> Int? {
        value > 0 ? Int(value) : nil
    }
}

extension String {
    /// Returns the string without leading and trailing spaces, tabs, newlines and NULs.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\0" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
