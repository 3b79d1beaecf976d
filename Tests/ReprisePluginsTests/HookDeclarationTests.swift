import Foundation
@testable import ReprisePlugins
import Testing

/// `Hooks.all` is the one list of hooks: the type stubs and the plugin guide say exactly the same.
@Suite struct HookDeclarationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func typeStubsDeclareEveryHookAndNoOther() throws {
        let stubs = try String(contentsOf: Self.root.appendingPathComponent("plugins/types/reprise.lua"), encoding: .utf8)
        // The `reprise.Hooks` class: from its line to the next blank line.
        let lines = stubs.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex(of: "---@class reprise.Hooks"))
        let block = Array(lines[(start + 1)...].prefix { !$0.isEmpty })
        let fields = block.filter { $0.hasPrefix("---@field ") }
        #expect(fields.count == Hooks.all.count, "\(fields)")
        for hook in Hooks.all {
            let field = "---@field \(hook.name)? \(hook.luaType)"
            let at = try #require(block.firstIndex(of: field), "plugins/types/reprise.lua lacks `\(field)`")
            if let doc = hook.doc { #expect(at > 0 && block[at - 1] == "---\(doc)", "the doc line of \(hook.name)") }
        }
    }

    @Test func pluginGuideDocumentsEveryHookAndItsFailure() throws {
        let guide = try String(contentsOf: Self.root.appendingPathComponent("plugins/README.md"), encoding: .utf8)
        for hook in Hooks.all {
            switch hook.kind {
            case .policy, .expiry, .choice:
                #expect(guide.contains("#### `\(hook.signature)`"), "plugins/README.md lacks the heading `\(hook.signature)`")
                #expect(guide.contains("| `\(hook.name)` |"), "the failure table lacks \(hook.name)")
            case .event:
                #expect(guide.contains("| `\(hook.signature)` |"), "the events table lacks `\(hook.signature)`")
            }
        }
        // No heading for a hook that does not exist.
        let headings = guide.components(separatedBy: "\n").filter { $0.hasPrefix("#### `") }
        for h in headings where h.contains("(") {
            let name = String(h.dropFirst(6).prefix { $0 != "(" })
            #expect(Hooks.names.contains(name) || !name.contains("_"), "plugins/README.md documents an unknown hook: \(h)")
        }
    }

    @Test func loadingAcceptsExactlyTheDeclaredHooks() throws {
        #expect(Hooks.names.count == Hooks.all.count)
        let dir = try PluginFolder()
        let every = Hooks.all.map { "\($0.name) = function() end" }.joined(separator: ", ")
        try dir.write("every", "return { hooks = { \(every) } }")
        try dir.write("typo", "return { hooks = { token_authorise = function() return true end } }")
        #expect(try makeHost([dir.path], ["every"]).report().first?.hooks.count == Hooks.all.count)
        let refused = #expect(throws: PluginError.self) { try makeHost([dir.path], ["typo"]) }
        #expect(refused?.message.contains("unknown hook 'token_authorise'") == true)
    }
}
