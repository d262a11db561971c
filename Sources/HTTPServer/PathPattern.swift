/// A route's path template such as `/v1/jobs/{id}/events`: `/`-separated segments, each a
/// literal or a `{name}` parameter that matches exactly one non-empty segment.
///
/// Matching is against the request's percent-decoded path, segment by segment and
/// case-sensitively; there is no wildcard and no trailing-slash folding, so `/v1/jobs/` does
/// not match `/v1/jobs`.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// One segment of a pattern.
    public enum Segment: Sendable, Hashable {
        /// Matches exactly this text.
        case literal(String)
        /// Matches any one non-empty segment and binds it to this name.
        case parameter(String)
    }

    /// The segments after the leading `/`.
    public let segments: [Segment]
    /// The pattern as written.
    public let description: String

    /// Parses `pattern`.
    ///
    /// - Precondition: `pattern` starts with `/`; a parameter segment is `{name}` with a
    ///   non-empty name, and no name is used twice. A malformed route table is a programming
    ///   error, found at start-up.
    public init(_ pattern: String) {
        precondition(pattern.hasPrefix("/"), "route pattern \(pattern) must start with /")
        var names = Set<String>()
        segments = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { part in
            guard part.contains("{") || part.contains("}") else {
                return .literal(String(part))
            }
            let name = String(part.dropFirst().dropLast())
            precondition(part.hasPrefix("{") && part.hasSuffix("}") && !name.isEmpty
                && !name.contains("{") && !name.contains("}"), "malformed parameter \(part) in route \(pattern)")
            precondition(names.insert(name).inserted, "parameter \(name) repeated in route \(pattern)")
            return .parameter(name)
        }
        description = pattern
    }

    /// The parameters bound by matching `path`, or `nil` if it does not match.
    public func match(_ path: String) -> PathParameters? {
        guard let parts = Self.segments(of: path) else { return nil }
        return match(segments: parts)
    }

    /// `path`'s segments after the leading `/` as UTF-8 slices (split once per request and
    /// shared by every route tried), or `nil` when it does not start with `/`.
    static func segments(of path: String) -> [Substring.UTF8View]? {
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        return path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
    }

    /// The parameters bound by matching a path already split by ``segments(of:)``. Literals
    /// compare byte for byte.
    func match(segments parts: [Substring.UTF8View]) -> PathParameters? {
        guard parts.count == segments.count else { return nil }
        var bound: [(name: String, value: String)] = []
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text):
                guard part.elementsEqual(text.utf8) else { return nil }
            case .parameter(let name):
                guard !part.isEmpty else { return nil }
                bound.append((name, String(Substring(part))))
            }
        }
        return PathParameters(bound)
    }

    /// Orders patterns from most to least specific: at the first segment where they differ in
    /// kind, a literal beats a parameter. So `/v1/jobs/stats` wins over `/v1/jobs/{id}`.
    func isMoreSpecific(than other: PathPattern) -> Bool {
        for (mine, theirs) in zip(segments, other.segments) {
            switch (mine, theirs) {
            case (.literal, .parameter): return true
            case (.parameter, .literal): return false
            default: continue
            }
        }
        return false
    }

    /// Whether both patterns match exactly the same paths (they differ at most in parameter names).
    func isEquivalent(to other: PathPattern) -> Bool {
        segments.count == other.segments.count && zip(segments, other.segments).allSatisfy { mine, theirs in
            switch (mine, theirs) {
            case (.literal(let a), .literal(let b)): a == b
            case (.parameter, .parameter): true
            default: false
            }
        }
    }
}

/// The values a request path bound to a pattern's parameters, by name.
public struct PathParameters: Sendable, Hashable {
    private let values: [String: String]

    /// Creates parameters from name–value pairs.
    public init(_ pairs: [(name: String, value: String)] = []) {
        values = Dictionary(pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The value bound to `name`, or `nil` if the pattern has no such parameter.
    public subscript(name: String) -> String? { values[name] }

    /// The number of bound parameters.
    public var count: Int { values.count }
}
