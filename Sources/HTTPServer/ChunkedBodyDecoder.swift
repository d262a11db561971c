/// Decodes a chunked request body (RFC 9112 §7.1) as its bytes arrive.
///
/// Chunk extensions are checked for stray control bytes and then ignored; trailer fields are
/// parsed with the header rules, charged to the header section's remaining budget, and
/// discarded, so a trailer can never add or change a header the server acts on.
struct ChunkedBodyDecoder: Sendable {
    /// Where the decoder is within the chunked body.
    enum State: Sendable, Hashable {
        /// Expecting a chunk-size line: `1*HEXDIG [ chunk-ext ] CRLF`.
        case chunkSize
        /// Inside a chunk's data, with this many bytes (more than zero) still to come.
        case chunkData(remaining: Int)
        /// After a chunk's data, expecting the CRLF that must end it.
        case chunkDataEnd
        /// After the last (zero-size) chunk, reading trailer field lines until an empty line.
        case trailers
        /// The empty line after the trailers has been read: the body is complete.
        case complete
    }

    private(set) var state = State.chunkSize
    /// The decoded body so far.
    private(set) var body: [UInt8] = []
    private let limits: HTTPLimits
    private var trailerBudget: FieldBudget

    /// Creates a decoder whose trailers may use what `budget` has left after the header section.
    init(limits: HTTPLimits, budget: FieldBudget) {
        self.limits = limits
        self.trailerBudget = budget
    }

    /// Decodes as much of `input` as has arrived.
    ///
    /// - Returns: `true` once the body, including its trailer section, is complete; then no
    ///   byte after it has been read.
    mutating func decode(from input: inout InputBuffer) throws(HTTPParseError) -> Bool {
        while true {
            switch state {
            case .chunkSize:
                guard let line = try input.readLine(maxLength: limits.maxChunkLineLength, tooLong: .chunkLineTooLong) else {
                    return false
                }
                let size = try Self.chunkSize(line)
                if size == 0 {
                    state = .trailers
                } else {
                    guard size <= limits.maxBodyLength - body.count else { throw .bodyTooLarge }
                    body.reserveCapacity(body.count + min(size, 64 * 1024))
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                guard !input.isEmpty else { return false }
                let bytes = input.read(upTo: remaining)
                body.append(contentsOf: bytes)
                state = bytes.count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - bytes.count)
            case .chunkDataEnd:
                guard try input.readLine(maxLength: 0, tooLong: .missingChunkTerminator) != nil else { return false }
                state = .chunkSize
            case .trailers:
                guard let line = try trailerBudget.readLine(from: &input) else { return false }
                if line.isEmpty {
                    state = .complete
                } else {
                    _ = try FieldLine.parse(line)
                }
            case .complete:
                return true
            }
        }
    }

    /// Parses `chunk-size [ chunk-ext ]` (RFC 9112 §7.1.1) with overflow checks.
    ///
    /// After the hex digits only `BWS ";"` may follow, and the extension text may hold no
    /// control bytes other than tab; a sign, `0x` prefix, or trailing whitespace is refused.
    static func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = HTTPSyntax.hexValue(line[index]) {
            let (shifted, overflowA) = size.multipliedReportingOverflow(by: 16)
            let (sum, overflowB) = shifted.addingReportingOverflow(digit)
            if overflowA || overflowB { throw .chunkSizeOverflow }
            size = sum
            index += 1
        }
        guard index > line.startIndex else { throw .invalidChunkSize }
        let rest = line[index...]
        guard let separator = rest.firstIndex(where: { !HTTPSyntax.isOptionalWhitespace($0) }) else {
            guard rest.isEmpty else { throw .invalidChunkSize }
            return size
        }
        guard rest[separator] == HTTPSyntax.semicolon,
              rest[separator...].allSatisfy(HTTPSyntax.isFieldValueCharacter)
        else { throw .invalidChunkSize }
        return size
    }
}
