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
