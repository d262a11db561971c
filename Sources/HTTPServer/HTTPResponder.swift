/// Whatever answers requests for a server: a ``Router``, or any type with one method.
///
/// ``respond(to:)`` runs on the server's handler queue, several at once, never on its I/O
/// queue; it may take time (a slow handler delays only its own connection) but should not block
/// indefinitely, since the server runs a bounded number of handlers at a time.
public protocol HTTPResponder: Sendable {
    /// The response to `request`.
    func respond(to request: HTTPRequest) -> HTTPResponse
}
