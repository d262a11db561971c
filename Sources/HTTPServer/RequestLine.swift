/// The first line of a request, `method SP request-target SP HTTP-version` (RFC 9112 §3),
/// checked byte by byte.
struct RequestLine: Sendable, Hashable {
    var method: String
    var target: String
    var parsedTarget: RequestTarget
    var version: HTTPVersion

    /// Parses a request line without its CRLF.
    ///
    /// Checks run left to right — shape, method, target, version — so the error names the
    /// first fault. Exactly two single spaces separate the parts: RFC 9112 §3 lets a server
    /// accept other whitespace, which this one refuses as a smuggling vector.
    init(parsing line: ArraySlice<UInt8>) throws(HTTPParseError) {
        let parts = line.split(separator: HTTPSyntax.space, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { throw .malformedRequestLine }
        let (methodBytes, targetBytes, versionBytes) = (parts[0], parts[1], parts[2])

        guard methodBytes.allSatisfy(HTTPSyntax.isTokenCharacter) else { throw .invalidMethod }
        method = String(decoding: methodBytes, as: UTF8.self)

        guard targetBytes.allSatisfy(HTTPSyntax.isTargetCharacter) else { throw .invalidTarget }
        target = String(decoding: targetBytes, as: UTF8.self)
        parsedTarget = try RequestTarget(parsing: targetBytes, method: method)

        version = try Self.parseVersion(versionBytes)
    }

    /// Parses `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3) and accepts major version 1.
    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let prefix = Array("HTTP/".utf8)
        guard bytes.count == 8, bytes.starts(with: prefix) else { throw .malformedVersion }
        let major = bytes[bytes.startIndex + 5]
        let dot = bytes[bytes.startIndex + 6]
        let minor = bytes[bytes.startIndex + 7]
        guard HTTPSyntax.isDigit(major), dot == UInt8(ascii: "."), HTTPSyntax.isDigit(minor) else {
            throw .malformedVersion
        }
        let version = HTTPVersion(major: Int(major - UInt8(ascii: "0")), minor: Int(minor - UInt8(ascii: "0")))
        guard version.major == 1 else { throw .unsupportedVersion }
        return version
    }
}
