/// Everything about a request except its body: what the parser knows when the header section
/// ends, and so what the server sees when it must decide whether to answer `100 Continue`.
public struct HTTPRequestHead: Sendable, Hashable {
    /// The method token, case-sensitive as sent (e.g. `GET`).
    public var method: String
    /// The request target exactly as sent (e.g. `/v1/jobs?status=running`).
    public var target: String
    /// The target's path, percent-decoded; a `+` stays a plus sign. `*` for `OPTIONS *`.
    public var path: String
    /// The target's query pairs in order, percent-decoded with `+` read as a space.
    public var queryItems: [HTTPQueryItem]
    /// The version from the request line.
    public var version: HTTPVersion
    /// The header fields in received order (trailers of a chunked body are not included).
    public var headers: HTTPHeaders
    /// Whether the connection may carry another request after this one's response
    /// (RFC 9112 §9.3): for HTTP/1.1 unless `Connection` lists `close`; for HTTP/1.0 only if
    /// `Connection` lists `keep-alive` and not `close`.
    public var keepAlive: Bool

    /// Creates a request head.
    public init(method: String, target: String, path: String, queryItems: [HTTPQueryItem],
                version: HTTPVersion, headers: HTTPHeaders, keepAlive: Bool) {
        self.method = method
        self.target = target
        self.path = path
        self.queryItems = queryItems
        self.version = version
        self.headers = headers
        self.keepAlive = keepAlive
    }

    /// The value of the first query item named `name`, or `nil` if there is none.
    public func queryValue(named name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }
}

/// A complete request: its head and its whole body, decoded from chunked form if it was sent so.
public struct HTTPRequest: Sendable, Hashable {
    /// The request line and header fields.
    public var head: HTTPRequestHead
    /// The body bytes; empty when the request had none.
    public var body: [UInt8]

    /// Creates a request.
    public init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }

    /// The method token, e.g. `POST`.
    public var method: String { head.method }
    /// The request target exactly as sent.
    public var target: String { head.target }
    /// The percent-decoded path.
    public var path: String { head.path }
    /// The decoded query pairs in order.
    public var queryItems: [HTTPQueryItem] { head.queryItems }
    /// The version from the request line.
    public var version: HTTPVersion { head.version }
    /// The header fields in received order.
    public var headers: HTTPHeaders { head.headers }
    /// Whether the connection may carry another request after this one.
    public var keepAlive: Bool { head.keepAlive }
}
