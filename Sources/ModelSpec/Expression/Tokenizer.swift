/// Splits an expression into tokens, one at a time, left to right.
///
/// Numbers are non-negative decimals with an optional fraction and exponent. Besides the JSON
/// forms (`2`, `0.5`, `1e-3`, `1.5E+2`) it accepts the Python-style `.5` and `2.`; a sign is
/// never part of a literal (`-1` is unary minus applied to `1`). A number running straight into
/// letters, digits or dots (`2x`, `1.2.3`, `1e`) is an error rather than two tokens, and so is
/// a literal too large for a `Double`. Whitespace is space, tab, newline and carriage return.
public struct Tokenizer: Sendable {
    private let source: [UInt8]
    private var offset = 0

    /// Creates a tokenizer positioned at the start of `text`.
    public init(_ text: String) {
        source = Array(text.utf8)
    }

    /// All tokens of `text`, ending with one `.end` token.
    public static func tokenize(_ text: String) throws(ExpressionError) -> [Token] {
        var tokenizer = Tokenizer(text)
        var tokens: [Token] = []
        repeat {
            tokens.append(try tokenizer.next())
        } while tokens.last?.kind != .end
        return tokens
    }

    /// The next token, or `.end` (repeatedly) once the text is exhausted.
    public mutating func next() throws(ExpressionError) -> Token {
        skipWhitespace()
        let start = offset
        guard start < source.count else { return Token(.end, SourceRange(start: start, end: start)) }
        let byte = source[start]
        if let kind = Self.punctuation(byte) {
            if kind == .star, start + 1 < source.count, source[start + 1] == UInt8(ascii: "*") {
                throw ExpressionError(
                    "'**' at column \(start + 1) is not an operator; write powers with '^', as in x ^ 2",
                    at: SourceRange(start: start, end: start + 2))
            }
            offset += 1
            return Token(kind, SourceRange(start: start, end: offset))
        }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && Self.isDigit(peek(1))) {
            return try number()
        }
        if Self.isIdentifierStart(byte) {
            while offset < source.count, Self.isIdentifierPart(source[offset]) { offset += 1 }
            let name = String(decoding: source[start..<offset], as: UTF8.self)
            return Token(.identifier(name), SourceRange(start: start, end: offset))
        }
        throw unexpectedCharacter(at: start)
    }

    private mutating func skipWhitespace() {
        while offset < source.count, Self.isWhitespace(source[offset]) { offset += 1 }
    }

    private func peek(_ distance: Int) -> UInt8 {
        offset + distance < source.count ? source[offset + distance] : 0
    }

    private mutating func skipDigits() {
        while offset < source.count, Self.isDigit(source[offset]) { offset += 1 }
    }

    /// Lexes `digits [. digits] [e [+-] digits]`, with digits required on at least one side of
    /// the dot, then rejects anything number-like glued to it.
    private mutating func number() throws(ExpressionError) -> Token {
        let start = offset
        skipDigits()
        if peek(0) == UInt8(ascii: ".") {
            offset += 1
            skipDigits()
        }
        let exponentFollows = Self.isDigit(peek(1)) || ((peek(1) == UInt8(ascii: "+") || peek(1) == UInt8(ascii: "-")) && Self.isDigit(peek(2)))
        if peek(0) | 0x20 == UInt8(ascii: "e"), exponentFollows {
            offset += 2
            skipDigits()
        }
        let literalEnd = offset
        if offset < source.count, Self.isIdentifierPart(source[offset]) || source[offset] == UInt8(ascii: ".") {
            throw malformedNumber(start: start, literalEnd: literalEnd)
        }
        let text = String(decoding: source[start..<offset], as: UTF8.self)
        let range = SourceRange(start: start, end: offset)
        guard let value = Double(text), value.isFinite else {
            throw ExpressionError("number '\(text)' at column \(range.column) is too large", at: range)
        }
        return Token(.number(value), range)
    }

    private mutating func malformedNumber(start: Int, literalEnd: Int) -> ExpressionError {
        let junkStart = source[literalEnd]
        while offset < source.count, Self.isIdentifierPart(source[offset]) || source[offset] == UInt8(ascii: ".") {
            offset += 1
        }
        if offset < source.count, junkStart | 0x20 == UInt8(ascii: "e"),
           source[offset] == UInt8(ascii: "+") || source[offset] == UInt8(ascii: "-") {
            offset += 1
        }
        let range = SourceRange(start: start, end: offset)
        let text = String(decoding: source[start..<offset], as: UTF8.self)
        let head = "invalid number '\(text)' at column \(range.column)"
        if junkStart | 0x20 == UInt8(ascii: "e") {
            return ExpressionError("\(head); an exponent needs digits, as in 1e-3", at: range)
        }
        if Self.isIdentifierStart(junkStart) {
            let number = String(decoding: source[start..<literalEnd], as: UTF8.self)
            let name = String(decoding: source[literalEnd..<offset], as: UTF8.self)
            return ExpressionError("\(head); to multiply, write \(number) * \(name)", at: range)
        }
        return ExpressionError(head, at: range)
    }

    /// Names the offending character; invisible and non-ASCII ones also by code point, since a
    /// pasted non-breaking space or smart quote looks harmless in a message.
    private func unexpectedCharacter(at start: Int) -> ExpressionError {
        let lead = source[start]
        let width = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        let range = SourceRange(start: start, end: min(start + width, source.count))
        let text = String(decoding: source[range.start..<range.end], as: UTF8.self)
        let scalar = text.unicodeScalars.first?.value ?? UInt32(lead)
        let hex = String(scalar, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        let shown: String
        if scalar < 0x20 || scalar == 0x7F {
            shown = code
        } else if scalar < 0x80 {
            shown = "'\(text)'"
        } else {
            shown = "'\(text)' (\(code))"
        }
        return ExpressionError("unexpected character \(shown) at column \(range.column)", at: range)
    }

    private static func punctuation(_ byte: UInt8) -> TokenKind? {
        switch byte {
        case UInt8(ascii: "+"): .plus
        case UInt8(ascii: "-"): .minus
        case UInt8(ascii: "*"): .star
        case UInt8(ascii: "/"): .slash
        case UInt8(ascii: "^"): .caret
        case UInt8(ascii: "@"): .at
        case UInt8(ascii: "("): .leftParen
        case UInt8(ascii: ")"): .rightParen
        case UInt8(ascii: "["): .leftBracket
        case UInt8(ascii: "]"): .rightBracket
        case UInt8(ascii: ","): .comma
        default: nil
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isIdentifierStart(_ byte: UInt8) -> Bool {
        let lower = byte | 0x20
        return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || byte == UInt8(ascii: "_")
    }

    private static func isIdentifierPart(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || isDigit(byte)
    }
}
