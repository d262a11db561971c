import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CSSL

/// A blocking HTTP/1.1 client for the job API, for the `submit`, `status`, `watch` and
/// `result` commands: one request per connection (`Connection: close`), bodies read whole or
/// handed over as they arrive (the event stream), `https://` through OpenSSL with the system's
/// trust store (or `--cacert`). Small on purpose: Foundation's URLSession would bring libcurl
/// into the statically linked binary for four commands.
struct ServiceClient {
    /// Why a request failed before an HTTP status came back.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A response: status, headers (names lowercased) and the body (empty when streamed).
    struct Response {
        let status: Int
        let headers: [String: String]
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let scheme: String, host: String, port: Int
    let key: String?
    let caFile: String?

    init(server: String, key: String?, caFile: String?) throws {
        guard let url = URL(string: server), let scheme = url.scheme, scheme == "http" || scheme == "https", let host = url.host else {
            throw Failure(description: "--server must be an http:// or https:// URL, got '\(server)'")
        }
        self.scheme = scheme; self.host = host; self.port = url.port ?? (scheme == "https" ? 443 : 80)
        self.key = key.flatMap { $0.isEmpty ? nil : $0 }; self.caFile = caFile
    }

    /// Sends one request; with `stream`, the body is passed to it chunk by chunk as it arrives
    /// (return false to stop reading) instead of being collected.
    func send(_ method: String, _ path: String, body: [UInt8]? = nil, accept: String = "application/json",
              stream: (([UInt8]) -> Bool)? = nil) throws -> Response {
        let connection = try Connection(host: host, port: port, tls: scheme == "https", caFile: caFile)
        defer { connection.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: \(accept)\r\nConnection: close\r\nUser-Agent: sviserve-cli\r\n"
        if let key { head += "Authorization: Bearer \(key)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        try connection.write(Array((head + "\r\n").utf8) + (body ?? []))

        var buffer: [UInt8] = []
        var headerEnd: Int?
        while headerEnd == nil {
            guard let chunk = try connection.read(), !chunk.isEmpty else { throw Failure(description: "the server closed the connection before answering") }
            buffer += chunk
            headerEnd = buffer.firstRange(of: [13, 10, 13, 10])?.upperBound
            if buffer.count > 1 << 20 && headerEnd == nil { throw Failure(description: "the response's header is too long") }
        }
        let lines = String(decoding: buffer[..<(headerEnd! - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "not an HTTP response: \(lines[0].prefix(80))") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var pending = Array(buffer[headerEnd!...])
        var collected: [UInt8] = []
        func deliver(_ bytes: [UInt8]) -> Bool {
            guard !bytes.isEmpty else { return true }
            if let stream { return stream(bytes) }
            collected += bytes
            return true
        }
        func more() throws -> Bool {
            guard let chunk = try connection.read(), !chunk.isEmpty else { return false }
            pending += chunk
            return true
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            chunks: while true {
                while pending.firstRange(of: [13, 10]) == nil { guard try more() else { break chunks } }
                let lineEnd = pending.firstRange(of: [13, 10])!
                let sizeText = String(decoding: pending[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0, size < 1 << 30 else {
                    throw Failure(description: "a malformed chunk size in the response")
                }
                pending.removeSubrange(..<lineEnd.upperBound)
                if size == 0 { break }
                while pending.count < size + 2 { guard try more() else { break chunks } }
                guard deliver(Array(pending[..<size])) else { break }
                pending.removeSubrange(..<(size + 2))
            }
        } else if let length = headers["content-length"].flatMap(Int.init) {
            while pending.count < length { guard try more() else { break } }
            _ = deliver(Array(pending.prefix(length)))
        } else {
            while true {
                guard deliver(pending) else { break }
                pending = []
                guard try more() else { break }
            }
        }
        return Response(status: status, headers: headers, body: collected)
    }
}

/// One TCP connection, optionally under TLS, read and written in blocking calls.
final class Connection {
    private var fd: Int32 = -1
    private var ssl: OpaquePointer?
    private var context: OpaquePointer?

    init(host: String, port: Int, tls: Bool, caFile: String?) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw ServiceClient.Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            let s = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if s >= 0 {
                if connect(s, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { fd = s; break }
                lastError = errno
                Glibc.close(s)
            }
            candidate = info.pointee.ai_next
        }
        guard fd >= 0 else {
            throw ServiceClient.Failure(description: "cannot connect to \(host):\(port): \(String(cString: strerror(lastError))) (is the service running? `sviserve serve`)")
        }
        if tls { try startTLS(host: host, caFile: caFile) }
    }

    private func startTLS(host: String, caFile: String?) throws {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw ServiceClient.Failure(description: "cannot set up TLS") }
        context = ctx
        _ = CSSL_setMinimumVersion(ctx, TLS1_2_VERSION)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else { throw ServiceClient.Failure(description: "cannot load CA certificates from \(caFile)") }
        } else {
            SSL_CTX_set_default_verify_paths(ctx)
        }
        guard let ssl = SSL_new(ctx) else { throw ServiceClient.Failure(description: "cannot set up TLS") }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        SSL_set1_host(ssl, host)
        _ = host.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason = verify != X509_V_OK ? String(cString: X509_verify_cert_error_string(verify)) : "handshake failed"
            throw ServiceClient.Failure(description: "TLS with \(host) failed: \(reason) (--cacert FILE trusts a private certificate)")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { raw -> Int in
                if let ssl { return Int(SSL_write(ssl, raw.baseAddress, Int32(raw.count))) }
                return Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw ServiceClient.Failure(description: "the connection closed while sending the request") }
            offset += n
        }
    }

    /// The next bytes, or nil at the end of the stream.
    func read() throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { raw -> Int in
            if let ssl { return Int(SSL_read(ssl, raw.baseAddress, Int32(raw.count))) }
            return recv(fd, raw.baseAddress, raw.count, 0)
        }
        if n <= 0 { return nil }
        return Array(buffer[..<n])
    }

    func close() {
        if let ssl { SSL_shutdown(ssl); SSL_free(ssl) }
        if let context { SSL_CTX_free(context) }
        if fd >= 0 { Glibc.close(fd) }
        ssl = nil; context = nil; fd = -1
    }

    deinit { close() }
}
