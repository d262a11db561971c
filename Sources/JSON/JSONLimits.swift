/// Bounds on what `JSONParser` accepts, so that a hostile document costs bounded time and memory.
///
/// Exceeding a bound is a `JSONParseError` whose `limit` names it and whose message states the
/// bound's value. Every bound is inclusive: a document exactly at a bound is accepted.
public struct JSONLimits: Equatable, Sendable {
    /// The name of one bound, as reported in `JSONParseError.limit`.
    public enum Name: String, Equatable, Sendable, CaseIterable {
        case maxDepth, maxBytes, maxStringBytes, maxArrayLength, maxMembers, maxNumberBytes
    }

    /// Most arrays and objects open at once (the top-level container is depth 1). Values are
    /// compared, written and freed recursively, so keep this in the hundreds at most.
    public var maxDepth: Int
    /// Most bytes in the whole document.
    public var maxBytes: Int
    /// Most UTF-8 bytes in one string or key after escapes are decoded.
    public var maxStringBytes: Int
    /// Most elements in one array.
    public var maxArrayLength: Int
    /// Most members in one object.
    public var maxMembers: Int
    /// Most characters in one number's text (767 significant digits already decide any double).
    public var maxNumberBytes: Int

    /// Bounds with the given values; the defaults suit job specs with large data arrays.
    public init(
        maxDepth: Int = 64,
        maxBytes: Int = 16 << 20,
        maxStringBytes: Int = 1 << 20,
        maxArrayLength: Int = 1 << 22,
        maxMembers: Int = 10_000,
        maxNumberBytes: Int = 1024
    ) {
        self.maxDepth = maxDepth
        self.maxBytes = maxBytes
        self.maxStringBytes = maxStringBytes
        self.maxArrayLength = maxArrayLength
        self.maxMembers = maxMembers
        self.maxNumberBytes = maxNumberBytes
    }

    /// Depth 64, 16 MiB documents, 1 MiB strings, 4 Mi array elements, 10,000 members,
    /// 1024-character numbers.
    public static let `default` = JSONLimits()

    /// The value of the named bound.
    public subscript(name: Name) -> Int {
        switch name {
        case .maxDepth: maxDepth
        case .maxBytes: maxBytes
        case .maxStringBytes: maxStringBytes
        case .maxArrayLength: maxArrayLength
        case .maxMembers: maxMembers
        case .maxNumberBytes: maxNumberBytes
        }
    }
}
