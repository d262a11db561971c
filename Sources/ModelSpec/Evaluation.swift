import Autodiff
import Distributions
import Inference
import JSON
import Numerics

/// Why an expression cannot be compiled: a sentence and where in the expression.
struct EvaluationError: Error {
    let message: String
    let range: SourceRange
}

extension Compilation {
    /// Compiles the expression `text` (at pointer `p`) in the current scope. `site` is the
    /// plates of the site the expression belongs to, in its listed order (nil outside a site:
    /// a `let`, an init, a plate size); inside a site with subsampled plates, data and params
    /// that declare no plates but whose first axis is such a plate are taken at the step's
    /// subsample. Reports and returns nil on failure.
    func evaluate(_ text: String, at p: JSONPointer, site: [Plate]?) -> Value? {
        let expr: Expr
        do { expr = try ExpressionParser.parse(text) } catch {
            diagnostics.report(p, "in '\(text)': \(error)"); return nil
        }
        if !expr.names.isDisjoint(with: failed) { return nil }
        let start = graph.nodeCount
        do {
            let value = try Evaluator(compilation: self, site: site, start: start).eval(expr)
            if let problem = expressionProblem(nodesFrom: start) {
                diagnostics.report(p, "in '\(text)': \(problem)"); return nil
            }
            return value
        } catch {
            diagnostics.report(p, "in '\(text)': \(error.message) (column \(error.range.column))"); return nil
        }
    }

    /// A value that declares plates, cut to the step's subsample along each of them that is
    /// subsampled (computed once per name: every use in a step sees the same rows).
    func subsampled(_ name: String, _ v: Value) -> Value {
        guard v.plates.contains(where: { $0.subsample != nil }) else { return v }
        if let cut = cutValues[name] { return cut }
        var node = v.node
        for (k, plate) in v.plates.enumerated() where plate.subsample != nil && node.shape[v.lead + k] == plate.size {
            let axis = v.lead + k
            if axis == 0 {
                if let rows = try? builder.rows(node, in: plate) { node = rows }
                continue
            }
            var perm = Array(0..<node.rank)
            perm.remove(at: axis); perm.insert(axis, at: 0)
            guard let rows = try? builder.rows(graph.permute(node, perm), in: plate) else { continue }
            var back = Array(1..<node.rank)
            back.insert(0, at: axis)
            node = graph.permute(rows, back)
        }
        let cut = v.with(node)
        cutValues[name] = cut
        return cut
    }
}

