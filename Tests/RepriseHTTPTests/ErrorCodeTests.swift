import Foundation
@testable import RepriseHTTP
import Testing

/// Error codes come from one list, which the README's table repeats.
@Suite struct ErrorCodeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func readmeTableListsExactlyTheCodes() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### Error codes").dropFirst().first)
        let rows = section.components(separatedBy: "\n").drop { !$0.hasPrefix("| code |") }.dropFirst(2).prefix { $0.hasPrefix("| `") }
        let listed = rows.map { String($0.dropFirst(3).prefix { $0 != "`" }) }
        #expect(Set(listed) == Set(APIError.Code.all.map(\.rawValue)))
        #expect(listed.count == APIError.Code.all.count)
    }

    @Test func noCodeIsWrittenAsAFreeString() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(files.count > 20)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains("code: \""), "\(file.lastPathComponent) writes an error code as a string; add it to APIError.Code")
        }
    }
}
