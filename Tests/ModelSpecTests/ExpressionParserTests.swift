import Testing
@testable import ModelSpec
import TestSupport

/// The functions listed in every unknown-function message.
private let known = "(known: abs, diag, exp, expand, expm1, eye, len, log, log1p, log_softmax, logit, logsumexp, mean, "
    + "ones, reshape, sigmoid, softmax, softplus, sqrt, sum, tanh, transpose, unsqueeze, zeros)"

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
        ("sum(x, k + 1)", "'k + 1' at column 8 is not an axis of 'sum'; write an integer literal such as 0 or -1, or a plate's name", 8),
        ("mean(x, 0.5)", "'0.5' at column 9 is not an axis of 'mean'; write an integer literal such as 0 or -1, or a plate's name", 9),
        ("unsqueeze(x)", "'unsqueeze' at column 1 takes 2 arguments (a tensor and an axis), got 1", 1),
        ("reshape(x, 0.5)", "'0.5' at column 12 is not a size for 'reshape'; write an integer literal such as 3 (or -1), a plate's name or len(x)", 12),
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

extension ExpressionParserTests {
    /// The depth and length limits: the largest inputs inside them parse, the smallest outside
    /// them fail with a message, and nothing overflows the stack.
    @Suite struct Limits {
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

        /// The inputs that recurse deepest: every parenthesis and tree level the limits allow.
        @Test(arguments: [
            String(repeating: "(", count: 100) + String(repeating: "-", count: 99) + "x" + String(repeating: ")", count: 100),
            String(repeating: "(exp(", count: 99) + "x" + String(repeating: "))", count: 99),
            String(repeating: "([", count: 99) + "x" + String(repeating: "])", count: 99),
            String(repeating: "(a[", count: 99) + "x" + String(repeating: "])", count: 99),
            String(repeating: "(x^", count: 99) + "x" + String(repeating: ")", count: 99),
        ])
        func deepestInputsInsideTheLimits(text: String) throws {
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
}

/// Writes random valid expressions straight from the grammar, with random spacing.
private struct ExpressionWriter {
    var random: SplitMix64

    private static let names = ["x", "y", "mu", "X", "w", "log_sig", "_b2"]
    private static let numbers = ["1", "0", "2.5", ".5", "3.", "1e-3", "2E+2", "007"]
    private static let operators = ["+", "-", "*", "/", "^", "^", "@"]
    private static let unary = ["exp", "log", "log1p", "expm1", "sqrt", "abs", "sigmoid", "logit",
                                "softplus", "tanh", "transpose", "diag", "len"]
    private static let reducing = ["sum", "mean", "softmax", "log_softmax", "logsumexp"]

    mutating func space() -> String {
        ["", "", " ", "  ", "\n"].randomElement(using: &random)!
    }

