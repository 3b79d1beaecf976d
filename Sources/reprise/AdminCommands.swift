import ArgumentParser
import Foundation
import Logging
import RepriseCore
import RepriseServer
import RepriseSQLite
import RepriseStorage

/// `reprise user ...`
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage users.", subcommands: [Add.self, List.self, Passwd.self, Disable.self, Enable.self, UserApiKey.self, UserClientPassword.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; the password is read from standard input.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Flag(help: "Make the user an admin.") var admin = false
        @Flag(help: "Read the password from standard input (required).") var passwordStdin = false

        func validate() throws {
            guard passwordStdin else { throw ValidationError("pass --password-stdin and write the password to standard input") }
        }

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            let user = try await core.users.add(name: name, password: try readPasswordFromStdin(), role: admin ? .admin : .user)
            print("created \(user.role.rawValue) '\(user.name)' (id \(user.id))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var global: GlobalOptions
        @Flag var json = false

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            let users = try await core.users.list()
            if json { return try printJSON(users) }
            for u in users { print("\(u.id)\t\(u.name)\t\(u.role.rawValue)\(u.disabled ? "\tdisabled" : "")") }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password from standard input.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Flag(help: "Read the password from standard input (required).") var passwordStdin = false

        func validate() throws {
            guard passwordStdin else { throw ValidationError("pass --password-stdin and write the password to standard input") }
        }

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            try await core.users.setPassword(name: name, password: try readPasswordFromStdin())
            print("password changed for '\(name)'")
        }
    }
}

extension UserCommand {
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user: their sessions, tokens and API key stop working, and a running server ends their streams within a second.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        func run() async throws { try await UserCommand.setDisabled(name, true, global) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        func run() async throws { try await UserCommand.setDisabled(name, false, global) }
    }

    static func setDisabled(_ name: String, _ disabled: Bool, _ global: GlobalOptions) async throws {
        let core = try AdminCore(settings: try global.settings())
        try await core.users.setDisabled(name: name, disabled)
        print("\(disabled ? "disabled" : "enabled") '\(name)'")
    }
}

/// `reprise token ...`
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage stream tokens.", subcommands: [Create.self, List.self, Revoke.self, TokenRotate.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a stream token; prints only the token.")
        @OptionGroup var global: GlobalOptions
        @Option var user: String
        @Option var label: String
        @Option(help: "Lifetime, e.g. 3600, 90s, 12h, 30d; none = until revoked.") var ttl: String?

        func run() async throws {
            var ttlSeconds: Int64?
            if let ttl {
                guard let lifetime = Lifetime.parse(ttl), lifetime.ms >= 1000 else {
                    throw ValidationError("--ttl must be a duration from 1s to 100 years, e.g. 3600, 90s, 12h, 30d")
                }
                ttlSeconds = lifetime.seconds
            }
            let core = try AdminCore(settings: try global.settings())
            let owner = try await core.user(named: user)
            // The token policy applies here as on the API: `token_issue` may cap or refuse.
            let (secret, _) = try await core.tokens.issue(user: owner, label: label, requestedTTLSeconds: ttlSeconds, policy: try core.tokenPolicy())
            print(secret.plaintext)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stream tokens (never their secrets).")
        @OptionGroup var global: GlobalOptions
        @Option var user: String?
        @Flag var json = false

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            var userId: Int64?
            if let user { userId = try await core.user(named: user).id }
            let tokens = try await core.tokens.list(userId: userId)
            if json { return try printJSON(tokens) }
            for t in tokens {
                let state = t.revokedAt != nil ? "revoked" : (t.isUsable(now: core.clock.nowMs()) ? "active" : "expired")
                print("\(t.id)\t\(t.userName)\t\(t.label)\t\(state)\texpires \(iso(t.expiresAt))\tlast used \(iso(t.lastUsedAt))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a stream token by id.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: Int64

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            guard try await core.tokens.revoke(id: id) else { throw RepriseError(.notFound, "no active token \(id)") }
            print("revoked token \(id)")
        }
    }
}

/// `reprise session list`
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "session", abstract: "Inspect sessions.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions (never their ids' secrets).")
        @OptionGroup var global: GlobalOptions
        @Flag var json = false

        func run() async throws {
            let core = try AdminCore(settings: try global.settings())
            let sessions = try await core.sessions.list()
            if json { return try printJSON(sessions) }
            for s in sessions { print("\(s.id)\t\(s.userName)\t\(s.kind.rawValue)\tcreated \(iso(s.createdAt))\texpires \(iso(s.expiresAt))") }
        }
    }
}

/// `reprise gc run`
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Session garbage collection.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run one GC pass; safe while the server runs.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Report what would be deleted; delete nothing.") var dryRun = false
        @Flag var json = false

        func run() async throws {
            let core = try ServerCore(settings: try global.settings(), logger: quietLogger)
            let stats = try await core.gc.runOnce(dryRun: dryRun)
            if json { return try printJSON(stats) }
            print("\(dryRun ? "would delete" : "deleted") \(stats.deleted) of \(stats.examined) expired sessions; spared \(stats.sparedByGrace) by grace, \(stats.sparedByLease) by lease, \(stats.sparedByRule) by rule; purged \(stats.tokensPurged) tokens in \(stats.durationMs) ms")
        }
    }
}

/// Admin commands log nothing but errors; their output is for people and scripts.
let quietLogger: Logger = {
    var l = Logger(label: "reprise.cli")
    l.logLevel = .error
    return l
}()

/// `reprise scan`
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scan", abstract: "Scan the music folders (catalog.paths) once.")
    @OptionGroup var global: GlobalOptions
    @Flag var json = false

    func run() async throws {
        let core = try ServerCore(settings: try global.settings(), logger: quietLogger)
        let s = try await core.scanner.scan()
        if json { return try printJSON(s) }
        print("added \(s.added), updated \(s.updated), removed \(s.removed), unchanged \(s.unchanged), skipped \(s.skipped), errors \(s.errors) in \(String(format: "%.1f", s.durationMs)) ms (\(Int(s.filesPerSecond)) files/s)")
        for p in s.problems { print("  \(StoredText.singleLine(p.path)): \(StoredText.singleLine(p.reason))") }
    }
}
