import Testing
@testable import ModelSpec

/// The functions listed in every unknown-function message.
private let known = "(known: abs, diag, exp, expm1, eye, len, log, log1p, log_softmax, logit, logsumexp, mean, "
    + "ones, sigmoid, softmax, softplus, sqrt, sum, tanh, transpose, zeros)"

@Suite struct ExpressionParserTests {
    /// Valid expressions and their fully parenthesised form.
    static let valid: [(String, String)] = [
        // Numbers and names
        ("1", "1"),
        ("0", "0"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("2.", "2"),
        ("1e-3", "0.001"),
        ("1.5E+2", "150"),
        ("2.5e-7", "2.5e-07"),
        ("1e20", "1e+20"),
        ("2.e3", "2000"),
        ("x", "x"),
        ("log_sig_q2", "log_sig_q2"),
        ("_a", "_a"),
        ("exp", "exp"),
        // Precedence and associativity
        ("a + b", "(a + b)"),
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a + b - c + d", "(((a + b) - c) + d)"),
        ("a / b / c", "((a / b) / c)"),
        ("a / b * c", "((a / b) * c)"),
        ("a ^ b ^ c", "(a ^ (b ^ c))"),
        ("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))"),
        ("(a + b) * c", "((a + b) * c)"),
        ("((x))", "x"),
        // Unary minus against power and products
        ("-x^2", "(-(x ^ 2))"),
        ("-2 ^ 2", "(-(2 ^ 2))"),
        ("(-2) ^ 2", "((-2) ^ 2)"),
        ("2^-1", "(2 ^ (-1))"),
        ("2^-x^2", "(2 ^ (-(x ^ 2)))"),
        ("2^-1*3", "((2 ^ (-1)) * 3)"),
        ("-a * b", "((-a) * b)"),
        ("a * -b", "(a * (-b))"),
        ("a - -b", "(a - (-b))"),
        ("--x", "(-(-x))"),
        ("+x", "(+x)"),
        // Matrix products
        ("X @ w + b", "((X @ w) + b)"),
        ("A @ B @ C", "((A @ B) @ C)"),
        ("a * b @ c", "((a * b) @ c)"),
        ("a @ b * c", "((a @ b) * c)"),
        ("b + X @ w", "(b + (X @ w))"),
        // Indexing
        ("mu[z]", "mu[z]"),
        ("a[i][j]", "a[i][j]"),
        ("a[i + 1]", "a[(i + 1)]"),
        ("-a[i]", "(-a[i])"),
        ("a[i]^2", "(a[i] ^ 2)"),
        ("x^a[i]", "(x ^ a[i])"),
        ("(a + b)[i]", "(a + b)[i]"),
        ("[1, 2][0]", "[1, 2][0]"),
        ("softmax(x)[k]", "softmax(x)[k]"),
        // Calls
        ("exp(log_sig) * 2", "(exp(log_sig) * 2)"),
        ("exp (x)", "exp(x)"),
        ("sum(x, 1)", "sum(x, 1)"),
        ("sum(x, -1)", "sum(x, (-1))"),
        ("mean(x)", "mean(x)"),
        ("mean(x, 1.0)", "mean(x, 1)"),
        ("logsumexp(a + b, 0)", "logsumexp((a + b), 0)"),
        ("log_softmax(w, -1)", "log_softmax(w, (-1))"),
        ("zeros(500, 3)", "zeros(500, 3)"),
        ("ones(2)", "ones(2)"),
        ("eye(3) * s", "(eye(3) * s)"),
        ("len(x)", "len(x)"),
        ("diag(exp(d)) @ L", "(diag(exp(d)) @ L)"),
        ("transpose(X) @ X", "(transpose(X) @ X)"),
        ("log1p(-exp(x))", "log1p((-exp(x)))"),
        ("sigmoid(a) * (1 - sigmoid(a))", "(sigmoid(a) * (1 - sigmoid(a)))"),
        ("exp(-0.5 * ((x - mu) / sigma) ^ 2)", "exp(((-0.5) * (((x - mu) / sigma) ^ 2)))"),
        // Arrays and whitespace
        ("[1, 2, [3, 4]]", "[1, 2, [3, 4]]"),
        ("[-1, x + 1]", "[(-1), (x + 1)]"),
        (" \t a\n+\r\nb ", "(a + b)"),
    ]

    /// Invalid expressions, the exact message and the column it reports.
    static let invalid: [(String, String, Int)] = [
        ("", "empty expression; write a number, a name or a formula such as exp(x) * 2", 1),
        ("   ", "empty expression; write a number, a name or a formula such as exp(x) * 2", 4),
        ("a + b )", "unexpected ')' at column 7", 7),
        (")", "unexpected ')' at column 1", 1),
        ("* x", "unexpected '*' at column 1", 1),
        ("a *", "expected an expression after '*' at column 3", 3),
        ("a @", "expected an expression after '@' at column 3", 3),
        ("a ^", "expected an expression after '^' at column 3", 3),
        ("-", "expected an expression after '-' at column 1", 1),
        ("a * / b", "expected an expression after '*' at column 3", 3),
        ("(a + b", "unclosed '(' opened at column 1", 1),
        ("2 * (3 + x", "unclosed '(' opened at column 5", 5),
        ("exp(x", "unclosed '(' opened at column 4", 4),
        ("[1, 2", "unclosed '[' opened at column 1", 1),
        ("(a]", "unexpected ']' at column 3; expected ')' to close '(' at column 1", 3),
        ("[1 2]", "unexpected number '2' at column 4; expected ',' or ']' to close '[' at column 1", 4),
        ("log(x y)", "unexpected name 'y' at column 7; expected ',' or ')' to close '(' at column 4", 7),
        ("a b", "unexpected name 'b' at column 3 (missing operator?)", 3),
        ("2 (x)", "unexpected '(' at column 3 (missing operator?)", 3),
        ("(a)(b)", "unexpected '(' at column 4 (missing operator?)", 4),
        ("x[0](y)", "unexpected '(' at column 5 (missing operator?)", 5),
        ("x[i, j]", "unexpected ',' at column 4; index one axis at a time, as in x[i][j]", 4),
        ("x[]", "expected an expression after '[' at column 2", 2),
        ("[]", "empty array '[]' at column 1; an array literal needs at least one element", 1),
        ("[1, 2,]", "expected an expression after ',' at column 6", 6),
        ("a $ b", "unexpected character '$' at column 3", 3),
        ("x % 2", "unexpected character '%' at column 3", 3),
        ("x.y", "unexpected character '.' at column 2", 2),
        ("a\u{00A0}+ b", "unexpected character '\u{00A0}' (U+00A0) at column 2", 2),
        ("a\u{7}", "unexpected character U+0007 at column 2", 2),
        ("x ** 2", "'**' at column 3 is not an operator; write powers with '^', as in x ^ 2", 3),
        ("2x", "invalid number '2x' at column 1; to multiply, write 2 * x", 1),
        ("1.2.3", "invalid number '1.2.3' at column 1", 1),
        ("1e", "invalid number '1e' at column 1; an exponent needs digits, as in 1e-3", 1),
        ("3 + 1e+", "invalid number '1e+' at column 5; an exponent needs digits, as in 1e-3", 5),
        ("1e999", "number '1e999' at column 1 is too large", 1),
        ("expp(x)", "unknown function 'expp' at column 1; did you mean 'exp'? \(known)", 1),
        ("2 * sofmax(x)", "unknown function 'sofmax' at column 5; did you mean 'softmax'? \(known)", 5),
        ("logsoftmax(x)", "unknown function 'logsoftmax' at column 1; did you mean 'log_softmax'? \(known)", 1),
        ("Exp(x)", "unknown function 'Exp' at column 1; did you mean 'exp'? \(known)", 1),
        ("f(x)", "unknown function 'f' at column 1 \(known)", 1),
        ("pow(x, 2)", "unknown function 'pow' at column 1; write powers as x ^ y \(known)", 1),
        ("exp(a, b)", "'exp' at column 1 takes 1 argument, got 2", 1),
        ("1 + exp()", "'exp' at column 5 takes 1 argument, got 0", 5),
        ("sum(x, 1, 2)", "'sum' at column 1 takes 1 or 2 arguments (a tensor and an optional axis), got 3", 1),
        ("sum(x, k)", "'k' at column 8 is not an axis of 'sum'; write an integer literal such as 0 or -1", 8),
        ("mean(x, 0.5)", "'0.5' at column 9 is not an axis of 'mean'; write an integer literal such as 0 or -1", 9),
        ("zeros()", "'zeros' at column 1 takes at least 1 argument (the dimensions), got 0", 1),
        ("zeros(3, n)", "'n' at column 10 is not a dimension of 'zeros'; write a non-negative integer literal such as 3", 10),
        ("ones(-2)", "'-2' at column 6 is not a dimension of 'ones'; write a non-negative integer literal such as 3", 6),
        ("eye(2, 2)", "'eye' at column 1 takes 1 argument (the size), got 2", 1),
        ("eye(n)", "'n' at column 5 is not a size for 'eye'; write a non-negative integer literal such as 3", 5),
    ]

    @Test func validExpressionsParseToTheirParenthesisedForm() throws {
        #expect(Self.valid.count >= 40)
        for (text, expected) in Self.valid {
            let expr = try ExpressionParser.parse(text)
            #expect(expr.description == expected, "\(text)")
            let again = try ExpressionParser.parse(expr.description)
            #expect(again.isStructurallyEqual(to: expr), "\(text)")
        }
    }

    @Test func invalidExpressionsReportMessageAndColumn() {
        #expect(Self.invalid.count >= 30)
        for (text, message, column) in Self.invalid {
            #expect(throws: ExpressionError.self, "\(text)") { try ExpressionParser.parse(text) }
            do {
                _ = try ExpressionParser.parse(text)
            } catch {
                #expect(error.message == message, "\(text)")
                #expect(error.range.column == column, "\(text)")
                #expect(error.description == error.message)
            }
        }
    }

    @Test func rangesCoverEachNodeIncludingParentheses() throws {
        let expr = try ExpressionParser.parse("  a + (b * c)[i] ")
        #expect(expr.range == SourceRange(start: 2, end: 16))
        guard case .binary(.add, let left, let right) = expr.kind,
              case .index(let base, let index) = right.kind else {
            Issue.record("unexpected tree \(expr)")
            return
        }
        #expect(left.range == SourceRange(start: 2, end: 3))
        #expect(right.range == SourceRange(start: 6, end: 16))
        #expect(base.range == SourceRange(start: 6, end: 13))
        #expect(index.range == SourceRange(start: 14, end: 15))
        #expect(base.range.column == 7)
    }

    @Test func namesAndFunctionCalls() throws {
        let expr = try ExpressionParser.parse("sum(exp(log_sig) * x[z] + mu, 0) + log(x) - exp")
        #expect(expr.names == ["log_sig", "x", "z", "mu", "exp"])
        #expect(expr.functionCalls == ["sum", "exp", "log"])
        #expect(try ExpressionParser.parse("zeros(3, 2)").names.isEmpty)
    }

    @Test func structuralEqualityIgnoresRangesOnly() throws {
        let spaced = try ExpressionParser.parse(" ( a )+b ")
        let tight = try ExpressionParser.parse("a+b")
        #expect(spaced.isStructurallyEqual(to: tight))
        #expect(spaced != tight)
        #expect(try !ExpressionParser.parse("a-b").isStructurallyEqual(to: tight))
        #expect(try !ExpressionParser.parse("b+a").isStructurallyEqual(to: tight))
    }

    @Test func tokenizerRangesAndKinds() throws {
        let tokens = try Tokenizer.tokenize(" mu[z] @ .5e1")
        #expect(tokens == [
            Token(.identifier("mu"), SourceRange(start: 1, end: 3)),
            Token(.leftBracket, SourceRange(start: 3, end: 4)),
            Token(.identifier("z"), SourceRange(start: 4, end: 5)),
            Token(.rightBracket, SourceRange(start: 5, end: 6)),
            Token(.at, SourceRange(start: 7, end: 8)),
            Token(.number(5), SourceRange(start: 9, end: 13)),
            Token(.end, SourceRange(start: 13, end: 13)),
        ])
    }

    @Test func suggestionsNeedAFewEditsAtMost() {
        #expect(BuiltinFunction.editDistance("expp", "exp") == 1)
        #expect(BuiltinFunction.editDistance("", "abc") == 3)
        #expect(BuiltinFunction.editDistance("kitten", "sitting") == 3)
        #expect(BuiltinFunction.suggestion(for: "sqr") == "sqrt")
        #expect(BuiltinFunction.suggestion(for: "lg") == "log")
        #expect(BuiltinFunction.suggestion(for: "q") == nil)
        #expect(BuiltinFunction.suggestion(for: "normal") == nil)
    }
}

