/// Whatever answers requests for a server: a ``Router``, or any type with one method.
///
/// ``respond(to:)`` runs on the server's handler queue, several at once, never on its I/O
/// queue; it may take time (a slow handler delays only its own connection) but should not block
/// indefinitely, since the server runs a bounded number of handlers at a time.
public protocol HTTPResponder: Sendable {
    /// The response to `request`.
    func respond(to request: HTTPRequest) -> HTTPResponse

    /// Whether the body of a request with this head is to be read at all: `nil` reads it (and
    /// answers `100 Continue` when the client waits for one), a response is sent instead and
    /// the body never read — the connection closes after it, since the unread body cannot be
    /// framed. The server asks as soon as the header section of a request with a body is
    /// complete, so that a request that would be refused anyway (no API key, unknown route,
    /// wrong media type) costs no buffered body.
    ///
    /// Called on one of the server's I/O queues: it must be quick and never block (a lookup,
    /// a digest). The default reads every body.
    func admit(_ head: HTTPRequestHead) -> HTTPResponse?
}

extension HTTPResponder {
    /// Reads every body.
    public func admit(_ head: HTTPRequestHead) -> HTTPResponse? { nil }
}
