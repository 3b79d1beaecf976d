import Foundation
import MPDTestSupport
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Short MP3 files made with sox, and a Python HTTP server that serves them (plus 403s and cut-off bodies).
final class AudioHTTPServer: @unchecked Sendable {
    /// The port the server listens on.
    let port: Int
    /// The dir holding the served files.
    let directory: URL
    private let process: Child

    /// Serves `directory` on a free port; call `waitUntilReady()` before use.
    init(directory: URL) throws {
        self.directory = directory
        port = try MPDServer.freePort()
        // The server exits when this process's end of its standard input closes.
        process = try Child("/usr/bin/python3", ["-c", Self.script, String(port), directory.path], stdin: .pipe)
    }

    /// Waits for the real process to accept connections: up to 200 tries, 25 ms apart.
    func waitUntilReady() async throws {
        for _ in 0..<200 {
            if Self.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw MPDServerError(message: "python http server did not start on \(port)")
    }

    /// A URL for a file; `mode` is "files" (whole), "status/403", "cut" (40% of a Content-Length body, a pause, then
    /// the socket closes) or "cutclose" (the same without Content-Length, so the cut looks like the end).
    func url(_ name: String, mode: String = "files") -> String {
        "http://127.0.0.1:\(port)/\(mode)/\(name)"
    }

    /// Stops the server.
    func stop() {
        process.kill()
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static let script = #"""
        import http.server, os, socket, sys, threading, time
        port, root = int(sys.argv[1]), sys.argv[2]
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_HEAD(self): self.serve(False)
            def do_GET(self): self.serve(True)
            def serve(self, body):
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[0] == "status":
                    self.send_error(int(parts[1])); return
                path = os.path.join(root, parts[-1])
                if not os.path.isfile(path):
                    self.send_error(404); return
                data = open(path, "rb").read()
                start = 0
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes=") and rng[6:].split("-")[0].isdigit():
                    start = min(int(rng[6:].split("-")[0]), len(data))
                if start > 0:
                    self.send_response(206)
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                if parts[0] == "cutclose":
                    self.send_header("Connection", "close")
                else:
                    self.send_header("Accept-Ranges", "bytes")
                    self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if not body: return
                if parts[0] in ("cut", "cutclose") and start == 0:
                    self.wfile.write(data[start:start + (len(data) - start) * 4 // 10]); self.wfile.flush()
                    time.sleep(1.5)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data[start:])
        http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """#
}

/// The test audio, generated once per process: a.mp3 and b.mp3 (3 s), long.mp3 (30 s), and its HTTP server.
actor AudioFiles {
    private static let shared = AudioFiles()
    private var server: Task<AudioHTTPServer, any Error>?

    /// The shared server, started on first use.
    static func server() async throws -> AudioHTTPServer {
        try await shared.get()
    }

    private func get() async throws -> AudioHTTPServer {
        if let server { return try await server.value }
        let task = Task { try await Self.make() }
        server = task
        return try await task.value
    }

    private static func make() async throws -> AudioHTTPServer {
        let dir = try TempDir("mpd-audio").url
        try await Tone.write(dir.appendingPathComponent("a.mp3").path, seconds: 3, frequency: 440)
        try await Tone.write(dir.appendingPathComponent("b.mp3").path, seconds: 3, frequency: 660)
        try await Tone.write(dir.appendingPathComponent("long.mp3").path, seconds: 30, frequency: 330)
        let server = try AudioHTTPServer(directory: dir)
        try await server.waitUntilReady()
        return server
    }
}
