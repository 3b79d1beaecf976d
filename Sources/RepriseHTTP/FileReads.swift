#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Reads up to `count` bytes at `offset` into `out` with `pread`, retrying when interrupted;
/// returns how many it read (fewer only at the end of the file, or on an error).
///
/// The one read loop of both stream paths (fast path and router).
func preadFully(fd: Int32, offset: Int64, count: Int, into out: inout ByteBuffer) -> Int {
    out.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { ptr in
        var total = 0
        while total < count {
            let n = pread(fd, ptr.baseAddress! + total, count - total, off_t(offset) + off_t(total))
            if n > 0 { total += n } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return total
    }
}
