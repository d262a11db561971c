/// How a request's body is delimited (RFC 9112 §6.3), decided from its header section.
enum BodyFraming: Sendable, Hashable {
    /// No body: neither `Content-Length` nor `Transfer-Encoding` was sent, or the length is 0.
    case none
    /// Exactly this many bytes follow the header section (more than zero).
    case contentLength(Int)
    /// The body is in chunked transfer coding.
    case chunked
}

/// The semantic checks made once a header section is complete: `Host`, framing and
/// connection persistence. Each check refuses what intermediaries are known to read
/// differently, so that this server never disagrees with one about where a request ends.
struct RequestSemantics: Sendable, Hashable {
    var head: HTTPRequestHead
    var framing: BodyFraming
    /// Whether the client waits for `100 Continue` before sending the body.
    var expectsContinue: Bool

    /// Checks the header section of a request whose request line is `requestLine`.
    ///
    /// Framing checks come before `Host`, since a framing fault is the more dangerous one to
    /// misreport.
    init(requestLine: RequestLine, headers: HTTPHeaders, limits: HTTPLimits) throws(HTTPParseError) {
        let version = requestLine.version
        framing = try Self.framing(headers: headers, version: version, limits: limits)
        try Self.checkHost(headers: headers, version: version)

        let connection = headers.lowercasedListElements(named: "Connection")
        let keepAlive = version >= .http1_1
            ? !connection.contains("close")
            : connection.contains("keep-alive") && !connection.contains("close")
        // RFC 9110 §10.1.1: an HTTP/1.0 request's expectations are ignored; in HTTP/1.1 any
        // expectation but 100-continue cannot be met, and is answered 417 rather than ignored,
        // so that a client relying on it learns so.
        let expectations = version >= .http1_1 ? headers.lowercasedListElements(named: "Expect") : []
        guard expectations.allSatisfy({ $0 == "100-continue" }) else { throw .unsupportedExpectation }
        expectsContinue = framing != .none && !expectations.isEmpty

        head = HTTPRequestHead(
            method: requestLine.method, target: requestLine.target, path: requestLine.parsedTarget.path,
            queryItems: requestLine.parsedTarget.queryItems, version: version, headers: headers,
            keepAlive: keepAlive)
    }

    /// RFC 9112 §6.1–6.3, strictly: only `chunked` alone, or one agreed `Content-Length`.
    private static func framing(headers: HTTPHeaders, version: HTTPVersion, limits: HTTPLimits) throws(HTTPParseError) -> BodyFraming {
        let transferEncodings = headers.values(named: "Transfer-Encoding")
        let contentLengths = headers.values(named: "Content-Length")
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else { throw .contentLengthWithTransferEncoding }
            guard version >= .http1_1 else { throw .transferEncodingInHTTP10 }
            try checkTransferCodings(transferEncodings)
            return .chunked
        }
        guard !contentLengths.isEmpty else { return .none }
        let length = try contentLength(contentLengths)
        guard length <= limits.maxBodyLength else { throw .bodyTooLarge }
        return length == 0 ? .none : .contentLength(length)
    }

    /// Accepts exactly one `chunked`, last; refuses empty elements rather than skipping them.
    private static func checkTransferCodings(_ values: [String]) throws(HTTPParseError) {
        var codings: [ArraySlice<UInt8>] = []
        for value in values {
            codings += HTTPSyntax.listElements(ArraySlice(value.utf8))
        }
        guard codings.allSatisfy({ !$0.isEmpty }) else { throw .malformedTransferEncoding }
        let chunked = Array("chunked".utf8)
        let isChunked = codings.map { HTTPSyntax.equalsIgnoringASCIICase($0, chunked) }
        if isChunked.filter({ $0 }).count > 1 { throw .chunkedRepeated }
        if isChunked.contains(true) && isChunked.last != true { throw .chunkedNotFinal }
        for (coding, isChunked) in zip(codings, isChunked) where !isChunked {
            // A coding with parameters (`gzip;q=1`) or other non-token bytes is malformed, not unknown.
            guard coding.allSatisfy(HTTPSyntax.isTokenCharacter) else { throw .malformedTransferEncoding }
            throw .unsupportedTransferCoding
        }
    }

    /// The single length that every `Content-Length` element agrees on.
    ///
    /// Equal repeats, on separate lines or as a list (`5, 5`), are accepted as one value, as
    /// RFC 9110 §8.6 permits; every element must be `1*DIGIT` — no sign, no inner space.
    private static func contentLength(_ values: [String]) throws(HTTPParseError) -> Int {
        var agreed: Int?
        for value in values {
            for element in HTTPSyntax.listElements(ArraySlice(value.utf8)) {
                guard !element.isEmpty, element.allSatisfy(HTTPSyntax.isDigit) else { throw .invalidContentLength }
                var length = 0
                for digit in element {
                    let (shifted, overflowA) = length.multipliedReportingOverflow(by: 10)
                    let (sum, overflowB) = shifted.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
                    if overflowA || overflowB { throw .contentLengthOverflow }
                    length = sum
                }
                if let agreed, agreed != length { throw .conflictingContentLength }
                agreed = length
            }
        }
        return agreed ?? 0
    }

    /// RFC 9112 §3.2: exactly one `Host` in HTTP/1.1, at most one in HTTP/1.0. An empty value
    /// is allowed, as the RFC prescribes it when the target URI has no authority.
    private static func checkHost(headers: HTTPHeaders, version: HTTPVersion) throws(HTTPParseError) {
        let hosts = headers.values(named: "Host")
        guard hosts.count <= 1 else { throw .multipleHosts }
        guard let host = hosts.first else {
            if version >= .http1_1 { throw .missingHost }
            return
        }
        guard host.utf8.allSatisfy(HTTPSyntax.isHostCharacter) else { throw .invalidHost }
    }
}