    mutating func expression(depth: Int) -> String {
        let choice = depth <= 0 ? Int.random(in: 0..<2, using: &random) : Int.random(in: 0..<11, using: &random)
        switch choice {
        case 0: return Self.names.randomElement(using: &random)!
        case 1: return Self.numbers.randomElement(using: &random)!
        case 2, 3:
            let op = Self.operators.randomElement(using: &random)!
            return expression(depth: depth - 1) + space() + op + space() + expression(depth: depth - 1)
        case 4: return "-" + space() + expression(depth: depth - 1)
        case 5: return "(" + space() + expression(depth: depth - 1) + space() + ")"
        case 6:
            let base = Bool.random(using: &random) ? Self.names.randomElement(using: &random)! : "(" + expression(depth: depth - 1) + ")"
            return base + "[" + expression(depth: depth - 1) + "]"
        case 7: return Self.unary.randomElement(using: &random)! + "(" + expression(depth: depth - 1) + ")"
        case 8:
            let axis = Bool.random(using: &random) ? "" : "," + space() + ["0", "1", "-1", "-2"].randomElement(using: &random)!
            return Self.reducing.randomElement(using: &random)! + "(" + expression(depth: depth - 1) + axis + ")"
        case 9:
            let dims = (0..<Int.random(in: 1...3, using: &random)).map { _ in String(Int.random(in: 0...9, using: &random)) }
            return ["zeros", "ones"].randomElement(using: &random)! + "(" + dims.joined(separator: ", ") + ")"
        default:
            let count = Int.random(in: 1...3, using: &random)
            return "[" + (0..<count).map { _ in expression(depth: depth - 1) }.joined(separator: "," + space()) + "]"
        }
    }
}

extension ExpressionParserTests {
    /// Random and mutated inputs: every one parses or throws `ExpressionError`, errors point inside
    /// the text and name their column, and accepted trees survive printing and reparsing.
    @Suite struct Fuzz {
        /// Pieces of random input: tokens, near-tokens and characters the language does not use.
        private static let alphabet = [
            "x", "y", "mu", "exp", "log", "sum", "mean", "zeros", "eye", "len", "softmax", "expp",
            "1", "2", "0.5", ".5", "2.", "1e-3", "3e", "1.2.3",
            "+", "-", "*", "/", "^", "@", "(", ")", "[", "]", ",", " ", "  ", "\t", ".", "**", "$", "é", "\u{00A0}",
        ]

        /// What one input did.
        private enum Outcome { case accepted, rejected }

        /// Parses `text` and checks the properties; returns a description of the first violation.
        private static func check(_ text: String) -> (Outcome, String?) {
            do {
                let expr = try ExpressionParser.parse(text)
                return (.accepted, reparseProblem(expr, text))
            } catch {
                let length = text.utf8.count
                guard error.range.start >= 0, error.range.end <= length else {
                    return (.rejected, "\(text.debugDescription): range \(error.range) outside 0..<\(length)")
                }
                let mentionsColumn = error.message.contains("at column \(error.range.column)")
                guard mentionsColumn || error.message.hasPrefix("empty expression") else {
                    return (.rejected, "\(text.debugDescription): '\(error.message)' does not name column \(error.range.column)")
                }
                return (.rejected, nil)
            }
        }

        /// The printed form reparses to the same tree, and each node's range is a piece of the text
        /// that parses on its own to that node.
        private static func reparseProblem(_ expr: Expr, _ text: String) -> String? {
            do {
                let again = try ExpressionParser.parse(expr.description)
                guard again.isStructurallyEqual(to: expr) else {
                    return "\(text.debugDescription): \(expr) reparses as \(again)"
                }
                let bytes = Array(text.utf8)
                var problem: String?
                expr.visit { node in
                    guard problem == nil else { return }
                    let piece = String(decoding: bytes[node.range.start..<node.range.end], as: UTF8.self)
                    let parsed = try? ExpressionParser.parse(piece)
                    if parsed?.isStructurallyEqual(to: node) != true {
                        problem = "\(text.debugDescription): range \(node.range) holds \(piece.debugDescription), not \(node)"
                    }
                }
                return problem
            } catch {
                return "\(text.debugDescription): printed as \(expr.description.debugDescription), which fails: \(error)"
            }
        }

        private static func run(_ inputs: [String]) -> (accepted: Int, problems: [String]) {
            var accepted = 0
            var problems: [String] = []
            for text in inputs {
                let (outcome, problem) = check(text)
                if outcome == .accepted { accepted += 1 }
                if let problem { problems.append(problem) }
            }
            return (accepted, problems)
        }

        @Test func randomTokenStrings() {
            var random = SplitMix64(seed: 20_240_611)
            let inputs = (0..<20_000).map { _ in
                (0..<Int.random(in: 0...24, using: &random)).map { _ in Self.alphabet.randomElement(using: &random)! }.joined()
            }
            let (accepted, problems) = Self.run(inputs)
            #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
            #expect(accepted > 200, "only \(accepted) of 20000 random strings parsed; the fuzz is too shallow")
        }

