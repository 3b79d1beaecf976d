import Foundation
import MPDTestSupport
@testable import LuaHost
@testable import ReprisePlayback
import TestSupport
import Testing

/// FINDINGS H9: `reprise.http` never follows a redirect, so credentials never leave the allowed host.
@Suite struct HTTPHostModuleTests {
    /// A Python server on 127.0.0.1 that redirects `/go` to `localhost` (a host off the allow-list)
    /// and logs every request line with its Authorization header.
    static let server = #"""
    import http.server, sys
    log = open(sys.argv[2], "a")
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            log.write("%s %s\n" % (self.path, self.headers.get("Authorization"))); log.flush()
            if self.path == "/go":
                self.send_response(302); self.send_header("Location", "http://localhost:%s/capture" % sys.argv[1]); self.end_headers()
            else:
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """#

    @Test func redirectsAreNotFollowed() async throws {
        let temp = try TempDir("http-host")
        defer { temp.remove() }
        let dir = temp.url
        let log = dir.appendingPathComponent("requests.log").path
        let port = try MPDServer.freePort()
        let child = try Child("/usr/bin/python3", ["-c", Self.server, "\(port)", log])
        defer { child.kill(SIGKILL) }
        var registry = HostFunctionRegistry()
        HTTPHostModule(allowedHosts: ["127.0.0.1"]).register(into: &registry)
        let request = try #require(registry.functions.first { $0.module == "http" && $0.name == "request" }?.function)
        let spec: LuaValue = .table(["url": .string("http://127.0.0.1:\(port)/go"), "basic_auth": .table(["user": "u", "password": "secret"])])
        var answer: [LuaValue] = []
        for _ in 0..<100 {  // waiting for the real server to bind
            if let a = try? request([spec]) { answer = a; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(answer.first?["status"].intValue == 302)
        let seen = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(seen.contains("/go Basic"))
        #expect(!seen.contains("/capture"), "\(seen)")
    }
}
