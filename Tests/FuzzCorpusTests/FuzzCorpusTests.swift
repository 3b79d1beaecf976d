import Foundation
import RepriseFuzz
import Testing

/// Replays `Fuzz/corpus/<target>/` through every fuzz target: what `make fuzz` found or was seeded
/// with never traps again.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    static func inputs(_ target: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: corpus.appendingPathComponent(target), includingPropertiesForKeys: nil)
    }

    @Test func everyTargetHasACorpus() throws {
        for name in FuzzTargets.all.keys {
            #expect(try Self.inputs(name).count >= 3, "Fuzz/corpus/\(name) needs seeds")
        }
    }

    @Test(arguments: FuzzTargets.all.keys.sorted())
    func corpusReplays(_ name: String) throws {
        let target = try #require(FuzzTargets.all[name])
        for file in try Self.inputs(name) { target(Array(try Data(contentsOf: file))) }
    }
}
