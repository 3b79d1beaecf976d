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

    /// `ampache.localplay`: user name -> the player Ampache's `localplay` drives; each player must be configured.
    public func ampacheLocalplay(players: [String]) throws -> [String: String] {
        guard let section = trees["ampache"] else { return [:] }
        guard case .map(let keys) = section else { throw RepriseError(.config, "\(file): 'ampache' must be a mapping") }
        for (k, _) in keys where k != "localplay" {
            throw RepriseError(.config, "\(file): unknown key 'ampache.\(k)' (known: ampache.localplay)")
        }
        guard let localplay = section["localplay"] else { return [:] }
        guard case .map(let entries) = localplay else { throw RepriseError(.config, "\(file): 'ampache.localplay' must map user names to player names") }
        var out: [String: String] = [:]
        for (user, v) in entries {
            guard let player = v.scalar else { throw RepriseError(.config, "\(file): 'ampache.localplay.\(user)' must be a player name") }
            guard players.contains(player) else {
                throw RepriseError(.config, "\(file): 'ampache.localplay.\(user)' names player '\(player)', which is not in playback.players")
            }
            out[user] = player
        }
        return out
    }
}
