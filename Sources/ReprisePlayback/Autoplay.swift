import RepriseCore
import RepriseStorage

/// Chooses what autoplay queues next: a pure function of the catalog's play order, the player's
/// recent history and a random source.
///
/// - `random`: no song twice within the shuffle window (a shuffle bag over the catalog, or over the
///   artist or album in `filter`).
/// - `album`: the album of the last queued song on, in disc and track order; then the album heard
///   least lately (`filter` names the album to start with).
/// - `artist`: the artist's albums in order; then another artist (with a `filter`, that artist again).
///
/// ```swift
/// var rng = SystemRandomNumberGenerator()
/// AutoplayPlanner.next(mode: .album, filter: nil, order: places, last: 12, history: [], want: 3, window: 500, using: &rng)
/// ```
enum AutoplayPlanner {
    static func next(
        mode: AutoplaySettings.Mode, filter: Int64?, order: [SongPlace], last: Int64?, history: [Int64], want: Int, window: Int,
        using rng: inout some RandomNumberGenerator
    ) -> [Int64] {
        guard want > 0, !order.isEmpty else { return [] }
        switch mode {
        case .random:
            return shuffled(order.map(\.id), history: history, want: want, window: window, using: &rng)
        case .album, .artist:
            return sequential(mode: mode, filter: filter, order: order, last: last, history: history, want: want, window: window, using: &rng)
        }
    }

    /// `want` songs of `ids` at random, none among the last `window` of `history` while enough others remain.
    static func shuffled(_ ids: [Int64], history: [Int64], want: Int, window: Int, using rng: inout some RandomNumberGenerator) -> [Int64] {
        // In catalog order (not a Set's), so that a seeded generator replays the same choices.
        let unique = orderedUnique(ids)
        // The window shrinks when the candidates are few, so that `want` new ones always remain.
        let w = max(0, min(window, history.count, unique.count - want))
        let recent = Set(history.suffix(w))
        var pool = unique.filter { !recent.contains($0) }.shuffled(using: &rng)
        if pool.count < want {
            // Fewer songs than asked for: repeat the least recent first.
            let rest = unique.filter { recent.contains($0) }.sorted { (history.lastIndex(of: $0) ?? -1) < (history.lastIndex(of: $1) ?? -1) }
            pool += rest
        }
        var out = Array(pool.prefix(want))
        while out.count < want, !unique.isEmpty { out.append(unique[out.count % unique.count]) }
        return out
    }

    private static func sequential(
        mode: AutoplaySettings.Mode, filter: Int64?, order: [SongPlace], last: Int64?, history: [Int64], want: Int, window: Int,
        using rng: inout some RandomNumberGenerator
    ) -> [Int64] {
        let unit: (SongPlace) -> Int64 = mode == .album ? { $0.albumId } : { $0.artistId }
        /// The index after `i` if it continues the same album or artist.
        func following(_ i: Int) -> Int? { i + 1 < order.count && unit(order[i + 1]) == unit(order[i]) ? i + 1 : nil }
        // Where the programme stands: just after the last queued song, in its album or artist.
        let lastIndex = last.flatMap { l in order.firstIndex { $0.id == l } }
        var current = lastIndex.map { unit(order[$0]) }
        var nextIndex = lastIndex.flatMap(following)
        if let f = filter, current != f {
            // Start the album or artist the filter names from its first song.
            nextIndex = order.firstIndex { unit($0) == f }
        }
        // When each album (or artist) was last heard: its latest song's index in history and what was just chosen.
        var heard = history.suffix(window)
        var out: [Int64] = []
        while out.count < want {
            if let n = nextIndex {
                out.append(order[n].id)
                heard.append(order[n].id)
                current = unit(order[n])
                nextIndex = following(n)
                continue
            }
            // The album or artist ended: with an artist filter, that artist again; else another one not heard lately.
            let next: Int64?
            if mode == .artist, let f = filter {
                next = f
            } else {
                // The album or artist heard least lately (never, best), at random among equals.
                let units = orderedUnique(order.map(unit))
                let unitOf = Dictionary(order.map { ($0.id, unit($0)) }, uniquingKeysWith: { a, _ in a })
                var lastHeard: [Int64: Int] = [:]
                for (i, id) in heard.enumerated() { if let u = unitOf[id] { lastHeard[u] = i } }
                let others = units.filter { $0 != current }
                let candidates = others.isEmpty ? units : others
                let least = candidates.map { lastHeard[$0] ?? -1 }.min()
                next = candidates.filter { (lastHeard[$0] ?? -1) == least }.randomElement(using: &rng)
            }
            guard let u = next, let first = order.firstIndex(where: { unit($0) == u }) else { break }
            nextIndex = first
        }
        return out
    }

    /// `xs` without repeats, first occurrences in order.
    static func orderedUnique(_ xs: [Int64]) -> [Int64] {
        var seen = Set<Int64>()
        return xs.filter { seen.insert($0).inserted }
    }
}
