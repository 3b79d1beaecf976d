import Foundation
import RepriseSync
#if canImport(Glibc)
import Glibc
#endif

/// Low file descriptors held back for MPD sockets: libmpdclient waits with select(), which cannot
/// take a descriptor above 1023, and a server busy with streams and databases may have used every
/// low number by the time a player reconnects.
///
/// The first connection reserves `size` low numbers (on `/dev/null`); a connection whose socket would
/// get a number too high frees some just before it connects (a socket gets the lowest free number),
/// and a closed connection takes them back.
final class LowDescriptors: Sendable {
    /// The process's reserve, which MPD connections use.
    static let shared = LowDescriptors(size: 32)

    let size: Int
    private let held = Locked<[Int32]?>(nil)

    init(size: Int) { self.size = size }

    deinit { held.withLock { h in for fd in h ?? [] { close(fd) } } }

    /// Reserves the numbers on first use.
    func prepare() {
        held.withLock { h in
            if h == nil {
                var fds: [Int32] = []
                fill(&fds)
                h = fds
            }
        }
    }

    /// Frees up to `count` reserved numbers, the lowest first; returns how many it freed.
    @discardableResult
    func release(_ count: Int) -> Int {
        held.withLock { h in
            guard var fds = h, !fds.isEmpty else { return 0 }
            fds.sort()
            let freed = fds.prefix(count)
            for fd in freed { close(fd) }
            h = Array(fds.dropFirst(freed.count))
            return freed.count
        }
    }

    /// Takes numbers back up to `size` after a connection closed.
    func refill() {
        held.withLock { h in
            guard var fds = h else { return }
            fill(&fds)
            h = fds
        }
    }

    private func fill(_ fds: inout [Int32]) {
        while fds.count < size {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            guard fd < MPDHandle.highestSafeDescriptor else {
                close(fd)
                return
            }
            fds.append(fd)
        }
    }

    /// How many numbers are held (for tests).
    var count: Int { held.withLock { $0?.count ?? 0 } }

    /// The numbers held (for tests).
    var numbers: [Int32] { held.withLock { $0 ?? [] } }
}
