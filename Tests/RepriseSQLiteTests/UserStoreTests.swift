import Foundation
import GRDB
import RepriseCore
import Testing
@testable import RepriseSQLite
@testable import RepriseStorage

@Suite struct UserStoreTests {
    @Test func addAndVerify() async throws {
        let f = try Fixture()
        let u = try await f.users.add(name: "ann", password: "correct horse", role: .admin)
        #expect(u.role == .admin)
        #expect(try await f.users.verify(name: "ann", password: "correct horse")?.id == u.id)
        #expect(try await f.users.verify(name: "ann", password: "wrong horse!") == nil)
        #expect(try await f.users.verify(name: "bob", password: "correct horse") == nil)
    }

    @Test func passwordIsStoredAsBcrypt() async throws {
        let f = try Fixture()
        try await f.users.add(name: "ann", password: "correct horse", role: .user)
        let stored = try await f.db.read { db in try String.fetchOne(db, sql: "SELECT password_hash FROM users")! }
        #expect(stored.hasPrefix("$2"))
        #expect(!stored.contains("correct horse"))
    }

    @Test func duplicateNameIsAConflict() async throws {
        let f = try Fixture()
        try await f.users.add(name: "ann", password: "password1", role: .user)
        let error = await #expect(throws: RepriseError.self) { try await f.users.add(name: "ann", password: "password2", role: .user) }
        #expect(error?.code == .conflict)
        #expect(try await f.users.count() == 1)
    }

    @Test func shortPasswordsAndBadNamesAreRefused() async throws {
        let f = try Fixture()
        await #expect(throws: RepriseError.self) { try await f.users.add(name: "ann", password: "short", role: .user) }
        await #expect(throws: RepriseError.self) { try await f.users.add(name: "a b", password: "password1", role: .user) }
    }

    @Test func setPassword() async throws {
        let f = try Fixture()
        try await f.users.add(name: "ann", password: "password1", role: .user)
        try await f.users.setPassword(name: "ann", password: "password2")
        #expect(try await f.users.verify(name: "ann", password: "password1") == nil)
        #expect(try await f.users.verify(name: "ann", password: "password2") != nil)
        await #expect(throws: RepriseError.self) { try await f.users.setPassword(name: "zed", password: "password2") }
    }

    @Test func schemaEnforcesInvariants() async throws {
        let f = try Fixture()
        #expect(throws: DatabaseError.self) {
            try f.db.write { db in try db.execute(sql: "INSERT INTO users (name, password_hash, role, created_at) VALUES ('x', 'h', 'root', 0)") }
        }
        #expect(throws: DatabaseError.self) {
            try f.db.write { db in
                try db.execute(sql: "INSERT INTO sessions (hash, user_id, kind, created_at, last_seen_at, expires_at) VALUES (zeroblob(32), 999, 'web', 0, 0, 1)")
            }
        }
    }
}
