import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LuaHost
import RepriseSync

/// `reprise.http.request{method, url, headers, body, timeout_ms, basic_auth}` for Lua backends:
/// returns `{status, headers, body}` or `nil, err`; only hosts the player's config allows.
struct HTTPHostModule: LuaHostModule {
    let allowedHosts: Set<String>
    var namespace: String { "http" }

    func register(into registry: inout HostFunctionRegistry) {
        registry.register("http", "request") { args in
            let spec = args.first ?? .nil
            guard let urlText = spec["url"].stringValue, let url = URL(string: urlText), let host = url.host,
                  let scheme = url.scheme, ["http", "https"].contains(scheme) else {
                throw BackendError("request needs an http(s) url")
            }
            guard allowedHosts.contains(host) else { throw BackendError("host \(host) is not allowed for this plugin (allow_hosts)") }
            var request = URLRequest(url: url)
            request.httpMethod = spec["method"].stringValue ?? "GET"
            request.timeoutInterval = Double(min(max(spec["timeout_ms"].intValue ?? 5000, 1), 60_000)) / 1000
            for (k, v) in spec["headers"].tableValue ?? [:] { request.setValue(v.stringValue, forHTTPHeaderField: k) }
            if let body = spec["body"].stringValue { request.httpBody = Data(body.utf8) }
            if let auth = spec["basic_auth"].tableValue {
                let pair = "\(auth["user"]?.stringValue ?? ""):\(auth["password"]?.stringValue ?? "")"
                request.setValue("Basic " + Data(pair.utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
            }
            let done = DispatchSemaphore(value: 0)
            let box = Locked<(Data?, HTTPURLResponse?, (any Error)?)>((nil, nil, nil))
            // Redirects are never followed: the 3xx comes back to the plugin, and neither the
            // player's password nor its headers can be sent to a host off the allow-list.
            let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
            session.dataTask(with: request) { data, response, error in
                box.withLock { $0 = (data, response as? HTTPURLResponse, error) }
                done.signal()
            }.resume()
            done.wait()
            session.finishTasksAndInvalidate()
            let (data, response, error) = box.withLock { $0 }
            if let error { throw BackendError("http: \(error.localizedDescription)") }
            guard let response else { throw BackendError("http: no response") }
            var headers: [String: LuaValue] = [:]
            for (k, v) in response.allHeaderFields { headers[String(describing: k).lowercased()] = .string(String(describing: v)) }
            return [.table(["status": .integer(Int64(response.statusCode)), "headers": .table(headers), "body": .string(String(decoding: data ?? Data(), as: UTF8.self))])]
        }
    }
}

/// Refuses every redirect, so a response is always the allowed host's own.
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
