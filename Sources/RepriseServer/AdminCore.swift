import Foundation
import GRDB
import Logging
import RepriseConfig
import RepriseCore
import RepriseSQLite
import RepriseStorage

/// The stores the admin commands use, without plugins or players, so that a broken plugin never
/// locks an admin out of `reprise user`, `token` or `session`.
///
/// Commands whose work a plugin decides (`gc run`: expiry rules; `scan`) build a `ServerCore`.
public struct AdminCore: Sendable {
    public let db: DatabasePool
    public let clock: any WallClock
    public let users: UserStore
    public let sessions: SessionStore
    public let tokens: StreamTokenStore
    let settings: RepriseSettings

    /// Client passwords, sealed with the secret key (read or created on first use).
    public func clientPasswords() throws -> ClientPasswordStore {
        ClientPasswordStore(db: db, clock: clock, box: try SecretKeyFile.box(settings))
    }

    public init(settings: RepriseSettings) throws {
        self.settings = settings
        do {
            db = try RepriseDatabase.open(path: settings.databasePath, busyTimeoutMs: settings.busyTimeoutMs, readers: settings.databaseReaders)
        } catch let error as RepriseError {
            throw error
        } catch {
            throw RepriseError(.internal, "cannot open the database at \(settings.databasePath): \(error)")
        }
        clock = SystemWallClock()
        users = UserStore(db: db, clock: clock, bcryptCost: UInt8(settings.bcryptCost), companions: [AmpachePasswordDigest()])
        // Listing only: the expiry rules a plugin may define never run here.
        sessions = SessionStore(db: db, clock: clock, policy: settings.policy)
        tokens = StreamTokenStore(db: db, clock: clock)
    }

    /// The enabled plugins as the token policy, for commands that mint tokens (`token create`, `token rotate`).
    ///
    /// A plugin that fails to load is an error: minting fails closed, as `serve` would.
    public func tokenPolicy(logger: Logger = Logger(label: "reprise.plugins")) throws -> any TokenPolicy {
        try makePluginHost(settings: settings, db: db, logger: logger)
    }

    /// The user called `name`, or a not-found error naming it.
    public func user(named name: String) async throws -> User {
        guard let u = try await users.find(name: name) else { throw RepriseError(.notFound, "no user named '\(name)'") }
        return u
    }
}
