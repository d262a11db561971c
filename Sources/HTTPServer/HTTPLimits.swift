/// The sizes a single request may reach before the parser refuses it.
///
/// Every limit bounds the memory and CPU one connection can claim before the server has seen a
/// complete request, so that a thousand hostile connections cannot exhaust the process. The
/// defaults are the service's documented limits (docs/api.md); all can be changed per server.
public struct HTTPLimits: Sendable, Hashable {
    /// The longest request line, in bytes, not counting its CRLF. Default 8 KiB.
    ///
    /// Threat: a client that streams an endless request line (or endless empty lines before
    /// it) to make the server buffer it. Exceeding it is answered `414 URI Too Long`.
    public var maxRequestLineLength: Int

    /// The most bytes of field lines in the header section, not counting line endings, shared
    /// with the trailer section of a chunked body. Default 16 KiB.
    ///
    /// Threat: memory exhaustion by huge or numerous header values, and trailers used to smuggle
    /// the same bytes in after the body. Exceeding it is answered
    /// `431 Request Header Fields Too Large`.
    public var maxHeaderSectionLength: Int

    /// The most field lines in the header section, shared with the trailer section. Default 100.
    ///
    /// Threat: CPU spent on lookups and allocations for thousands of tiny fields (hash and list
    /// blow-up) that would fit the byte limit. Exceeding it is answered `431`.
    public var maxHeaderFieldCount: Int

    /// The largest request body, in bytes, after chunked decoding. Default 64 MiB.
    ///
    /// Threat: a client that declares or streams an unbounded body to fill memory, since the
    /// whole body is held before the request is handed on. A `Content-Length` over the limit is
    /// refused as soon as the header section ends, before any body byte is read; a chunked body
    /// is refused at the first chunk size that would cross it. Answered `413 Content Too Large`.
    public var maxBodyLength: Int

    /// The longest chunk-size line of a chunked body (hex size plus chunk extensions), not
    /// counting its CRLF. Default 1 KiB.
    ///
    /// Threat: chunk extensions are read and ignored, so without a bound a client could stream
    /// endless extension bytes that cost buffering but never count toward the body limit.
    /// Exceeding it is answered `400 Bad Request`.
    public var maxChunkLineLength: Int

    /// Creates limits; every argument defaults to the service's documented value.
    ///
    /// - Precondition: every limit is positive; the body limit may be zero.
    public init(
        maxRequestLineLength: Int = 8 * 1024,
        maxHeaderSectionLength: Int = 16 * 1024,
        maxHeaderFieldCount: Int = 100,
        maxBodyLength: Int = 64 * 1024 * 1024,
        maxChunkLineLength: Int = 1024
    ) {
        precondition(maxRequestLineLength > 0 && maxHeaderSectionLength > 0 && maxHeaderFieldCount > 0
            && maxBodyLength >= 0 && maxChunkLineLength > 0, "HTTP limits must be positive")
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeaderSectionLength = maxHeaderSectionLength
        self.maxHeaderFieldCount = maxHeaderFieldCount
        self.maxBodyLength = maxBodyLength
        self.maxChunkLineLength = maxChunkLineLength
    }
}
