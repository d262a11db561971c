/// The protocol version of a request line, `HTTP/major.minor` (RFC 9110 §2.5).
///
/// The parser accepts major version 1 only; a minor version above 1 is kept as sent and treated
/// as HTTP/1.1, as RFC 9110 §2.5 asks of a recipient.
public struct HTTPVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The major version, a single digit.
    public var major: Int
    /// The minor version, a single digit.
    public var minor: Int

    /// Creates a version from its two digits.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: no persistent connections unless asked for, no chunked requests.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1: persistent connections by default, `Host` required.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// Orders by major, then minor version.
    public static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    /// The version as it appears on the wire, e.g. `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }
}
