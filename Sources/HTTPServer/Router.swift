/// Maps a request's method and path to a handler.
///
/// ```swift
/// var router = Router()
/// router.add("GET", "/v1/jobs/{id}") { request, parameters in … }
/// let server = HTTPServer(configuration: configuration, responder: router)
/// ```
///
/// A path that matches no pattern is answered `404`; a path that matches some pattern but not
/// for this method is answered `405` with `Allow` listing the methods that pattern accepts
/// (RFC 9110 §15.5.6). Both are `application/problem+json`. A `HEAD` request is served by the
/// `GET` handler when no `HEAD` route exists (the server then sends the head only), and `Allow`
/// lists `HEAD` wherever `GET` is allowed. When several patterns match, the most specific wins
/// (a literal segment over a parameter at the first difference).
///
/// The router is a value: build it at start-up, then hand it to the server, after which it is
/// immutable and shared by every handler thread.
public struct Router: HTTPResponder {
    /// A handler: the request, and the values its path bound to the route's parameters.
    public typealias Handler = @Sendable (HTTPRequest, PathParameters) -> HTTPResponse
    /// A route's check of a request head before its body is read (see
    /// ``HTTPResponder/admit(_:)``): `nil` to read the body, or the response to send instead.
    public typealias Admission = @Sendable (HTTPRequestHead, PathParameters) -> HTTPResponse?

    /// One entry of the route table.
    public struct Route: Sendable, CustomStringConvertible {
        /// The method token, e.g. `GET`.
        public let method: String
        /// The path pattern.
        public let pattern: PathPattern
        let admission: Admission?
        let handler: Handler

        /// `METHOD /pattern`.
        public var description: String { "\(method) \(pattern)" }
    }

    /// Every route, in the order added, e.g. to compare with an OpenAPI description.
    public private(set) var routes: [Route] = []

    /// Creates an empty router.
    public init() {}

    /// Adds a route for `method` (case-sensitive, as methods are) and `pattern`; `admission`,
    /// when given, checks a request's head before its body is read.
    ///
    /// - Precondition: no route with the same method and an equivalent pattern exists.
    public mutating func add(_ method: String, _ pattern: String, admission: Admission? = nil, handler: @escaping Handler) {
        let parsed = PathPattern(pattern)
        precondition(!routes.contains { $0.method == method && $0.pattern.isEquivalent(to: parsed) },
                     "duplicate route \(method) \(pattern)")
        routes.append(Route(method: method, pattern: parsed, admission: admission, handler: handler))
    }

    /// The most specific route matching `path` for `method`, with its bound parameters; or,
    /// when no route matches for that method, the methods allowed for the path (empty when
    /// the path matches nothing at all).
    func resolve(method: String, path: String) -> Result<(Route, PathParameters), AllowedMethods> {
        var best: (Route, PathParameters)?
        var fallback: (Route, PathParameters)?
        var allowed: [String] = []
        let parts = PathPattern.segments(of: path) ?? []
        for route in routes where !parts.isEmpty {
            guard let parameters = route.pattern.match(segments: parts) else { continue }
            allowed.append(route.method)
            if route.method == method {
                if best.map({ route.pattern.isMoreSpecific(than: $0.0.pattern) }) ?? true { best = (route, parameters) }
            } else if method == "HEAD" && route.method == "GET" {
                if fallback.map({ route.pattern.isMoreSpecific(than: $0.0.pattern) }) ?? true { fallback = (route, parameters) }
            }
        }
        if let match = best ?? fallback { return .success(match) }
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        var seen = Set<String>()
        return .failure(AllowedMethods(methods: allowed.filter { seen.insert($0).inserted }))
    }

    /// Routes `request` and runs its handler, or answers `404` or `405`.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        respondLabelled(to: request).response
    }

    /// Like ``respond(to:)``, and also names the route pattern that served the request
    /// (`/v1/jobs/{id}`), or `nil` when it was answered 404 or 405: a label of bounded
    /// cardinality for request metrics, found by the same single resolution.
    public func respondLabelled(to request: HTTPRequest) -> (response: HTTPResponse, route: String?) {
        switch resolve(method: request.method, path: request.path) {
        case .success(let (route, parameters)):
            return (route.handler(request, parameters), route.pattern.description)
        case .failure(let allowed):
            return (Self.unrouted(method: request.method, path: request.path, allowed: allowed), nil)
        }
    }

    /// The route's admission of a request head (see ``HTTPResponder/admit(_:)``): a path that
    /// matches no route is answered 404 or 405 at once, without its body.
    public func admit(_ head: HTTPRequestHead) -> HTTPResponse? {
        admitLabelled(head).response
    }

    /// Like ``admit(_:)``, and also names the route pattern, as ``respondLabelled(to:)`` does.
    public func admitLabelled(_ head: HTTPRequestHead) -> (response: HTTPResponse?, route: String?) {
        switch resolve(method: head.method, path: head.path) {
        case .success(let (route, parameters)):
            return (route.admission?(head, parameters), route.pattern.description)
        case .failure(let allowed):
            return (Self.unrouted(method: head.method, path: head.path, allowed: allowed), nil)
        }
    }

    /// `404` for a path no route matches, `405` with `Allow` for a method no route takes there.
    private static func unrouted(method: String, path: String, allowed: AllowedMethods) -> HTTPResponse {
        if allowed.methods.isEmpty {
            return .problem(status: 404, detail: "no resource at \(path)")
        }
        return .problem(status: 405, detail: "\(method) is not allowed on \(path)",
                        headers: ["Allow": allowed.methods.joined(separator: ", ")])
    }
}

/// The methods a path allows, when it was requested with another.
struct AllowedMethods: Error, Hashable {
    var methods: [String]
}
