import Autodiff
import Distributions
import Inference
import Numerics

/// Why an expression cannot be compiled: a sentence and where in the expression.
struct EvaluationError: Error {
    let message: String
    let range: SourceRange
}

extension Compilation {
    /// Compiles the expression `text` (at pointer `p`) in the current scope; inside a site with
    /// subsampled `plates`, data and params whose first axis is such a plate are taken at the
    /// step's subsample. Reports and returns nil on failure.
    func evaluate(_ text: String, at p: JSONPointer, plates sitePlates: [Plate]) -> Value? {
        let expr: Expr
        do { expr = try ExpressionParser.parse(text) } catch {
            d.report(p, "in '\(text)': \(error)"); return nil
        }
        if !expr.names.isDisjoint(with: failed) { return nil }
        let start = graph.nodeCount
        do {
            let value = try Evaluator(compilation: self, plates: sitePlates, start: start).eval(expr)
            if let problem = expressionProblem(nodesFrom: start) {
                d.report(p, "in '\(text)': \(problem)"); return nil
            }
            return value
        } catch {
            d.report(p, "in '\(text)': \(error.message) (column \(error.range.column))"); return nil
        }
    }
}

/// Compiles one expression tree to graph nodes, keeping the engine's leading axes aside.
struct Evaluator {
    let compilation: Compilation
    let plates: [Plate]
    /// The graph's first node of this expression: what its cost is counted from.
    let start: Int
    var graph: Graph { compilation.graph }

    /// Stops at the first operation past the expression's limits, so no later part of it is
    /// built (a chain of products is refused at its first costly product).
    func checkCost(_ e: Expr) throws(EvaluationError) {
        let ops = graph.foldOperations(nodesFrom: start)
        if ops > compilation.limits.maxFoldOperations {
            throw fail("computing this from constants takes about \(ByteCount.operations(ops)) operations; an expression may take at most \(ByteCount.operations(compilation.limits.maxFoldOperations)). Compute it beforehand and pass the result as data", e)
        }
        if let limit = graph.limitError {
            compilation.limitReported = true
            throw fail("\(limit.message). \(Compilation.sizeAdvice)", e)
        }
    }

    func fail(_ message: String, _ e: Expr) -> EvaluationError { EvaluationError(message: message, range: e.range) }

    func eval(_ e: Expr) throws(EvaluationError) -> Value {
        switch e.kind {
        case let .number(x): return Value(node: graph.constant(x), lead: 0)
        case let .name(n): return try lookup(n, e)
        case let .array(items): return try array(items, e)
        case let .unary(op, x):
            let v = try eval(x)
            return op == .minus ? Value(node: -v.node, lead: v.lead) : v
        case let .binary(op, l, r):
            let a = try eval(l), b = try eval(r)
            let v = op == .matrixProduct ? try matmul(a, b, e) : try elementwise(op, a, b, e)
            try checkCost(e)
            return v
        case let .index(base, index): return try gather(try eval(base), try eval(index), e)
        case let .call(function, args):
            let v = try call(function, args, e)
            try checkCost(e)
            return v
        }
    }

    // MARK: Names and literals

    func lookup(_ n: String, _ e: Expr) throws(EvaluationError) -> Value {
        guard let b = compilation.env[n] else {
            let known = compilation.env.keys.sorted()
            throw fail("unknown name '\(n)' (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))", e)
        }
        var v = b.value
        // Data and params indexed by a subsampled plate: take the step's rows.
        if v.lead == 0, b.kind == .data || b.kind == .param, let first = v.shape.first {
            for plate in plates where plate.subsample != nil && plate.size == first {
                if let rows = try? compilation.builder.rows(v.node, in: plate) { v = Value(node: rows, lead: 0) }
                break
            }
        }
        return v
    }

    func array(_ items: [Expr], _ e: Expr) throws(EvaluationError) -> Value {
        let values = try items.map { (x) throws(EvaluationError) -> Value in try eval(x) }
        if values.allSatisfy({ $0.lead == 0 }), let tensors = Optional(values.compactMap { compilation.constantTensor($0) }), tensors.count == values.count {
            guard tensors.allSatisfy({ $0.shape == tensors[0].shape }) else { throw fail("an array's entries must all have the same shape", e) }
            return Value(node: graph.constant(Tensor(shape: [tensors.count] + tensors[0].shape, scalars: tensors.flatMap(\.scalars))), lead: 0)
        }
        guard values.allSatisfy({ $0.node.shape == values[0].node.shape && $0.lead == values[0].lead }) else {
            throw fail("an array's entries must all have the same shape", e)
        }
        let lead = values[0].lead
        let stacked = graph.stack(values.map(\.node))
        guard lead > 0 else { return Value(node: stacked, lead: 0) }
        // Stacking put the new axis in front; move it behind the leading axes.
        let r = stacked.rank
        let perm = Array(1...lead) + [0] + Array((lead + 1)..<r)
        return Value(node: graph.permute(stacked, perm), lead: lead)
    }

    // MARK: Arithmetic

