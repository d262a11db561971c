/// Why the parser refused a request, with the status the server must answer.
///
/// Every error ends the connection: after one, the parser is poisoned and reads nothing more,
/// because once framing is in doubt the next byte could be the start of a smuggled request.
/// The server answers ``status`` with an `application/problem+json` body whose `detail` is
/// ``reason``, sends `Connection: close`, and closes.
public enum HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    // MARK: Line syntax

    /// A CR not followed by LF (RFC 9112 §2.2).
    case bareCR
    /// A line ended by LF alone. RFC 9112 §2.2 lets a recipient accept it; this server refuses
    /// it, so that it never frames a message differently from a stricter intermediary.
    case bareLF

    // MARK: Request line

    /// The request line is not exactly `method SP request-target SP HTTP-version`.
    case malformedRequestLine
    /// The method is empty or holds a byte that is not a token character.
    case invalidMethod
    /// The request target holds a byte outside the URI grammar (including `#`, controls and
    /// non-ASCII bytes).
    case invalidTarget
    /// The target is in absolute or authority form; this server takes origin form only.
    case targetNotOriginForm
    /// `*` as the target of a method other than OPTIONS.
    case asteriskTargetNotAllowed
    /// A `%` in the target not followed by two hexadecimal digits.
    case invalidPercentEncoding
    /// The percent-decoded path or query is not valid UTF-8.
    case targetNotUTF8
    /// The version is not `HTTP/DIGIT.DIGIT` (case-sensitive, RFC 9112 §2.3).
    case malformedVersion
    /// A well-formed version other than HTTP/1.x.
    case unsupportedVersion
    /// The request line is longer than ``HTTPLimits/maxRequestLineLength``.
    case requestLineTooLong
    /// More empty lines before a request line than ``HTTPLimits/maxRequestLineLength`` bytes.
    case tooManyEmptyLines

    // MARK: Field lines

    /// A field line starting with whitespace: obsolete line folding (RFC 9112 §5.2).
    case obsoleteLineFolding
    /// A field line without a colon.
    case missingColon
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    case whitespaceBeforeColon
    /// A field name that is empty or holds a byte that is not a token character.
    case invalidFieldName
    /// A control character (other than horizontal tab) or DEL in a field value.
    case invalidFieldValue
    /// The header section, with trailers, exceeds ``HTTPLimits/maxHeaderSectionLength``.
    case headerSectionTooLarge
    /// More field lines than ``HTTPLimits/maxHeaderFieldCount``.
    case tooManyFields

    // MARK: Host

    /// An HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    case missingHost
    /// More than one `Host` field.
    case multipleHosts
    /// A `Host` value with a byte outside the URI host and port grammar.
    case invalidHost

    // MARK: Framing

    /// Both `Content-Length` and `Transfer-Encoding`: the classic request-smuggling shape.
    case contentLengthWithTransferEncoding
    /// A `Content-Length` element that is not one or more decimal digits (no sign, no space).
    case invalidContentLength
    /// A `Content-Length` larger than `Int.max`.
    case contentLengthOverflow
    /// `Content-Length` values that differ (equal repeats are accepted as one value).
    case conflictingContentLength
    /// `Transfer-Encoding` with an empty value, an empty list element or a non-token coding.
    case malformedTransferEncoding
    /// A transfer coding after `chunked`: the body's end could not be found (RFC 9112 §6.3).
    case chunkedNotFinal
    /// `chunked` listed more than once (RFC 9112 §7).
    case chunkedRepeated
    /// A well-formed transfer coding this server does not implement (anything but `chunked`).
    case unsupportedTransferCoding
    /// `Transfer-Encoding` in an HTTP/1.0 request, whose framing RFC 9112 §6.1 calls faulty.
    case transferEncodingInHTTP10
    /// The body exceeds ``HTTPLimits/maxBodyLength``.
    case bodyTooLarge

    // MARK: Chunked body

    /// A chunk-size line that is not `1*HEXDIG [ chunk-ext ]`.
    case invalidChunkSize
    /// A chunk size larger than `Int.max`.
    case chunkSizeOverflow
    /// A chunk-size line longer than ``HTTPLimits/maxChunkLineLength``.
    case chunkLineTooLong
    /// Chunk data not followed by CRLF.
    case missingChunkTerminator

    // MARK: Expectations

    /// An `Expect` field (HTTP/1.1) with an expectation other than `100-continue`
    /// (RFC 9110 §10.1.1), which this server cannot meet.
    case unsupportedExpectation

    // MARK: Connection

    /// The peer ended the stream in the middle of a request.
    case incompleteRequest

    /// The HTTP status the server must answer.
    public var status: Int {
        switch self {
        case .requestLineTooLong: 414
        case .headerSectionTooLarge, .tooManyFields: 431
        case .bodyTooLarge: 413
        case .unsupportedExpectation: 417
        case .unsupportedTransferCoding: 501
        case .unsupportedVersion: 505
        default: 400
        }
    }

    /// A short, fixed, client-facing explanation for a problem+json `detail`.
    public var reason: String {
        switch self {
        case .bareCR: "bare CR in request"
        case .bareLF: "line not terminated by CRLF"
        case .malformedRequestLine: "malformed request line"
        case .invalidMethod: "invalid method"
        case .invalidTarget: "invalid character in request target"
        case .targetNotOriginForm: "request target must be an absolute path"
        case .asteriskTargetNotAllowed: "asterisk request target is only allowed with OPTIONS"
        case .invalidPercentEncoding: "invalid percent-encoding in request target"
        case .targetNotUTF8: "request target is not UTF-8"
        case .malformedVersion: "malformed HTTP version"
        case .unsupportedVersion: "HTTP version not supported"
        case .requestLineTooLong: "request line too long"
        case .tooManyEmptyLines: "too many empty lines before request line"
        case .obsoleteLineFolding: "obsolete line folding in header"
        case .missingColon: "header line without colon"
        case .whitespaceBeforeColon: "whitespace between header name and colon"
        case .invalidFieldName: "invalid header name"
        case .invalidFieldValue: "control character in header value"
        case .headerSectionTooLarge: "header section too large"
        case .tooManyFields: "too many header fields"
        case .missingHost: "missing Host header"
        case .multipleHosts: "more than one Host header"
        case .invalidHost: "invalid Host header"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
        case .invalidContentLength: "invalid Content-Length"
        case .contentLengthOverflow: "Content-Length too large to represent"
        case .conflictingContentLength: "conflicting Content-Length values"
        case .malformedTransferEncoding: "malformed Transfer-Encoding"
        case .chunkedNotFinal: "chunked is not the final transfer coding"
        case .chunkedRepeated: "chunked applied more than once"
        case .unsupportedTransferCoding: "unsupported transfer coding"
        case .transferEncodingInHTTP10: "Transfer-Encoding in HTTP/1.0 request"
        case .bodyTooLarge: "request body too large"
        case .invalidChunkSize: "invalid chunk size"
        case .chunkSizeOverflow: "chunk size too large to represent"
        case .chunkLineTooLong: "chunk size line too long"
        case .missingChunkTerminator: "chunk data not followed by CRLF"
        case .unsupportedExpectation: "expectation not supported (only Expect: 100-continue)"
        case .incompleteRequest: "connection closed before request was complete"
        }
    }

    /// `status reason`, for logs.
    public var description: String { "\(status) \(reason)" }
}
