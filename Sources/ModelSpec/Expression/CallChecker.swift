/// Checks a call's arguments against its function's signature: the count, and the arguments
/// that must be integer literals (axes, dimensions, sizes).
struct CallChecker {
    let source: [UInt8]

    func check(_ function: BuiltinFunction, _ arguments: [Expr], callAt range: SourceRange) throws(ExpressionError) {
        let name = "'\(function.rawValue)' at column \(range.column)"
        switch function.signature {
        case .unary:
            guard arguments.count == 1 else {
                throw ExpressionError("\(name) takes 1 argument, got \(arguments.count)", at: range)
            }
        case .tensorAndOptionalAxis:
            guard (1...2).contains(arguments.count) else {
                throw ExpressionError(
                    "\(name) takes 1 or 2 arguments (a tensor and an optional axis), got \(arguments.count)",
                    at: range)
            }
            if arguments.count == 2, integerLiteral(arguments[1]) == nil, !isName(arguments[1]) {
                throw invalid(arguments[1], "an axis of", function, "an integer literal such as 0 or -1, or a plate's name")
            }
        case .tensorAndAxis:
            guard arguments.count == 2 else {
                throw ExpressionError("\(name) takes 2 arguments (a tensor and an axis), got \(arguments.count)", at: range)
            }
            if integerLiteral(arguments[1]) == nil {
                throw invalid(arguments[1], "an axis of", function, "an integer literal such as 0 or -1")
            }
        case .tensorAndSizes:
            guard arguments.count >= 2 else {
                throw ExpressionError("\(name) takes a tensor and at least one size, got \(arguments.count) argument\(arguments.count == 1 ? "" : "s")", at: range)
            }
            for argument in arguments.dropFirst() where !isSize(argument) {
                throw invalid(argument, "a size for", function, "an integer literal such as 3 (or -1), a plate's name or len(x)")
            }
        case .dimensions:
            guard !arguments.isEmpty else {
                throw ExpressionError("\(name) takes at least 1 argument (the dimensions), got 0", at: range)
            }
            for argument in arguments where (integerLiteral(argument) ?? -1) < 0 {
                throw invalid(argument, "a dimension of", function, "a non-negative integer literal such as 3")
            }
        case .size:
            guard arguments.count == 1 else {
                throw ExpressionError("\(name) takes 1 argument (the size), got \(arguments.count)", at: range)
            }
            if (integerLiteral(arguments[0]) ?? -1) < 0 {
                throw invalid(arguments[0], "a size for", function, "a non-negative integer literal such as 3")
            }
        }
    }

    /// `'x' at column 8 is not an axis of 'sum'; write an integer literal such as 0 or -1`
    private func invalid(
        _ argument: Expr, _ role: String, _ function: BuiltinFunction, _ fix: String
    ) -> ExpressionError {
        let text = Token.excerpt(source, argument.range)
        return ExpressionError(
            "'\(text)' at column \(argument.range.column) is not \(role) '\(function.rawValue)'; write \(fix)",
            at: argument.range)
    }

    private func isName(_ expr: Expr) -> Bool {
        if case .name = expr.kind { return true }
        return false
    }

    /// A size argument: an integer literal (−1 included), a name (a plate), or a `len(...)` call.
    private func isSize(_ expr: Expr) -> Bool {
        if let n = integerLiteral(expr) { return n >= -1 }
        if isName(expr) { return true }
        if case .call(let f, _) = expr.kind { return f == BuiltinFunction.len.rawValue }
        return false
    }

    /// The value of an integral literal below 2^31 in magnitude, optionally signed; nil for
    /// anything else.
    private func integerLiteral(_ expr: Expr) -> Int? {
        switch expr.kind {
        case .number(let value) where value == value.rounded() && value < 2_147_483_648:
            return Int(value)
        case .unary(let op, let operand):
            guard case .number = operand.kind, let magnitude = integerLiteral(operand) else { return nil }
            return op == .minus ? -magnitude : magnitude
        default:
            return nil
        }
    }
}
