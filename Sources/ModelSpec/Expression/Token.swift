/// What a token is; operator and punctuation cases are named after their character.
public enum TokenKind: Equatable, Sendable {
    /// A non-negative number literal such as `2`, `0.5`, `.5`, `2.` or `1e-3`.
    case number(Double)
    /// A name matching `[A-Za-z_][A-Za-z0-9_]*`: a variable or a function.
    case identifier(String)
    /// `+`
    case plus
    /// `-`
    case minus
    /// `*`
    case star
    /// `/`
    case slash
    /// `^`
    case caret
    /// `@`
    case at
    /// `(`
    case leftParen
    /// `)`
    case rightParen
    /// `[`
    case leftBracket
    /// `]`
    case rightBracket
    /// `,`
    case comma
    /// The end of the text; the tokenizer returns it forever once reached.
    case end
}

/// One token of an expression and where it sits in the text.
public struct Token: Equatable, Sendable {
    /// The token's kind and, for numbers and names, its value.
    public let kind: TokenKind
    /// The token's span in the text.
    public let range: SourceRange

    /// Creates a token.
    public init(_ kind: TokenKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }

    /// How error messages name the token: `'*'`, `name 'x'`, `number '2'`, `end of expression`.
    func quoted(in source: [UInt8]) -> String {
        let text = Self.excerpt(source, range)
        switch kind {
        case .number: return "number '\(text)'"
        case .identifier: return "name '\(text)'"
        case .end: return "end of expression"
        default: return "'\(text)'"
        }
    }

    /// The text of `range`, shortened in the middle when longer than 40 bytes so messages
    /// stay readable.
    static func excerpt(_ source: [UInt8], _ range: SourceRange) -> String {
        let limit = 40
        guard range.length > limit else {
            return String(decoding: source[range.start..<range.end], as: UTF8.self)
        }
        let head = String(decoding: source[range.start..<range.start + 20], as: UTF8.self)
        let tail = String(decoding: source[range.end - 15..<range.end], as: UTF8.self)
        return head + "..." + tail
    }
}
