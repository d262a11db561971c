/// A parsed subtree with its height (a leaf has height 1), so depth limits cost nothing extra.
struct Parsed {
    let expr: Expr
    let height: Int
}

/// The recursive-descent / precedence-climbing parser behind `ExpressionParser.parse`.
///
/// Recursion happens only into brackets, operands of prefix operators and right operands of
/// infix operators. Every such step either adds a tree level (checked against
/// `maximumDepth` before recursing) or opens a parenthesis (counted separately), so recursion
/// depth is bounded whatever the input. The deepest inputs the limits allow take about 0.4 MB
/// of stack in optimised builds, well inside the 8 MB of a default Linux thread.
struct Parser {
    let source: [UInt8]
    private var tokenizer: Tokenizer
    private(set) var current = Token(.end, SourceRange(start: 0, end: 0))
    private var previous: Token?
    private var openParentheses = 0

    init(_ text: String) {
        source = Array(text.utf8)
        tokenizer = Tokenizer(text)
    }

    mutating func parseAll() throws(ExpressionError) -> Expr {
        current = try tokenizer.next()
        let root = try parseExpression(minimumPrecedence: 0, depth: 0)
        guard current.kind == .end else {
            throw ExpressionError(unexpected(current) + missingOperatorHint(current), at: current.range)
        }
        return root.expr
    }

    // MARK: - Tokens

    @discardableResult
    private mutating func advance() throws(ExpressionError) -> Token {
        let consumed = current
        previous = consumed
        current = try tokenizer.next()
        return consumed
    }

    /// `unexpected ')' at column 7`
    func unexpected(_ token: Token) -> String {
        "unexpected \(token.quoted(in: source)) at column \(token.range.column)"
    }

    private func missingOperatorHint(_ token: Token) -> String {
        switch token.kind {
        case .identifier, .number, .leftParen: " (missing operator?)"
        default: ""
        }
    }

    /// Consumes the closer of a bracket pair or explains what was found instead.
    private mutating func expectClosing(
        _ closer: TokenKind, of opener: Token, allowsComma: Bool
    ) throws(ExpressionError) -> Token {
        if current.kind == closer { return try advance() }
        throw notClosed(closer, of: opener, allowsComma: allowsComma)
    }

    /// Explains why `current` cannot close the bracket `opener` opened.
    private func notClosed(_ closer: TokenKind, of opener: Token, allowsComma: Bool) -> ExpressionError {
        let open = opener.quoted(in: source)
        if current.kind == .end {
            return ExpressionError("unclosed \(open) opened at column \(opener.range.column)", at: opener.range)
        }
        if current.kind == .comma, !allowsComma {
            return ExpressionError(
                "\(unexpected(current)); index one axis at a time, as in x[i][j]", at: current.range)
        }
        let close = closer == .rightParen ? "')'" : "']'"
        let expected = allowsComma ? "',' or \(close)" : close
        return ExpressionError(
            "\(unexpected(current)); expected \(expected) to close \(open) at column \(opener.range.column)",
            at: current.range)
    }

    private func tooDeep(at range: SourceRange) -> ExpressionError {
        ExpressionError(
            "expression nests more than \(ExpressionParser.maximumDepth) levels deep at column \(range.column); "
                + "split it with 'let' statements",
            at: range)
    }

    /// Builds an inner node one level above its tallest child, refusing trees that grow too tall.
    private func node(
        _ kind: ExprKind, _ range: SourceRange, childHeight: Int, reportingAt place: SourceRange
    ) throws(ExpressionError) -> Parsed {
        let height = 1 + childHeight
        guard height <= ExpressionParser.maximumDepth else { throw tooDeep(at: place) }
        return Parsed(expr: Expr(kind, range), height: height)
    }

    // MARK: - Grammar

    /// Parses operands joined by infix operators binding at least `minimumPrecedence`;
    /// `depth` is the number of tree levels already certain to sit above the result.
    private mutating func parseExpression(
        minimumPrecedence: Int, depth: Int
    ) throws(ExpressionError) -> Parsed {
        guard depth < ExpressionParser.maximumDepth else { throw tooDeep(at: current.range) }
        var left = try parsePrefix(depth: depth)
        while let op = BinaryOperator(current.kind), op.precedence >= minimumPrecedence {
            let opToken = try advance()
            let rightPrecedence = op == .power ? op.precedence : op.precedence + 1
            let right = try parseExpression(minimumPrecedence: rightPrecedence, depth: depth + 1)
            left = try node(
                .binary(op, left.expr, right.expr), left.expr.range.union(right.expr.range),
                childHeight: max(left.height, right.height), reportingAt: opToken.range)
        }
        return left
    }

    private mutating func parsePrefix(depth: Int) throws(ExpressionError) -> Parsed {
        let op: UnaryOperator
        switch current.kind {
        case .minus: op = .minus
        case .plus: op = .plus
        default: return try parsePostfix(depth: depth)
        }
        let opToken = try advance()
        let operand = try parseExpression(minimumPrecedence: BinaryOperator.unaryPrecedence, depth: depth + 1)
        return try node(
            .unary(op, operand.expr), opToken.range.union(operand.expr.range),
            childHeight: operand.height, reportingAt: opToken.range)
    }

