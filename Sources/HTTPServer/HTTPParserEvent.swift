/// What the parser found in the bytes it was fed, in stream order.
public enum HTTPParserEvent: Sendable, Hashable {
    /// A request with a body: its head, right after the header section and before any body
    /// byte is read, so that a server can refuse it (authentication, size, media type) without
    /// buffering the body. `declaredLength` is its `Content-Length` (`nil` for a chunked body).
    /// With `expectsContinue` the client sent `Expect: 100-continue` (HTTP/1.1) and waits: the
    /// server should now answer `100 Continue` — or a final status, then close — before the body
    /// arrives (answering `100` when body bytes were already in the same buffer is harmless).
    /// Emitted once per request with a body, even if the whole body arrived in the same buffer.
    case bodyFollows(HTTPRequestHead, declaredLength: Int?, expectsContinue: Bool)
    /// A complete request. Requests are emitted in the order they were sent, so pipelined
    /// responses can be written in the same order.
    case request(HTTPRequest)
    /// The stream is not acceptable HTTP/1.1; always the last event. Answer with the error's
    /// status and close the connection: the parser is poisoned and reads no further bytes.
    case failure(HTTPParseError)
}
