/// What the parser found in the bytes it was fed, in stream order.
public enum HTTPParserEvent: Sendable, Hashable {
    /// The client sent `Expect: 100-continue` (HTTP/1.1, with a body to follow) and is waiting:
    /// the server should now answer `100 Continue` — or a final status, then close — before the
    /// body arrives. Emitted once per such request, right after its header section, even if
    /// body bytes were already in the same buffer (answering `100` then is harmless).
    case continueExpected(HTTPRequestHead)
    /// A complete request. Requests are emitted in the order they were sent, so pipelined
    /// responses can be written in the same order.
    case request(HTTPRequest)
    /// The stream is not acceptable HTTP/1.1; always the last event. Answer with the error's
    /// status and close the connection: the parser is poisoned and reads no further bytes.
    case failure(HTTPParseError)
}