/// The depth and length limits: the largest inputs inside them parse, the smallest outside
/// them fail with a message, and nothing overflows the stack.
@Suite struct ExpressionParserLimitTests {
    private static let tooDeep = "levels deep at column"

    private func repeated(_ piece: String, _ count: Int) -> String {
        String(repeating: piece, count: count)
    }

    @Test func parenthesesUpToTheLimit() throws {
        let inside = repeated("(", 100) + "x" + repeated(")", 100)
        #expect(try ExpressionParser.parse(inside).description == "x")
        let outside = repeated("(", 101) + "x" + repeated(")", 101)
        #expect(throws: ExpressionError("expression nests more than 100 levels deep at column 101; split it with 'let' statements",
                                        at: SourceRange(start: 100, end: 101))) {
            try ExpressionParser.parse(outside)
        }
    }

    @Test func unaryChainsUpToTheLimit() throws {
        #expect(try ExpressionParser.parse(repeated("-", 99) + "x").description.hasSuffix("(-x)" + repeated(")", 98)))
        let error = #expect(throws: ExpressionError.self) { try ExpressionParser.parse(self.repeated("-", 100) + "x") }
        #expect(error?.message.contains(Self.tooDeep) == true)
    }

    @Test func leftAssociativeChainsCountTowardsTheDepth() throws {
        _ = try ExpressionParser.parse("a" + repeated("+a", 99))
        let error = #expect(throws: ExpressionError.self) { try ExpressionParser.parse("a" + self.repeated("+a", 100)) }
        #expect(error?.message == "expression nests more than 100 levels deep at column 200; split it with 'let' statements")
    }

    @Test func deepestParenthesesAroundTheDeepestTree() throws {
        let text = repeated("(", 100) + repeated("-", 99) + "x" + repeated(")", 100)
        let expr = try ExpressionParser.parse(text)
        #expect(try ExpressionParser.parse(expr.description).isStructurallyEqual(to: expr))
    }

    @Test(arguments: ["(", "[", "-", "x^", "exp(", "a[", "+", "sum(x, "])
    func hugeNestingFailsCleanly(piece: String) {
        let text = repeated(piece, 9_000 / piece.utf8.count) + "x"
        let error = #expect(throws: ExpressionError.self) { try ExpressionParser.parse(text) }
        #expect(error?.message.contains(Self.tooDeep) == true, "\(piece): \(error?.message ?? "")")
    }

    @Test func lengthLimit() throws {
        _ = try ExpressionParser.parse(repeated("x", 10_000))
        #expect(throws: ExpressionError("expression is 10001 bytes long; the limit is 10000 (split it with 'let' statements)",
                                        at: SourceRange(start: 0, end: 10_001))) {
            try ExpressionParser.parse(repeated("x", 10_001))
        }
    }
}
