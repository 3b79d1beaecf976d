import Foundation

/// Finds files whose audio is shorter than their headers claim (a copy cut short), which play but end early.
///
/// FLAC: the last frame header in the file (found backwards from the end, checked by its CRC-8) must
/// reach the total sample count of STREAMINFO. WAV: the `data` chunk must be as long as it says.
/// Blocking file I/O, like `TagReader`.
public enum AudioIntegrity {
    /// What is wrong with the file (`truncated: ...`), or nil when nothing was found.
    public static func problem(path: String, format: AudioFormat) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        switch format {
        case .flac: return flac(handle)
        case .wav: return wav(handle)
        default: return nil
        }
    }

    static func flac(_ handle: FileHandle) -> String? {
        guard let head = try? handle.read(upToCount: 42).map({ [UInt8]($0) }), head.count == 42, head[0...3] == [0x66, 0x4C, 0x61, 0x43] else { return nil }
        // STREAMINFO follows the 4-byte block header: min/max block size, min/max frame size, then
        // 20 bits sample rate, 3 channels, 5 bits per sample, 36 bits total samples.
        let info = Array(head[8...])
        let maxBlock = Int(info[2]) << 8 | Int(info[3])
        let rate = Int(info[10]) << 12 | Int(info[11]) << 4 | Int(info[12]) >> 4
        let total = Int64(info[13] & 0x0F) << 32 | Int64(info[14]) << 24 | Int64(info[15]) << 16 | Int64(info[16]) << 8 | Int64(info[17])
        let maxFrame = Int(info[7]) << 16 | Int(info[8]) << 8 | Int(info[9])
        guard total > 0, rate > 0, maxBlock > 0, let size = try? handle.seekToEnd(), size > 42 else { return nil }
        // The last frame header is within the last frame or two: read only that much.
        let tailLength = UInt64(min(Int(size - 42), maxFrame > 0 ? 3 * maxFrame + 16 : 1 << 16))
        guard (try? handle.seek(toOffset: size - tailLength)) != nil, let tail = try? handle.read(upToCount: Int(tailLength)).map({ [UInt8]($0) }) else { return nil }
        var i = tail.count - 2
        while i >= 0 {
            if tail[i] == 0xFF, tail[i + 1] & 0xFE == 0xF8, let reach = frameEnd(tail, at: i, fixedBlock: maxBlock) {
                // The last frame may itself be cut: what it reaches is an upper bound of what plays.
                let missing = total - reach
                guard missing > Int64(rate) else { return nil }
                return "truncated: the audio ends \(missing / Int64(rate)) s before the \(total / Int64(rate)) s its header claims"
            }
            i -= 1
        }
        return nil
    }

    /// The sample a FLAC frame whose header starts at `at` ends at; nil when the bytes are not a valid header.
    static func frameEnd(_ b: [UInt8], at: Int, fixedBlock: Int) -> Int64? {
        guard at + 6 <= b.count else { return nil }
        let variable = b[at + 1] & 1 == 1
        let blockCode = Int(b[at + 2] >> 4), rateCode = Int(b[at + 2] & 0x0F)
        guard blockCode != 0, rateCode != 0x0F, b[at + 3] & 1 == 0, (b[at + 3] >> 1) & 7 != 3, (b[at + 3] >> 1) & 7 != 7, b[at + 3] >> 4 < 11 else { return nil }
        // The frame or sample number, UTF-8 coded (up to 7 bytes).
        var p = at + 4
        let first = b[p]
        var count = 0
        while count < 7, first & (0x80 >> count) != 0 { count += 1 }
        guard count != 1, count <= 7 else { return nil }
        var number = Int64(count == 0 ? first : first & (0xFF >> (count + 1)))
        p += 1
        for _ in 0..<max(0, count - 1) {
            guard p < b.count, b[p] & 0xC0 == 0x80 else { return nil }
            number = number << 6 | Int64(b[p] & 0x3F)
            p += 1
        }
        var block: Int
        switch blockCode {
        case 1: block = 192
        case 2...5: block = 576 << (blockCode - 2)
        case 6: guard p < b.count else { return nil }; block = Int(b[p]) + 1; p += 1
        case 7: guard p + 1 < b.count else { return nil }; block = (Int(b[p]) << 8 | Int(b[p + 1])) + 1; p += 2
        default: block = 256 << (blockCode - 8)
        }
        switch rateCode {
        case 12: p += 1
        case 13, 14: p += 2
        default: break
        }
        guard p < b.count, crc8(b[at..<p]) == b[p] else { return nil }
        let start = variable ? number : number * Int64(fixedBlock)
        return start + Int64(block)
    }

    static func crc8(_ bytes: ArraySlice<UInt8>) -> UInt8 {
        var crc: UInt8 = 0
        for byte in bytes {
            crc ^= byte
            for _ in 0..<8 { crc = crc & 0x80 != 0 ? (crc << 1) ^ 0x07 : crc << 1 }
        }
        return crc
    }

    static func wav(_ handle: FileHandle) -> String? {
        guard let head = try? handle.read(upToCount: 12).map({ [UInt8]($0) }), head.count == 12,
              head[0...3] == [0x52, 0x49, 0x46, 0x46], head[8...11] == [0x57, 0x41, 0x56, 0x45],
              let size = try? handle.seekToEnd() else { return nil }
        var offset: UInt64 = 12
        var byteRate: UInt64 = 0
        // Chunks: 4-byte id, 4-byte little-endian size, data padded to an even length.
        for _ in 0..<64 {
            guard offset + 8 <= size, (try? handle.seek(toOffset: offset)) != nil,
                  let header = try? handle.read(upToCount: 8).map({ [UInt8]($0) }), header.count == 8 else { return nil }
            let length = UInt64(header[4]) | UInt64(header[5]) << 8 | UInt64(header[6]) << 16 | UInt64(header[7]) << 24
            let id = String(decoding: header[0...3], as: UTF8.self)
            if id == "fmt ", let fmt = try? handle.read(upToCount: 12).map({ [UInt8]($0) }), fmt.count == 12 {
                byteRate = UInt64(fmt[8]) | UInt64(fmt[9]) << 8 | UInt64(fmt[10]) << 16 | UInt64(fmt[11]) << 24
            }
            if id == "data" {
                let have = size - offset - 8
                guard length != 0xFFFF_FFFF, have < length, byteRate > 0 else { return nil }
                let missing = (length - have) / byteRate
                guard missing >= 1 else { return nil }
                return "truncated: the audio ends \(missing) s before the \(length / byteRate) s its header claims"
            }
            offset += 8 + length + (length & 1)
        }
        return nil
    }
}
