import ArgumentParser
import Foundation
import RepriseCore
import RepriseServer
import RepriseSQLite
import RepriseStorage

/// `reprise user apikey NAME`: creates or rotates the user's API key and prints it once.
struct UserApiKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apikey", abstract: "Create or rotate a user's API key (Ampache); prints it once.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String

    func run() async throws {
        let core = try AdminCore(settings: try global.settings())
        let user = try await core.user(named: name)
        print(try await ApiKeyStore(db: core.db, clock: core.clock).rotate(userId: user.id))
    }
}

/// `reprise token rotate --user NAME [--label ampache]`: revokes the user's tokens with that label and prints a new one.
struct TokenRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rotate", abstract: "Revoke a user's stream tokens with a label and print a new one.")
    @OptionGroup var global: GlobalOptions
    @Option var user: String
    @Option var label = "ampache"

    func run() async throws {
        let core = try AdminCore(settings: try global.settings())
        let owner = try await core.user(named: user)
        let (secret, _, _) = try await core.tokens.rotate(user: owner, label: label, policy: try core.tokenPolicy())
        print(secret.plaintext)
    }
}

/// `reprise user client-password add|list|revoke`: passwords for Subsonic apps, one per device.
struct UserClientPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client-password", abstract: "Passwords for Subsonic apps (token auth needs one): add prints it once; list; revoke.",
        subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mint a client password for a user's app; prints only the password.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Option(help: "Which app or device, e.g. \"phone\".") var label: String
        @Option(help: "Lifetime, e.g. 90d; none = until revoked.") var ttl: String?

        func run() async throws {
            var ttlSeconds: Int64?
            if let ttl {
                guard let lifetime = Lifetime.parse(ttl), lifetime.ms >= 1000 else { throw ValidationError("--ttl must be a duration such as 3600, 12h or 90d") }
                ttlSeconds = lifetime.seconds
            }
            let core = try AdminCore(settings: try global.settings())
            let (password, _) = try await core.clientPasswords().create(user: try await core.user(named: name), label: label, ttlSeconds: ttlSeconds)
            print(password)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's client passwords (never the passwords).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Flag var json = false

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            let list = try await core.clientPasswords().list(userId: try await core.user(named: name).id)
            if json { return try printJSON(list) }
            for p in list {
                let state = p.revokedAt != nil ? "revoked" : p.expiresAt.map { "expires \($0)" } ?? "no expiry"
                print("\(p.id)\t\(StoredText.singleLine(p.label))\t\(state)\tlast used \(p.lastUsedAt.map(String.init) ?? "never")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client password by id.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: Int64

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            guard try await core.clientPasswords().revoke(id: id, userId: nil) else { throw RepriseError(.notFound, "no usable client password \(id)") }
        }
    }
}
