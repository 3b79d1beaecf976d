import RepriseConfig
import RepriseCore

extension ConfigTree {
    /// The child named `key` of a mapping.
    subscript(key: String) -> ConfigTree? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.0 == key }?.1
    }

    var scalar: String? { if case .scalar(let s) = self { s } else { nil } }

    /// A list of scalars, or one scalar as a list.
    var strings: [String]? {
        switch self {
        case .scalar(let s): [s]
        case .list(let items): items.compactMap(\.scalar)
        case .map: nil
        }
    }
}

extension RepriseSettings {
    /// `plugins.paths`: folders holding plugins (default `plugins`).
    var pluginPaths: [String] { trees["plugins"]?["paths"]?.strings ?? ["plugins"] }

    /// `playback.players` entries as flat string maps; a non-scalar setting is a configuration error.
    public func playerEntries() throws -> [[String: String]] {
        guard let players = trees["playback"]?["players"] else { return [] }
        guard case .list(let items) = players else { throw RepriseError(.config, "\(file): 'playback.players' must be a list of players") }
        return try items.enumerated().map { i, item in
            guard case .map(let entries) = item else { throw RepriseError(.config, "\(file): playback.players[\(i)] must be a mapping") }
            var out: [String: String] = [:]
            for (k, v) in entries {
                guard let s = v.scalar else { throw RepriseError(.config, "\(file): playback.players[\(i)].\(k) must be a plain value") }
                out[k] = s
            }
            return out
        }
    }

    /// `playback.keep_played` (0...1000, default 10) and `playback.shuffle_window` (1...100000, default
    /// 500); any other key of `playback` but `players` is a configuration error naming it.
    public func playbackRules() throws -> (keepPlayed: Int, shuffleWindow: Int) {
        guard let section = trees["playback"] else { return (10, 500) }
        guard case .map(let keys) = section else { throw RepriseError(.config, "\(file): 'playback' must be a mapping") }
        let known = ["players", "keep_played", "shuffle_window"]
        for (k, _) in keys where !known.contains(k) {
            throw RepriseError(.config, "\(file): unknown key 'playback.\(k)' (known: \(known.map { "playback.\($0)" }.joined(separator: ", ")))")
        }
        func int(_ key: String, _ range: ClosedRange<Int>, _ fallback: Int) throws -> Int {
            guard let v = section[key] else { return fallback }
            guard let s = v.scalar, let n = Int(s), range.contains(n) else {
                throw RepriseError(.config, "\(file): 'playback.\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        return (try int("keep_played", 0...1000, 10), try int("shuffle_window", 1...100_000, 500))
    }

    /// `ampache.localplay`: user name -> the player Ampache's `localplay` drives; each player must be configured.
    public func ampacheLocalplay(players: [String]) throws -> [String: String] {
        try playerChoice(section: "ampache", key: "localplay", players: players)
    }

    /// `subsonic.jukebox`: user name -> the player Subsonic's `jukeboxControl` drives; each player must be configured.
    public func subsonicJukebox(players: [String]) throws -> [String: String] {
        try playerChoice(section: "subsonic", key: "jukebox", players: players)
    }

    /// `<section>.<key>`: a mapping of user names to configured player names (the section's only key).
    func playerChoice(section name: String, key: String, players: [String]) throws -> [String: String] {
        guard let section = trees[name] else { return [:] }
        guard case .map(let keys) = section else { throw RepriseError(.config, "\(file): '\(name)' must be a mapping") }
        for (k, _) in keys where k != key {
            throw RepriseError(.config, "\(file): unknown key '\(name).\(k)' (known: \(name).\(key))")
        }
        guard let choice = section[key] else { return [:] }
        guard case .map(let entries) = choice else { throw RepriseError(.config, "\(file): '\(name).\(key)' must map user names to player names") }
        var out: [String: String] = [:]
        for (user, v) in entries {
            guard let player = v.scalar else { throw RepriseError(.config, "\(file): '\(name).\(key).\(user)' must be a player name") }
            guard players.contains(player) else {
                throw RepriseError(.config, "\(file): '\(name).\(key).\(user)' names player '\(player)', which is not in playback.players")
            }
            out[user] = player
        }
        return out
    }
}