/// Compiles one expression tree to graph nodes, keeping the engine's leading axes aside and
/// aligning values that carry plates by plate name (see ``Value``).
struct Evaluator {
    let compilation: Compilation
    /// The plates of the site being compiled, in its listed order; nil outside a site.
    let site: [Plate]?
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
            return op == .minus ? v.with(-v.node) : v
        case let .binary(op, l, r):
            let a = try eval(l), b = try eval(r)
            let v = op == .matrixProduct ? try matmul(a, b, e) : try elementwise(op, a, b, e)
            try checkCost(e)
            return v
        case let .index(base, index): return try gather(try table(base), try eval(index), e)
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
            let plateHint = compilation.plates[n] != nil ? "; '\(n)' is a plate: its size is len(\(n))" : ""
            throw fail("unknown name '\(n)' (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))\(plateHint)", e)
        }
        var v = b.value
        if v.isAligned { return compilation.subsampled(n, v) }
        // Data and params without declared plates, indexed by a subsampled plate of the site
        // (their first axis has the plate's size): take the step's rows.
        if compilation.positionalCutsAllowed, v.lead == 0, b.kind == .data || b.kind == .param, let first = v.shape.first {
            for plate in site ?? [] where plate.subsample != nil && plate.size == first {
                if let rows = try? compilation.builder.rows(v.node, in: plate) {
                    v = Value(node: rows, lead: 0)
                    compilation.positionalCuts += 1
                }
                break
            }
        }
        return v
    }

    /// The table `x` of a gather `x[i]`: its first axis is the one indexed, so undeclared data
    /// and params are read whole even when that axis has a subsampled plate's size (the indices
    /// are positions in the whole table).
    func table(_ base: Expr) throws(EvaluationError) -> Value {
        let allowed = compilation.positionalCutsAllowed
        compilation.positionalCutsAllowed = false
        defer { compilation.positionalCutsAllowed = allowed }
        return try eval(base)
    }

    func array(_ items: [Expr], _ e: Expr) throws(EvaluationError) -> Value {
        var values = try items.map { (x) throws(EvaluationError) -> Value in try eval(x) }
        if values.allSatisfy({ $0.lead == 0 && !$0.isAligned }), let tensors = Optional(values.compactMap { compilation.constantTensor($0) }), tensors.count == values.count {
            guard tensors.allSatisfy({ $0.shape == tensors[0].shape }) else { throw fail("an array's entries must all have the same shape", e) }
            return Value(node: graph.constant(Tensor(shape: [tensors.count] + tensors[0].shape, scalars: tensors.flatMap(\.scalars))), lead: 0)
        }
        // Entries with plates: laid out alike, the new axis is the first of the entries' own axes.
        var plates: [Plate] = []
        if values.contains(where: \.isAligned) {
            plates = try resultPlates(values, e)
            let freeRank = values.map { $0.isAligned ? $0.free.count : max(0, $0.rank - plates.count) }.max() ?? 0
            values = values.map { v in
                v.isAligned ? v.with(v.placed(in: plates, freeRank: freeRank), plates: plates)
                            : Value(node: v.aligned(toRank: plates.count + freeRank), lead: v.lead, plates: plates)
            }
        }
        guard values.allSatisfy({ $0.node.shape == values[0].node.shape && $0.lead == values[0].lead }) else {
            throw fail("an array's entries must all have the same shape (got \(values.map(\.shape)))", e)
        }
        let lead = values[0].lead + plates.count
        let stacked = graph.stack(values.map(\.node))
        guard lead > 0 else { return Value(node: stacked, lead: 0) }
        // Stacking put the new axis in front; move it behind the leading and plate axes.
        let r = stacked.rank
        let perm = Array(1...lead) + [0] + Array((lead + 1)..<r)
        return Value(node: graph.permute(stacked, perm), lead: values[0].lead, plates: plates)
    }

    // MARK: Alignment by plate

    /// The plates of a result combining `values`: inside a site, the site's plates in its
    /// listed order (every plate a value carries must be one of them); outside, every plate the
    /// values carry, in declaration order.
    func resultPlates(_ values: [Value], _ e: Expr) throws(EvaluationError) -> [Plate] {
        if let site {
            for v in values {
                if let stray = v.plates.first(where: { !site.contains($0) }) {
                    throw fail(strayPlateMessage(v, stray, site), e)
                }
            }
            return site
        }
        var seen = Set<Plate>()
        return values.flatMap(\.plates).filter { seen.insert($0).inserted }.sorted { $0.position < $1.position }
    }

    func strayPlateMessage(_ v: Value, _ stray: Plate, _ site: [Plate]) -> String {
        let listed = site.isEmpty ? "no plates" : "plates " + site.map { "'\($0.name)'" }.joined(separator: ", ")
        return "a value of shape \(v.shape) varies along plate '\(stray.name)' (its plates: \(v.plates.map { "'\($0.name)'" }.joined(separator: ", "))), but this site lies in \(listed): list '\(stray.name)' in the site's plates, or reduce it first (e.g. sum(x, \(stray.name)))"
    }

    /// Two values laid out for an element-wise operation: values with plates are placed by
    /// plate name; values without are read as NumPy arrays, right-aligned against the result's
    /// plate axes and own axes.
    func aligned(_ a: Value, _ b: Value, _ e: Expr) throws(EvaluationError) -> (Node, Node, [Plate]) {
        guard a.isAligned || b.isAligned else {
            let r = max(a.rank, b.rank)
            return (a.aligned(toRank: r), b.aligned(toRank: r), [])
        }
        let plates = try resultPlates([a, b], e)
        let freeRank = [a, b].map { $0.isAligned ? $0.free.count : max(0, $0.rank - plates.count) }.max() ?? 0
        func place(_ v: Value) -> Node {
            v.isAligned ? v.placed(in: plates, freeRank: freeRank) : v.aligned(toRank: plates.count + freeRank)
        }
        return (place(a), place(b), plates)
    }

    /// A checked broadcast of two laid-out operands' per-particle shapes, naming plates when
    /// an extent along one of them is wrong.
    func checkBroadcast(_ x: Node, _ y: Node, leads: (Int, Int), plates: [Plate], _ what: String, _ e: Expr) throws(EvaluationError) {
        let sx = Array(x.shape.dropFirst(leads.0)), sy = Array(y.shape.dropFirst(leads.1))
        guard let shape = try? Shape.broadcast(sx, sy) else {
            if !plates.isEmpty {
                let plateAxes = plates.map { "'\($0.name)' (\($0.batchSize))" }.joined(separator: ", ")
                throw fail("shapes \(sx) and \(sy) do not broadcast for '\(what)': laid out by plate, the first \(plates.count) axes are plates \(plateAxes) and the rest are the values' own axes; a value without declared plates is read right-aligned against them (give data \"plates\" or use unsqueeze/expand)", e)
            }
            throw fail("shapes \(sx) and \(sy) do not broadcast for '\(what)'", e)
        }
        for (k, plate) in plates.enumerated() where shape[k] != 1 && shape[k] != plate.batchSize {
            throw fail("along plate '\(plate.name)' (\(plate.batchSize) elements in a step) a value has \(shape[k]) entries: an array without declared plates is read right-aligned against the site's plates and own axes; check its shape or declare its plates", e)
        }
    }

    // MARK: Arithmetic

    func elementwise(_ op: BinaryOperator, _ a: Value, _ b: Value, _ e: Expr) throws(EvaluationError) -> Value {
        let (x, y, plates) = try aligned(a, b, e)
        try checkBroadcast(x, y, leads: (a.lead, b.lead), plates: plates, op.rawValue, e)
        let node: Node
        switch op {
        case .add: node = x + y
        case .subtract: node = x - y
        case .multiply: node = x * y
        case .divide: node = x / y
        case .power:
            if b.lead == 0, !b.isAligned, let t = compilation.constantTensor(b), t.count == 1 { node = x.pow(t.scalar) } else { node = x.pow(y) }
        case .matrixProduct: node = x
        }
        return Value(node: node, lead: max(a.lead, b.lead), plates: plates)
    }

    /// torch.matmul on per-particle values; a value's plate axes (like the particles) are
    /// batch axes of the product.
    func matmul(_ a: Value, _ b: Value, _ e: Expr) throws(EvaluationError) -> Value {
        let fa = a.isAligned ? a.free : a.shape, fb = b.isAligned ? b.free : b.shape
        guard fa.count >= 1, fa.count <= 2, fb.count >= 1, fb.count <= 2 else {
            throw fail("'@' takes vectors and matrices, got shapes \(fa) and \(fb)\(a.isAligned || b.isAligned ? " (besides plate axes)" : "")", e)
        }
        let k1 = fa.last!, k2 = fb[0]
        guard k1 == k2 else { throw fail("'@' needs matching inner sizes, got shapes \(fa) and \(fb)", e) }
        let g = graph
        var outDims: [Int] = []
        if fa.count == 2 { outDims.append(fa[0]) }
        if fb.count == 2 { outDims.append(fb[1]) }
        if !a.isAligned && !b.isAligned { return try unalignedMatmul(a, b, k1, outDims, e) }

        let plates = try resultPlates([a, b], e)
        if a.isAligned, a.lead == 0, !b.isAligned {
            // Plate elements of the left factor are rows of one product with the shared right factor.
            let left = a.placed(in: plates, freeRank: fa.count)
            let extents = Array(left.shape.prefix(plates.count))
            let rows = Shape.count(extents) * (fa.count == 2 ? fa[0] : 1)
            let flat = g.reshape(left, [rows, k1])
            if b.lead == 0 {
                return Value(node: g.reshape(g.matmul(flat, b.node), extents + outDims), lead: 0, plates: plates)
            }
            let right = fb.count == 1 ? g.reshape(b.node, b.leadShape + [k2, 1]) : b.node
            let out = g.reshape(g.matmul(flat, right), b.leadShape + extents + outDims)
            return Value(node: out, lead: b.lead, plates: plates)
        }
        // General case: batch axes (engine and plate axes) broadcast, one product per batch element.
        let lead = max(a.lead, b.lead)
        func batched(_ v: Value, _ f: [Int]) -> Node {
            var node = v.isAligned ? v.placed(in: plates, freeRank: f.count) : v.aligned(toRank: v.rank)
            let batch = Array(node.shape.dropLast(f.count))
            let padded = Array(repeating: 1, count: lead - v.lead) + batch + (v.isAligned ? [] : Array(repeating: 1, count: plates.count))
            node = g.reshape(node, padded + f)
            return node
        }
        let x = batched(a, fa), y = batched(b, fb)
        let bx = Array(x.shape.dropLast(fa.count)), by = Array(y.shape.dropLast(fb.count))
        guard let batch = try? Shape.broadcast(bx, by) else {
            throw fail("'@' between values whose plate or particle axes do not line up (\(bx) and \(by))", e)
        }
        let left = g.broadcast(g.reshape(x, bx + (fa.count == 1 ? [1, k1] : fa)), to: batch + (fa.count == 1 ? [1, k1] : fa))
        let right = g.broadcast(g.reshape(y, by + (fb.count == 1 ? [k2, 1] : fb)), to: batch + (fb.count == 1 ? [k2, 1] : fb))
        let out = g.reshape(g.matmul(left, right), batch + outDims)
        return Value(node: out, lead: lead, plates: plates)
    }

    /// torch.matmul on values without plates (the engine's leading axes batch).
    func unalignedMatmul(_ a: Value, _ b: Value, _ k: Int, _ outDims: [Int], _ e: Expr) throws(EvaluationError) -> Value {
        let g = graph
        if a.lead == 0 && b.lead == 0 { return Value(node: g.matmul(a.node, b.node), lead: 0) }
        if a.lead == 0 {
            // Shared left factor, batched right: [n, k] @ [lead…, k, m].
            let right = b.rank == 1 ? g.reshape(b.node, b.leadShape + [k, 1]) : b.node
            let left = a.rank == 1 ? g.reshape(a.node, [1, k]) : a.node
            return Value(node: g.reshape(g.matmul(left, right), b.leadShape + outDims), lead: b.lead)
        }
        if b.lead == 0 {
            // Batched left, shared right: flatten the leading axes into rows.
            let rows = Shape.count(a.leadShape) * (a.rank == 2 ? a.shape[0] : 1)
            let out = g.matmul(g.reshape(a.node, [rows, k]), b.node)
            return Value(node: g.reshape(out, a.leadShape + outDims), lead: a.lead)
        }
        guard a.leadShape == b.leadShape else {
            throw fail("'@' between values drawn with different leading axes is not supported", e)
        }
        let left = a.rank == 1 ? g.reshape(a.node, a.leadShape + [1, k]) : a.node
        let right = b.rank == 1 ? g.reshape(b.node, b.leadShape + [k, 1]) : b.node
        return Value(node: g.reshape(g.matmul(left, right), a.leadShape + outDims), lead: a.lead)
    }

    /// `x[i]`: gathers along x's first (per-particle) axis by the integer values of `i`. When
    /// that axis is a plate of x (a per-group param indexed by each unit's group), the plate is
    /// consumed and the result lies in i's plates.
    func gather(_ x: Value, _ i: Value, _ e: Expr) throws(EvaluationError) -> Value {
        guard let extent = x.shape.first else { throw fail("cannot index a scalar", e) }
        if x.isAligned {
            guard x.plates.count == 1 else {
                throw fail("indexing a value that lies in several plates (\(x.plates.map { "'\($0.name)'" }.joined(separator: ", "))) is not supported; index a value with one plate axis", e)
            }
            if let p = x.plates.first, p.subsample != nil {
                throw fail("'\(p.name)' is subsampled, so this value holds only the step's \(p.batchSize) elements of it and cannot be indexed by position; declare it without plates to index it", e)
            }
        }
        if let t = compilation.constantTensor(i), i.lead == 0, !i.isAligned {
            if let bad = t.scalars.first(where: { $0.rounded() != $0 || $0 < 0 || $0 >= Double(extent) }) {
                throw fail("index \(format(bad)) is not an integer in 0..<\(extent)", e)
            }
        }
        if x.lead == 0 {
            return Value(node: graph.gather(x.node, index: i.node), lead: i.lead, plates: i.plates)
        }
        guard x.rank == 1 else {
            throw fail("indexing a drawn value with more than one axis (shape \(x.shape)) is not supported; index a param or data instead", e)
        }
        let xr = Value(node: x.node, lead: x.lead)
        let picked = graph.pick(xr.aligned(toRank: i.rank + 1), index: i.node)
        return Value(node: picked, lead: max(x.lead, i.lead), plates: i.plates)
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

    /// A per-particle axis as a node axis: an integer (over the value's plate and own axes) or
    /// a plate's name.
    func axis(_ a: Expr, of v: Value) throws(EvaluationError) -> Int {
        if case let .name(n) = a.kind {
            guard let plate = compilation.plates[n] else { throw fail("'\(n)' is not a plate (plates: \(compilation.plates.keys.sorted().joined(separator: ", ")))", a) }
            guard let k = v.plates.firstIndex(of: plate) else {
                throw fail("this value does not vary along plate '\(n)' (its plates: \(v.plates.isEmpty ? "none" : v.plates.map { "'\($0.name)'" }.joined(separator: ", "))); name one of its plates or an axis number", a)
            }
            return v.lead + k
        }
        let i = try integerLiteral(a)
        guard let k = Shape.axis(i, rank: v.rank), v.rank > 0 else { throw fail("axis \(i) is out of range for shape \(v.shape)", a) }
        return k + v.lead
    }

    /// A size argument of reshape and expand: an integer literal (−1: inferred or kept), a
    /// plate's name (its size in a step), or `len(x)`.
    func size(_ a: Expr) throws(EvaluationError) -> Int {
        if case let .name(n) = a.kind {
            guard let plate = compilation.plates[n] else { throw fail("'\(n)' is not a plate; a size is an integer, a plate's name or len(x)", a) }
            return plate.batchSize
        }
        if case .call = a.kind {
            let v = try eval(a)
            guard let t = compilation.constantTensor(v), t.count == 1, let n = exactInt(t.scalar) else { throw fail("a size must be an integer", a) }
            return n
        }
        return try integerLiteral(a)
    }

    /// The plates a value keeps after the axes `axes` (node axes) are removed.
    func remaining(_ v: Value, removing axes: [Int]) -> [Plate] {
        v.plates.enumerated().filter { !axes.contains(v.lead + $0.offset) }.map(\.element)
    }

    func call(_ name: String, _ args: [Expr], _ e: Expr) throws(EvaluationError) -> Value {
        let g = graph
        guard let f = BuiltinFunction(rawValue: name) else { throw fail("unknown function '\(name)'", e) }
        func one() throws(EvaluationError) -> Value { try eval(args[0]) }
        switch f {
        case .exp: let v = try one(); return v.with(g.exp(v.node))
        case .log: let v = try one(); return v.with(g.log(v.node))
        case .log1p: let v = try one(); return v.with(g.log1p(v.node))
        case .expm1: let v = try one(); return v.with(g.expm1(v.node))
        case .sqrt: let v = try one(); return v.with(g.sqrt(v.node))
        case .abs: let v = try one(); return v.with(g.abs(v.node))
        case .sigmoid: let v = try one(); return v.with(g.sigmoid(v.node))
        case .logit: let v = try one(); return v.with(g.logit(v.node))
        case .softplus: let v = try one(); return v.with(g.softplus(v.node))
        case .tanh: let v = try one(); return v.with(g.tanh(v.node))
        case .softmax, .logSoftmax, .logsumexp:
            let v = try one()
            guard v.rank > 0 else { throw fail("\(name) needs at least one axis, got a scalar", e) }
            let ax = args.count > 1 ? try axis(args[1], of: v) : v.lead + v.rank - 1
            switch f {
            case .softmax: return v.with(g.softmax(v.node, axis: ax))
            case .logSoftmax: return v.with(g.logSoftmax(v.node, axis: ax))
            default: return v.with(g.logsumexp(v.node, axis: ax), plates: remaining(v, removing: [ax]))
            }
        case .sum, .mean:
            let v = try one()
            let axes: [Int] = args.count > 1 ? [try axis(args[1], of: v)] : Array(v.lead..<(v.lead + v.rank))
            if axes.isEmpty { return v }
            let count = axes.reduce(1) { $0 * v.node.shape[$1] }
            var node = v.lead == 0 && axes.count == v.rank ? g.sum(v.node) : g.sum(v.node, axes: axes)
            if f == .mean { node = node * (1 / Double(max(count, 1))) }
            return v.with(node, plates: remaining(v, removing: axes))
        case .transpose:
            let v = try one()
            if v.isAligned {
                guard v.free.count >= 2 else {
                    throw fail("transpose swaps a value's own last two axes; this value has \(v.free.count) besides its plate axes (plates align by name, they need no transpose)", e)
                }
                let r = v.node.rank
                return v.with(g.permute(v.node, Array(0..<(r - 2)) + [r - 1, r - 2]))
            }
            return v.with(v.rank >= 2 ? g.transpose(v.node) : v.node)
        case .diag:
            let v = try one()
            guard !v.isAligned else { throw fail("diag of a value with plate axes is not supported", e) }
            switch v.rank {
            case 1: return v.with(g.diag(v.node, embed: true))
            case 2 where v.shape[0] == v.shape[1]: return v.with(g.diag(v.node, embed: false))
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
            if case let .name(n) = args[0].kind, compilation.env[n] == nil, let plate = compilation.plates[n] {
                return Value(node: g.constant(Double(plate.batchSize)), lead: 0)
            }
            let v = try one()
            guard let n = v.shape.first else { throw fail("len of a scalar", e) }
            return Value(node: g.constant(Double(n)), lead: 0)
        case .unsqueeze:
            let v = try one()
            let own = v.isAligned ? v.free : v.shape
            let a = try integerLiteral(args[1])
            guard let k = a < 0 ? (a >= -(own.count + 1) ? own.count + 1 + a : nil) : (a <= own.count ? a : nil) else {
                throw fail("axis \(a) is out of range for a new axis among \(own.count) own axes", args[1])
            }
            var shape = own
            shape.insert(1, at: k)
            return v.with(g.reshape(v.node, Array(v.node.shape.prefix(v.node.rank - own.count)) + shape))
        case .reshape, .expand:
            let v = try one()
            let own = v.isAligned ? v.free : v.shape
            var dims: [Int] = []
            for a in args.dropFirst() {
                let n = try size(a)
                guard n == -1 || (n >= 1 && n <= 100_000_000) else { throw fail("a size must be -1 or from 1 to 100000000, got \(n)", a) }
                dims.append(n)
            }
            let outer = Array(v.node.shape.prefix(v.node.rank - own.count))
            if f == .reshape {
                guard dims.filter({ $0 == -1 }).count <= 1 else { throw fail("reshape takes at most one -1", e) }
                let total = Shape.count(own)
                guard let known = checkedCount(dims.filter { $0 != -1 }), known <= total else {
                    throw fail("cannot reshape \(own) (\(total) numbers) to \(dims)", e)
                }
                if let k = dims.firstIndex(of: -1) {
                    guard total % known == 0 else { throw fail("cannot reshape \(own) (\(total) numbers) to \(dims)", e) }
                    dims[k] = total / known
                }
                guard checkedCount(dims) == total else { throw fail("cannot reshape \(own) (\(total) numbers) to \(dims)", e) }
                return v.with(g.reshape(v.node, outer + dims))
            }
            guard dims.count >= own.count else { throw fail("expand needs at least as many sizes as the value's own axes \(own)", e) }
            let padded = Array(repeating: 1, count: dims.count - own.count) + own
            for (k, n) in dims.enumerated() where n != -1 && padded[k] != 1 && padded[k] != n {
                throw fail("cannot expand an axis of \(padded[k]) to \(n) (only axes of length 1 repeat)", e)
            }
            let target = zip(dims, padded).map { $0 == -1 ? $1 : $0 }
            guard let count = checkedCount(outer + target), count <= 50_000_000 else {
                throw fail("expand would hold more than 50 million numbers", e)
            }
            return v.with(g.broadcast(g.reshape(v.node, outer + padded), to: outer + target))
        }
    }
}

/// The product of `dims`, or nil when it overflows.
func checkedCount(_ dims: [Int]) -> Int? {
    var n = 1
    for d in dims {
        let (r, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = r
    }
    return n
}