    private mutating func parsePostfix(depth: Int) throws(ExpressionError) -> Parsed {
        var base = try parsePrimary(depth: depth)
        while current.kind == .leftBracket {
            let open = try advance()
            let index = try parseExpression(minimumPrecedence: 0, depth: depth + 1)
            let close = try expectClosing(.rightBracket, of: open, allowsComma: false)
            base = try node(
                .index(base: base.expr, index: index.expr), base.expr.range.union(close.range),
                childHeight: max(base.height, index.height), reportingAt: open.range)
        }
        return base
    }

    private mutating func parsePrimary(depth: Int) throws(ExpressionError) -> Parsed {
        switch current.kind {
        case .number(let value):
            let token = try advance()
            return Parsed(expr: Expr(.number(value), token.range), height: 1)
        case .identifier(let name):
            let token = try advance()
            if current.kind == .leftParen {
                return try parseCall(name, nameToken: token, depth: depth)
            }
            return Parsed(expr: Expr(.name(name), token.range), height: 1)
        case .leftParen:
            return try parseParenthesised(depth: depth)
        case .leftBracket:
            return try parseArray(depth: depth)
        default:
            throw expectedExpression()
        }
    }

    private func expectedExpression() -> ExpressionError {
        if let previous {
            return ExpressionError(
                "expected an expression after \(previous.quoted(in: source)) at column \(previous.range.column)",
                at: previous.range)
        }
        if current.kind == .end {
            return ExpressionError(
                "empty expression; write a number, a name or a formula such as exp(x) * 2", at: current.range)
        }
        return ExpressionError(unexpected(current), at: current.range)
    }

    /// `( expression )`; the result's range takes in the parentheses.
    private mutating func parseParenthesised(depth: Int) throws(ExpressionError) -> Parsed {
        guard openParentheses < ExpressionParser.maximumDepth else { throw tooDeep(at: current.range) }
        let open = try advance()
        openParentheses += 1
        let inner = try parseExpression(minimumPrecedence: 0, depth: depth)
        openParentheses -= 1
        let close = try expectClosing(.rightParen, of: open, allowsComma: false)
        return Parsed(expr: Expr(inner.expr.kind, open.range.union(close.range)), height: inner.height)
    }

    /// Comma-separated expressions up to `closer`; empty when `closer` comes first.
    private mutating func parseList(
        closedBy closer: TokenKind, opener: Token, depth: Int
    ) throws(ExpressionError) -> (items: [Parsed], close: Token) {
        var items: [Parsed] = []
        if current.kind != closer {
            items.append(try parseExpression(minimumPrecedence: 0, depth: depth))
            while current.kind == .comma {
                try advance()
                items.append(try parseExpression(minimumPrecedence: 0, depth: depth))
            }
        }
        let close = try expectClosing(closer, of: opener, allowsComma: true)
        return (items, close)
    }

    private mutating func parseArray(depth: Int) throws(ExpressionError) -> Parsed {
        let open = try advance()
        let (elements, close) = try parseList(closedBy: .rightBracket, opener: open, depth: depth + 1)
        let range = open.range.union(close.range)
        guard !elements.isEmpty else { throw Self.emptyArray(at: range) }
        return try node(.array(elements.map(\.expr)), range, childHeight: elements.reduce(0) { max($0, $1.height) }, reportingAt: open.range)
    }

    private static func emptyArray(at range: SourceRange) -> ExpressionError {
        ExpressionError(
            "empty array '[]' at column \(range.column); an array literal needs at least one element", at: range)
    }

    private mutating func parseCall(
        _ name: String, nameToken: Token, depth: Int
    ) throws(ExpressionError) -> Parsed {
        guard let function = BuiltinFunction(rawValue: name) else {
            throw unknownFunction(name, at: nameToken.range)
        }
        let open = try advance()
        let (arguments, close) = try parseList(closedBy: .rightParen, opener: open, depth: depth + 1)
        let range = nameToken.range.union(close.range)
        try CallChecker(source: source).check(function, arguments.map(\.expr), callAt: range)
        return try node(
            .call(function: name, arguments: arguments.map(\.expr)), range,
            childHeight: arguments.reduce(0) { max($0, $1.height) }, reportingAt: open.range)
    }

    private func unknownFunction(_ name: String, at range: SourceRange) -> ExpressionError {
        let hints = [
            "pow": "write powers as x ^ y",
            "matmul": "write matrix products as a @ b",
            "dot": "write matrix products as a @ b",
        ]
        var message = "unknown function '\(Token.excerpt(source, range))' at column \(range.column)"
        if let hint = hints[name] {
            message += "; \(hint)"
        } else if let suggestion = BuiltinFunction.suggestion(for: name) {
            message += "; did you mean '\(suggestion)'?"
        }
        message += " (known: \(BuiltinFunction.names.joined(separator: ", ")))"
        return ExpressionError(message, at: range)
    }
}
