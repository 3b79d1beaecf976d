import Foundation
import Testing

/// The dependency direction Package.swift states holds in the sources.
@Suite struct LayoutTests {
    static let sources = OpenAPITests.root.appendingPathComponent("Sources")

    /// Modules that import `module`, by the folder of each Swift file that does.
    static func importers(of module: String) throws -> Set<String> {
        var out = Set<String>()
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        for case let url as URL in files where url.pathExtension == "swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            if text.split(separator: "\n").contains(where: { $0 == "import \(module)" || $0 == "@testable import \(module)" }) {
                out.insert(url.deletingLastPathComponent().path.replacingOccurrences(of: sources.path + "/", with: "").split(separator: "/")[0].description)
            }
        }
        return out
    }

    @Test func onlyTheSQLiteModuleAndTheCompositionRootImportGRDB() throws {
        let importers = try Self.importers(of: "GRDB")
        #expect(importers.contains("RepriseSQLite"))
        #expect(importers.subtracting(["RepriseSQLite", "RepriseServer"]) == [])
    }

    @Test func apisAndPlayersKnowStorageOnlyThroughItsProtocols() throws {
        let engine = try Self.importers(of: "RepriseSQLite")
        #expect(engine.contains("RepriseServer"))
        #expect(engine.isDisjoint(with: ["RepriseHTTP", "RepriseAmpache", "ReprisePlayback", "ReprisePlugins", "RepriseStorage", "RepriseCore"]), "\(engine)")
    }
}
