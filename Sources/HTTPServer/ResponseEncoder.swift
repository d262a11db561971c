/// Turns a handler's ``HTTPResponse`` into bytes on the wire: the status line, the header
/// section with the server's framing fields, and chunk framing for streamed bodies.
enum ResponseEncoder {
    /// How the body follows the head.
    enum BodyFraming {
        /// Nothing follows: a `HEAD` request, a status that forbids content, or an empty body.
        case none
        /// These bytes follow, as announced by `Content-Length`.
        case bytes([UInt8])
        /// The stream's chunks follow in chunked transfer coding, ended by a last chunk.
        case chunkedStream
        /// The stream's bytes follow raw and the connection closes after them (HTTP/1.0).
        case streamUntilClose
    }

    /// What the request asked for that shapes the response's framing.
    struct RequestSummary {
        /// Whether the method was `HEAD`: framing fields are sent as for `GET`, content is not.
        var isHead: Bool
        /// The request's version: chunked coding is only for HTTP/1.1 clients.
        var version: HTTPVersion
        /// Whether the request allowed the connection to stay open.
        var keepAlive: Bool
        /// Whether the client accepts gzip-compressed content (`Accept-Encoding`).
        var acceptsGzip = false

        /// The stand-in for a request that could not be parsed.
        static let unparsed = RequestSummary(isHead: false, version: .http1_1, keepAlive: false)
    }

    /// An encoded head and how its body follows.
    struct Encoded {
        var head: [UInt8]
        var body: BodyFraming
        /// Whether the head says `Connection: close`, so the connection closes after this body.
        var closesConnection: Bool
    }

    /// The interim response a client waiting on `Expect: 100-continue` needs.
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    /// The last chunk and the empty trailer section that end a chunked body.
    static let lastChunk = Array("0\r\n\r\n".utf8)
    private static let framingFields = ["Content-Length", "Transfer-Encoding", "Connection"]

    /// Whether the response will carry content to this request.
    static func sendsContent(status: Int, isHead: Bool) -> Bool {
        !isHead && !HTTPStatus.forbidsContent(status)
    }

    /// Whether every part of the head can be written without altering the message: a status
    /// in 100–599, token field names, and values without CR, LF or other controls.
    static func isWritable(_ response: HTTPResponse) -> Bool {
        (100...599).contains(response.status) && response.headers.allSatisfy { field in
            !field.name.isEmpty && field.name.utf8.allSatisfy(HTTPSyntax.isTokenCharacter)
                && field.value.utf8.allSatisfy(HTTPSyntax.isFieldValueCharacter)
        }
    }

    /// Encodes `response` to `request`; `close` forces `Connection: close`.
    ///
    /// - Precondition: ``isWritable(_:)`` holds for `response`.
    static func encode(_ response: HTTPResponse, to request: RequestSummary, close: Bool) -> Encoded {
        var headers = response.headers
        framingFields.forEach { headers.remove(name: $0) }
        let content = sendsContent(status: response.status, isHead: request.isHead)
        var framing = BodyFraming.none
        var closes = close || !request.keepAlive
        var lines = "HTTP/1.1 \(response.status) \(HTTPStatus.reasonPhrase(response.status))\r\n"
        if !headers.contains(name: "Date") {
            lines += "Date: \(HTTPDate.now())\r\n"
        }
        switch response.body {
        case .bytes(var bytes):
            // Large bodies to clients that accept gzip go compressed (zlib).
            if request.acceptsGzip, bytes.count >= Gzip.minimumSize, !headers.contains(name: "Content-Encoding"),
               let packed = Gzip.compress(bytes), packed.count < bytes.count {
                bytes = packed
                headers.append(name: "Content-Encoding", value: "gzip")
                headers.append(name: "Vary", value: "Accept-Encoding")
            }
            if !HTTPStatus.forbidsContent(response.status) {
                lines += "Content-Length: \(bytes.count)\r\n"
                if content && !bytes.isEmpty { framing = .bytes(bytes) }
            }
        case .stream:
            if request.version >= .http1_1 {
                if !HTTPStatus.forbidsContent(response.status) { lines += "Transfer-Encoding: chunked\r\n" }
                if content { framing = .chunkedStream }
            } else if content {
                framing = .streamUntilClose
                closes = true
            }
        }
        if closes {
            lines += "Connection: close\r\n"
        } else if request.version < .http1_1 {
            lines += "Connection: keep-alive\r\n"
        }
        for field in headers {
            lines += "\(field.name): \(field.value)\r\n"
        }
        lines += "\r\n"
        return Encoded(head: Array(lines.utf8), body: framing, closesConnection: closes)
    }

    /// `bytes` as one chunk of a chunked body (RFC 9112 §7.1).
    ///
    /// - Precondition: `bytes` is not empty (an empty chunk would end the body).
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var framed = Array(String(bytes.count, radix: 16).utf8)
        framed.reserveCapacity(framed.count + bytes.count + 4)
        framed += [HTTPSyntax.cr, HTTPSyntax.lf]
        framed += bytes
        framed += [HTTPSyntax.cr, HTTPSyntax.lf]
        return framed
    }
}