    /// Leading axes of a result: the larger, with its axes.
    func leadOf(_ a: Value, _ b: Value) -> Int { max(a.lead, b.lead) }

    func elementwise(_ op: BinaryOperator, _ a: Value, _ b: Value, _ e: Expr) throws(EvaluationError) -> Value {
        guard let shape = try? Shape.broadcast(a.shape, b.shape) else {
            throw fail("shapes \(a.shape) and \(b.shape) do not broadcast for '\(op.rawValue)'", e)
        }
        let r = shape.count
        let x = a.aligned(toRank: r), y = b.aligned(toRank: r)
        let node: Node
        switch op {
        case .add: node = x + y
        case .subtract: node = x - y
        case .multiply: node = x * y
        case .divide: node = x / y
        case .power:
            if b.lead == 0, let t = compilation.constantTensor(b), t.count == 1 { node = x.pow(t.scalar) } else { node = x.pow(y) }
        case .matrixProduct: node = x
        }
        return Value(node: node, lead: leadOf(a, b))
    }

    /// torch.matmul on per-particle values.
    func matmul(_ a: Value, _ b: Value, _ e: Expr) throws(EvaluationError) -> Value {
        guard a.rank >= 1, a.rank <= 2, b.rank >= 1, b.rank <= 2 else {
            throw fail("'@' takes vectors and matrices, got shapes \(a.shape) and \(b.shape)", e)
        }
        let k1 = a.shape.last!, k2 = b.rank == 1 ? b.shape[0] : b.shape[0]
        guard k1 == k2 else { throw fail("'@' needs matching inner sizes, got shapes \(a.shape) and \(b.shape)", e) }
        let g = graph
        if a.lead == 0 && b.lead == 0 { return Value(node: g.matmul(a.node, b.node), lead: 0) }
        if a.lead == 0 {
            // Shared left factor, batched right: [n, k] @ [lead…, k, m].
            let leadDims = Array(b.node.shape.prefix(b.lead))
            let right = b.rank == 1 ? g.reshape(b.node, leadDims + [k2, 1]) : b.node
            let left = a.rank == 1 ? g.reshape(a.node, [1, k1]) : a.node
            var out = g.matmul(left, right)
            var shape = leadDims
            if a.rank == 2 { shape.append(a.shape[0]) }
            if b.rank == 2 { shape.append(b.shape[1]) }
            out = g.reshape(out, shape)
            return Value(node: out, lead: b.lead)
        }
        if b.lead == 0 {
            // Batched left, shared right: flatten the leading axes into rows.
            let leadDims = Array(a.node.shape.prefix(a.lead))
            let rows = Shape.count(leadDims) * (a.rank == 2 ? a.shape[0] : 1)
            var out = g.matmul(g.reshape(a.node, [rows, k1]), b.node)
            var shape = leadDims
            if a.rank == 2 { shape.append(a.shape[0]) }
            if b.rank == 2 { shape.append(b.shape[1]) }
            out = g.reshape(out, shape)
            return Value(node: out, lead: a.lead)
        }
        guard a.node.shape.prefix(a.lead) == b.node.shape.prefix(b.lead) else {
            throw fail("'@' between values drawn with different leading axes is not supported", e)
        }
        let leadDims = Array(a.node.shape.prefix(a.lead))
        let left = a.rank == 1 ? g.reshape(a.node, leadDims + [1, k1]) : a.node
        let right = b.rank == 1 ? g.reshape(b.node, leadDims + [k2, 1]) : b.node
        var shape = leadDims
        if a.rank == 2 { shape.append(a.shape[0]) }
        if b.rank == 2 { shape.append(b.shape[1]) }
        return Value(node: g.reshape(g.matmul(left, right), shape), lead: a.lead)
    }

    /// `x[i]`: gathers along x's first (per-particle) axis by the integer values of `i`.
    func gather(_ x: Value, _ i: Value, _ e: Expr) throws(EvaluationError) -> Value {
        guard let extent = x.shape.first else { throw fail("cannot index a scalar", e) }
        if let t = compilation.constantTensor(i), i.lead == 0 {
            if let bad = t.scalars.first(where: { $0.rounded() != $0 || $0 < 0 || $0 >= Double(extent) }) {
                throw fail("index \(format(bad)) is not an integer in 0..<\(extent)", e)
            }
        }
        if x.lead == 0 {
            return Value(node: graph.gather(x.node, index: i.node), lead: i.lead)
        }
        guard x.rank == 1 else {
            throw fail("indexing a drawn value with more than one axis (shape \(x.shape)) is not supported; index a param or data instead", e)
        }
        let picked = graph.pick(x.aligned(toRank: i.rank + 1), index: i.node)
        return Value(node: picked, lead: max(x.lead, i.lead))
    }