        @Test func mutatedValidExpressions() {
            var writer = ExpressionWriter(random: SplitMix64(seed: 7))
            var problems: [String] = []
            var mutants: [String] = []
            for _ in 0..<20_000 {
                let valid = writer.expression(depth: Int.random(in: 1...5, using: &writer.random))
                if case (.rejected, _) = Self.check(valid) {
                    problems.append("generated \(valid.debugDescription) does not parse")
                }
                var characters = Array(valid)
                for _ in 0..<Int.random(in: 1...3, using: &writer.random) {
                    Self.mutate(&characters, using: &writer.random)
                }
                mutants.append(String(characters))
            }
            let (accepted, mutantProblems) = Self.run(mutants)
            problems += mutantProblems
            #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
            #expect((1_000...19_000).contains(accepted), "\(accepted) of 20000 mutants parsed")
        }

        @Test func printedRandomTreesParseBack() {
            var builder = TreeBuilder(random: SplitMix64(seed: 99))
            var problems: [String] = []
            for _ in 0..<5_000 {
                let tree = builder.tree(depth: Int.random(in: 0...6, using: &builder.random))
                do {
                    let parsed = try ExpressionParser.parse(tree.description)
                    if !parsed.isStructurallyEqual(to: tree) { problems.append("\(tree) parses as \(parsed)") }
                } catch {
                    problems.append("\(tree): \(error)")
                }
            }
            #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        }

        /// Deletes, inserts, replaces, swaps or duplicates a little of the text.
        private static func mutate(_ characters: inout [Character], using random: inout SplitMix64) {
            let position = Int.random(in: 0...characters.count, using: &random)
            let piece = Array(alphabet.randomElement(using: &random)!)
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where position < characters.count:
                characters.remove(at: position)
            case 1:
                characters.insert(contentsOf: piece, at: position)
            case 2 where position < characters.count:
                characters.replaceSubrange(position...position, with: piece)
            case 3 where position + 1 < characters.count:
                characters.swapAt(position, position + 1)
            default:
                let end = min(characters.count, position + Int.random(in: 1...6, using: &random))
                characters.insert(contentsOf: characters[position..<end], at: position)
            }
        }
    }
}

/// Builds random trees directly, without text, to check that printing loses nothing.
private struct TreeBuilder {
    var random: SplitMix64
    private let nowhere = SourceRange(start: 0, end: 0)

    private static let numbers: [Double] = [0, 1, 2, 0.5, 1e-3, 2.5e-7, 1e20, 123_456.789, 1e15, 0.1 + 0.2]
    private static let unaryOperators: [UnaryOperator] = [.minus, .plus]

    private func leaf(_ kind: ExprKind) -> Expr { Expr(kind, nowhere) }

    mutating func tree(depth: Int) -> Expr {
        let choice = depth <= 0 ? Int.random(in: 0..<2, using: &random) : Int.random(in: 0..<8, using: &random)
        switch choice {
        case 0: return leaf(.number(Self.numbers.randomElement(using: &random)!))
        case 1: return leaf(.name(["a", "b", "mu", "exp"].randomElement(using: &random)!))
        case 2, 3:
            let op = BinaryOperator.allCases.randomElement(using: &random)!
            return leaf(.binary(op, tree(depth: depth - 1), tree(depth: depth - 1)))
        case 4: return leaf(.unary(Self.unaryOperators.randomElement(using: &random)!, tree(depth: depth - 1)))
        case 5: return leaf(.index(base: tree(depth: depth - 1), index: tree(depth: depth - 1)))
        case 6:
            let axis = leaf(.unary(.minus, leaf(.number(1))))
            let arguments = Bool.random(using: &random) ? [tree(depth: depth - 1)] : [tree(depth: depth - 1), axis]
            return leaf(.call(function: "sum", arguments: arguments))
        default:
            return leaf(.array((0..<Int.random(in: 1...3, using: &random)).map { _ in tree(depth: depth - 1) }))
        }
    }
}
