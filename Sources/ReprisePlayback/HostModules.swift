import LuaHost

/// The host modules a backend's VM gets, in one list: `reprise.mpd` (libmpdclient) and
/// `reprise.http` (hosts the player's settings allow); a new module (a socket one) is added here.
enum BackendHostModules {
    static func make(for player: PlayerConfig) -> [any LuaHostModule] {
        var allowed = Set(player.settings["allow_hosts"]?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [])
        if let h = player.settings["host"] { allowed.insert(h) }
        return [MPDHostModule(), HTTPHostModule(allowedHosts: allowed)]
    }
}
