/// Why a document is not accepted by `JSONParser`, and where.
///
/// `offset` is the byte offset of the offending byte (the document's length when input ended
/// too early); `line` and `column` are 1-based, lines separated by LF (so CRLF counts once) and
/// columns counted in Unicode scalars. `message` says what was expected and what was found.
/// `limit` is set when a `JSONLimits` bound was exceeded (the service answers 413 or 422
/// then, and 400 for syntax errors).
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, e.g. "expected ',' or ']' after an array element, found '}'".
    public let message: String
    /// Byte offset into the document, from 0.
    public let offset: Int
    /// Line of `offset`, from 1.
    public let line: Int
    /// Column of `offset` in Unicode scalars, from 1.
    public let column: Int
    /// The bound that was exceeded, or nil for a syntax or encoding error.
    public let limit: JSONLimits.Name?

    /// An error with an explicit position.
    public init(message: String, offset: Int, line: Int, column: Int, limit: JSONLimits.Name? = nil) {
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
        self.limit = limit
    }

    /// An error at `offset` in `document`, its line and column counted from the bytes before it.
    init(_ message: String, at offset: Int, in document: UnsafeBufferPointer<UInt8>, limit: JSONLimits.Name? = nil) {
        var line = 1
        var column = 1
        for byte in document[..<min(offset, document.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        self.init(message: message, offset: offset, line: line, column: column, limit: limit)
    }

    /// "line L, column C: message".
    public var description: String { "line \(line), column \(column): \(message)" }
}