    /// Refuses a constant of `shape` that the limits do not admit, before it is allocated.
    func admitConstant(_ shape: [Int], _ e: Expr) throws(EvaluationError) {
        let limits = compilation.limits
        guard let n = Shape.checkedCount(shape), n <= limits.maxConstantElements else {
            let count = Shape.checkedCount(shape).map { "\(ByteCount.numbers($0)) numbers (\(ByteCount.text(8 &* $0)))" } ?? "more numbers than a 64-bit count holds"
            throw fail("a constant of shape \(shape) would hold \(count); a constant may hold at most \(ByteCount.numbers(limits.maxConstantElements)) numbers (\(ByteCount.text(8 * limits.maxConstantElements))). Pass large values as data, or use a smaller shape", e)
        }
        if let problem = graph.admissionProblem(shape: shape, entries: n) {
            throw fail("a constant of shape \(shape) cannot be built: \(problem)", e)
        }
    }

    // MARK: Functions

    /// An integer literal argument (`-1`, `2`).
    func integerLiteral(_ e: Expr) throws(EvaluationError) -> Int {
        switch e.kind {
        case let .number(x) where exactInt(x) != nil && Swift.abs(x) < 1e9: return exactInt(x)!
        case let .unary(.minus, inner): return -(try integerLiteral(inner))
        default: throw fail("expected an integer constant", e)
        }
    }

    /// A per-particle axis as a node axis.
    func axis(_ a: Int, of v: Value, _ e: Expr) throws(EvaluationError) -> Int {
        guard let k = Shape.axis(a, rank: v.rank), v.rank > 0 else { throw fail("axis \(a) is out of range for shape \(v.shape)", e) }
        return k + v.lead
    }

    func call(_ name: String, _ args: [Expr], _ e: Expr) throws(EvaluationError) -> Value {
        let g = graph
        guard let f = BuiltinFunction(rawValue: name) else { throw fail("unknown function '\(name)'", e) }
        func one() throws(EvaluationError) -> Value { try eval(args[0]) }
        switch f {
        case .exp: let v = try one(); return Value(node: g.exp(v.node), lead: v.lead)
        case .log: let v = try one(); return Value(node: g.log(v.node), lead: v.lead)
        case .log1p: let v = try one(); return Value(node: g.log1p(v.node), lead: v.lead)
        case .expm1: let v = try one(); return Value(node: g.expm1(v.node), lead: v.lead)
        case .sqrt: let v = try one(); return Value(node: g.sqrt(v.node), lead: v.lead)
        case .abs: let v = try one(); return Value(node: g.abs(v.node), lead: v.lead)
        case .sigmoid: let v = try one(); return Value(node: g.sigmoid(v.node), lead: v.lead)
        case .logit: let v = try one(); return Value(node: g.logit(v.node), lead: v.lead)
        case .softplus: let v = try one(); return Value(node: g.softplus(v.node), lead: v.lead)
        case .tanh: let v = try one(); return Value(node: g.tanh(v.node), lead: v.lead)
        case .softmax, .logSoftmax, .logsumexp:
            let v = try one()
            let ax = try axis(args.count > 1 ? try integerLiteral(args[1]) : -1, of: v, e)
            let node = f == .softmax ? g.softmax(v.node, axis: ax) : f == .logSoftmax ? g.logSoftmax(v.node, axis: ax) : g.logsumexp(v.node, axis: ax)
            return Value(node: node, lead: v.lead)
        case .sum, .mean:
            let v = try one()
            let axes: [Int]
            if args.count > 1 { axes = [try axis(try integerLiteral(args[1]), of: v, e)] } else { axes = Array(v.lead..<(v.lead + v.rank)) }
            if axes.isEmpty { return v }
            let count = axes.reduce(1) { $0 * v.node.shape[$1] }
            var node = v.lead == 0 && axes.count == v.rank ? g.sum(v.node) : g.sum(v.node, axes: axes)
            if f == .mean { node = node * (1 / Double(max(count, 1))) }
            return Value(node: node, lead: v.lead)
        case .transpose:
            let v = try one()
            return Value(node: v.rank >= 2 ? g.transpose(v.node) : v.node, lead: v.lead)
        case .diag:
            let v = try one()
            switch v.rank {
            case 1: return Value(node: g.diag(v.node, embed: true), lead: v.lead)
            case 2 where v.shape[0] == v.shape[1]: return Value(node: g.diag(v.node, embed: false), lead: v.lead)
            default: throw fail("diag takes a vector or a square matrix, got shape \(v.shape)", e)
            }
        case .zeros, .ones, .eye:
            var dims: [Int] = []
            for a in args {
                let n = try integerLiteral(a)
                guard n >= 1, n <= 10_000_000 else { throw fail("a dimension must be from 1 to 10000000, got \(n)", a) }
                dims.append(n)
            }
            let shape = f == .eye ? [dims[0], dims[0]] : dims
            try admitConstant(shape, e)
            let t: Tensor = f == .eye ? Tensor.eye(dims[0]) : Tensor(repeating: f == .ones ? 1 : 0, shape: dims)
            return Value(node: g.constant(t), lead: 0)
        case .len:
            let v = try one()
            guard let n = v.shape.first else { throw fail("len of a scalar", e) }
            return Value(node: g.constant(Double(n)), lead: 0)
        }
    }
}
