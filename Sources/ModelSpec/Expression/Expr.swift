/// A prefix operator.
public enum UnaryOperator: String, Equatable, Sendable {
    /// `-x`
    case minus = "-"
    /// `+x`, accepted for symmetry with numbers such as `+1`; it leaves the value unchanged.
    case plus = "+"
}

/// An infix operator. Precedence, loosest first: `+ -`, then `* / @`, then unary minus, then
/// `^` (right-associative), as in Python with `^` for `**`.
public enum BinaryOperator: String, Equatable, Sendable, CaseIterable {
    /// `a + b`, broadcasting.
    case add = "+"
    /// `a - b`, broadcasting.
    case subtract = "-"
    /// `a * b`, elementwise and broadcasting.
    case multiply = "*"
    /// `a / b`, elementwise and broadcasting.
    case divide = "/"
    /// `a ^ b`, elementwise power.
    case power = "^"
    /// `a @ b`, matrix product.
    case matrixProduct = "@"
}

/// The shape of an expression node; children carry their own source ranges.
public indirect enum ExprKind: Equatable, Sendable {
    /// A number literal; literals are never negative (`-1` is `unary(.minus, 1)`).
    case number(Double)
    /// A reference to data, a param, a `let` or a sample site.
    case name(String)
    /// An array literal such as `[1, 2, [3, 4]]`; never empty.
    case array([Expr])
    /// A prefix operator applied to an operand.
    case unary(UnaryOperator, Expr)
    /// An infix operator applied to two operands.
    case binary(BinaryOperator, Expr, Expr)
    /// `base[index]`: gathers along the first axis of `base` with an integer tensor.
    case index(base: Expr, index: Expr)
    /// A call of a built-in function; the parser accepts only names in `BuiltinFunction`.
    case call(function: String, arguments: [Expr])
}

/// A node of a parsed expression: what it is and which part of the text it came from.
///
/// Ranges of parenthesised subexpressions include the parentheses, so every node's range is a
/// piece of the text that parses on its own to the same tree.
public struct Expr: Equatable, Sendable {
    /// The node's shape.
    public let kind: ExprKind
    /// The node's span in the text it was parsed from.
    public let range: SourceRange

    /// Creates a node.
    public init(_ kind: ExprKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }

    /// The node's direct children, left to right.
    public var children: [Expr] {
        switch kind {
        case .number, .name: []
        case .array(let elements): elements
        case .unary(_, let operand): [operand]
        case .binary(_, let left, let right): [left, right]
        case .index(let base, let index): [base, index]
        case .call(_, let arguments): arguments
        }
    }

    /// The free variables: every name the expression refers to, function names excluded.
    public var names: Set<String> {
        var found: Set<String> = []
        visit { node in
            if case .name(let name) = node.kind { found.insert(name) }
        }
        return found
    }

    /// The names of the functions the expression calls.
    public var functionCalls: Set<String> {
        var found: Set<String> = []
        visit { node in
            if case .call(let function, _) = node.kind { found.insert(function) }
        }
        return found
    }

    /// Calls `body` on this node and then on every descendant, depth first, left to right.
    public func visit(_ body: (Expr) -> Void) {
        var pending = [self]
        while let node = pending.popLast() {
            body(node)
            pending.append(contentsOf: node.children.reversed())
        }
    }

    /// Whether `other` is the same tree, ignoring source ranges: `(a)+b` and `a + b` are.
    public func isStructurallyEqual(to other: Expr) -> Bool {
        switch (kind, other.kind) {
        case let (.number(a), .number(b)): return a == b
        case let (.name(a), .name(b)): return a == b
        case let (.array(a), .array(b)): return Self.allEqual(a, b)
        case let (.unary(opA, a), .unary(opB, b)): return opA == opB && a.isStructurallyEqual(to: b)
        case let (.binary(opA, la, ra), .binary(opB, lb, rb)):
            return opA == opB && la.isStructurallyEqual(to: lb) && ra.isStructurallyEqual(to: rb)
        case let (.index(baseA, indexA), .index(baseB, indexB)):
            return baseA.isStructurallyEqual(to: baseB) && indexA.isStructurallyEqual(to: indexB)
        case let (.call(fA, argsA), .call(fB, argsB)): return fA == fB && Self.allEqual(argsA, argsB)
        default: return false
        }
    }

    private static func allEqual(_ a: [Expr], _ b: [Expr]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.isStructurallyEqual(to: $1) }
    }
}

extension Expr: CustomStringConvertible {
    /// The expression with every operator application parenthesised, e.g. `((-(x ^ 2)) + 1)`;
    /// it parses back to the same tree.
    public var description: String {
        switch kind {
        case .number(let value): Self.format(value)
        case .name(let name): name
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .unary(let op, let operand): "(\(op.rawValue)\(operand))"
        case .binary(let op, let left, let right): "(\(left) \(op.rawValue) \(right))"
        case .index(let base, let index): "\(base)[\(index)]"
        case .call(let function, let arguments):
            "\(function)(" + arguments.map(\.description).joined(separator: ", ") + ")"
        }
    }

    /// Integers print without a fraction; other values in Swift's shortest round-trip form,
    /// which the tokenizer reads back exactly.
    private static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }
}
