import JSON

/// A response a handler returns: a status, header fields and a body.
///
/// The server owns the framing: it removes any `Content-Length`, `Transfer-Encoding` and
/// `Connection` fields the handler set, then writes `Content-Length` for a ``Body/bytes(_:)``
/// body and `Transfer-Encoding: chunked` for a ``Body/stream(_:)`` body (to HTTP/1.0 clients, a
/// stream is delimited by closing the connection instead), `Connection: close` when the
/// connection ends after this response, and `Date` unless the handler set one.
///
/// Threat: header values are checked before anything is written; a name that is not a token or
/// a value holding CR, LF or another control character (response splitting, when a value echoes
/// client input) makes the server send `500` instead.
public struct HTTPResponse: Sendable {
    /// How the body is delivered.
    public enum Body: Sendable {
        /// The whole body, known when the handler returns; sent with `Content-Length`.
        case bytes([UInt8])
        /// A body fed over time. The server calls the closure once, right after the handler
        /// returns and on the same handler thread, with the stream's writer. The closure must
        /// not block: it writes what it has, keeps the writer (it may write from any thread
        /// later) and returns; the body ends when the writer's ``ResponseWriter/finish()`` is
        /// called. It is not called for a `HEAD` request or a status that forbids content.
        case stream(@Sendable (ResponseWriter) -> Void)
    }

    /// The status code, 100–599.
    public var status: Int
    /// The header fields, written in order after the server's own.
    public var headers: HTTPHeaders
    /// The body.
    public var body: Body

    /// Creates a response.
    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Creates a response whose body is the UTF-8 bytes of `text`, with `contentType`.
    public init(status: Int = 200, contentType: String, text: String, headers: HTTPHeaders = HTTPHeaders()) {
        var headers = headers
        headers.set(name: "Content-Type", value: contentType)
        self.init(status: status, headers: headers, body: .bytes(Array(text.utf8)))
    }

    /// An `application/problem+json` error response (RFC 9457).
    ///
    /// The body is `{"type", "title", "status", "detail"}` followed by the `extra` members in
    /// key order (for example `errors` for validation failures). A member of `extra` whose
    /// name is one of the four standard ones is ignored, so that `status` always matches the
    /// status line.
    ///
    /// - Parameters:
    ///   - title: a short summary of the problem type; the status's reason phrase by default,
    ///     which is what RFC 9457 §4.2.1 asks for with the default `type` of `about:blank`.
    ///   - detail: an explanation of this occurrence, for the client; never internal details.
    public static func problem(status: Int, title: String? = nil, detail: String, type: String = "about:blank",
                               extra: [String: JSONValue] = [:], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var document: JSONObject = [
            "type": .string(type),
            "title": .string(title ?? HTTPStatus.reasonPhrase(status)),
            "status": .number(Double(status)),
            "detail": .string(detail),
        ]
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) where document[key] == nil { document[key] = value }
        return HTTPResponse(status: status, contentType: "application/problem+json", text: document.serialized(), headers: headers)
    }
}
