/// Parses the expression language used in job specs ("exp(log_sig) * 2", "mu[z]", "X @ w").
///
/// Grammar, loosest binding first, as in Python with `^` for `**`:
///
///     expression := sum
///     sum        := product (("+" | "-") product)*
///     product    := unary (("*" | "/" | "@") unary)*
///     unary      := ("-" | "+") unary | power
///     power      := postfix ("^" unary)?          right-associative: a^b^c = a^(b^c)
///     postfix    := primary ("[" expression "]")*
///     primary    := number | name | name "(" arguments? ")" | "(" expression ")"
///                 | "[" expression ("," expression)* "]"
///
/// So `-x^2` is `-(x^2)`, `2^-1` is allowed, and `X @ w + b` is `(X @ w) + b`. Only the
/// functions of `BuiltinFunction` can be called, with the arguments each takes. Inputs longer
/// than `maximumLength` bytes or nesting deeper than `maximumDepth` are refused, so no input
/// can exhaust the stack.
public enum ExpressionParser {
    /// The longest expression accepted, in UTF-8 bytes.
    public static let maximumLength = 10_000
    /// The deepest tree accepted (a lone name or number has depth 1), and also the most
    /// parentheses that may be open at once.
    public static let maximumDepth = 100

    /// Parses `text` into a tree, or explains the first problem found, left to right.
    public static func parse(_ text: String) throws(ExpressionError) -> Expr {
        let length = text.utf8.count
        guard length <= maximumLength else {
            throw ExpressionError(
                "expression is \(length) bytes long; the limit is \(maximumLength) (split it with 'let' statements)",
                at: SourceRange(start: 0, end: length))
        }
        var parser = Parser(text)
        return try parser.parseAll()
    }
}

extension BinaryOperator {
    /// Binding strength: larger binds tighter. Unary minus sits between `*` and `^`.
    var precedence: Int {
        switch self {
        case .add, .subtract: 1
        case .multiply, .divide, .matrixProduct: 2
        case .power: 4
        }
    }

    /// The precedence of prefix `-` and `+`: their operand may contain `^` but not `*`.
    static let unaryPrecedence = 3

    init?(_ kind: TokenKind) {
        switch kind {
        case .plus: self = .add
        case .minus: self = .subtract
        case .star: self = .multiply
        case .slash: self = .divide
        case .caret: self = .power
        case .at: self = .matrixProduct
        default: return nil
        }
    }
}
