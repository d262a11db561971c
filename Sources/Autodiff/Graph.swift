import Numerics

/// Why a graph cannot be built or compiled: a shape mismatch or a misuse of an op, with the
/// node where it happened. Builder calls never trap on user input; the first problem is kept
/// and `compile` throws it.
public struct GraphError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A sentence saying what is wrong and with which shapes.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What the builder knows of one node: how it is computed and its shape.
struct NodeRecord {
    var op: OpCode
    var inputs: [Int]
    var shape: [Int]
    /// Static index table (`select`, `reduce`).
    var table: [Int] = []
    /// Op-specific integer attributes (see ``OpCode``).
    var ints: [Int] = []
    /// Op-specific reals (`scale`, `shift`, `powScalar`, `clamp`).
    var reals: [Double] = []
    /// Values of constants and initial values of parameters.
    var initial: [Double]? = nil
    /// Name of a parameter or input.
    var name: String? = nil
}

/// A static computation graph, built once per program through this Swift API and compiled
/// into a ``Tape`` that replays it with no allocation. Nodes are appended in topological
/// order; every op checks shapes as it is recorded.
///
/// Broadcasting follows NumPy: element-wise ops broadcast a single element in place and other
/// shapes through an explicit `select` node whose gradient sums over the repeated axes.
public final class Graph {
    var records: [NodeRecord] = []
    var customOps: [any CustomOperation] = []
    /// The first problem met while building; `compile` throws it.
    public private(set) var error: GraphError?
    /// What building may allocate (see ``GraphLimits``); set it before recording nodes.
    public var limits = GraphLimits()
    /// The first limit passed, if any (also ``error`` unless a shape error came first).
    public internal(set) var limitError: GraphError?
    /// Bytes of constant values, initial values and index tables admitted so far.
    public internal(set) var heldBytes = 0
    /// Per node, whether it is computed from constants alone.
    var constantFlags: [Bool] = []
    /// When set, the tapes compiled from this graph compute their constant nodes at their
    /// first replay rather than when compiled (validation compiles without computing).
    public var defersFolding = false
    /// The fusion rules applied when this graph is compiled (all of them unless a test
    /// compares against the unfused graph).
    public var fusions = Set(Fusion.allCases)

    public init() {}

    /// Number of nodes recorded.
    public var nodeCount: Int { records.count }

    /// An upper bound on the bytes a compiled tape of this graph holds (every node's values and
    /// adjoint, plus index tables): what a service checks before compiling untrusted programs.
    /// Kept as nodes are recorded (saturating), so checking it after every statement is free.
    public private(set) var estimatedBytes = 0
    /// Numbers held by the graph's parameters.
    public private(set) var parameterElements = 0
    /// Number of parameters.
    public private(set) var parameterCount = 0
    /// Entries of every index table.
    public private(set) var tableEntries = 0

    /// Adds a recorded node to the running totals.
    private func count(_ r: NodeRecord) {
        func add(_ a: Int, _ b: Int) -> Int { let (s, o) = a.addingReportingOverflow(b); return o ? .max : s }
        let n = Shape.count(r.shape)
        let (bytes, overflow) = n.multipliedReportingOverflow(by: 16)
        estimatedBytes = add(add(estimatedBytes, overflow ? .max : bytes), 8 * r.table.count)
        tableEntries += r.table.count
        if r.op == .parameter { parameterElements = add(parameterElements, n); parameterCount += 1 }
    }

    /// The node with position `id` (ids are topological: inputs come first).
    public func node(_ id: Int) -> Node { Node(graph: self, id: id) }

    /// Positions of the nodes `id` is computed from.
    public func inputIDs(_ id: Int) -> [Int] { records[id].inputs }

    /// For every node, whether it is computed (transitively) from any of `sources`: the
    /// dependency analysis behind downstream costs. One pass over the graph.
    public func dependence(on sources: [Node]) -> [Bool] {
        var dep = Array(repeating: false, count: records.count)
        for s in sources { check(s); dep[s.id] = true }
        for i in 0..<records.count where !dep[i] { dep[i] = records[i].inputs.contains { dep[$0] } }
        return dep
    }

    func append(_ r: NodeRecord) -> Node {
        var r = r
        if !admitShape(r.shape) {
            r.shape = Graph.standIn(r.shape); r.table = []
            if r.initial != nil { r.initial = [0] }
        }
        constantFlags.append(computesConstant(r))
        count(r)
        records.append(r)
        return Node(graph: self, id: records.count - 1)
    }

    /// A stand-in for a node whose allocation was refused (the graph holds the limit error).
    func refused(_ op: OpCode, _ inputs: [Node], _ shape: [Int]) -> Node {
        append(NodeRecord(op: op, inputs: inputs.map(\.id), shape: Graph.standIn(shape)))
    }

    func fail(_ message: String) {
        if error == nil { error = GraphError(message) }
    }

    func check(_ n: Node) {
        precondition(n.graph === self, "node \(n.id) belongs to another graph")
    }

    // MARK: Leaves

    /// A learnable tensor, starting at `initial`.
    public func parameter(_ name: String, _ initial: Tensor) -> Node {
        guard admit(shape: initial.shape, entries: initial.count) else {
            return append(NodeRecord(op: .parameter, inputs: [], shape: Graph.standIn(initial.shape), initial: [0], name: name))
        }
        return append(NodeRecord(op: .parameter, inputs: [], shape: initial.shape, initial: initial.scalars, name: name))
    }

    /// A tensor set from outside before each replay (`Tape.setValue`); never differentiated.
    public func input(_ name: String, shape: [Int]) -> Node {
        guard admit(shape: shape, entries: Shape.count(shape)) else {
            return append(NodeRecord(op: .input, inputs: [], shape: Graph.standIn(shape), initial: [0], name: name))
        }
        return append(NodeRecord(op: .input, inputs: [], shape: shape, initial: Array(repeating: 0, count: Shape.count(shape)), name: name))
    }

    /// A fixed tensor.
    public func constant(_ t: Tensor) -> Node {
        guard admit(shape: t.shape, entries: t.count) else {
            return append(NodeRecord(op: .constant, inputs: [], shape: Graph.standIn(t.shape), initial: [0]))
        }
        return append(NodeRecord(op: .constant, inputs: [], shape: t.shape, initial: t.scalars))
    }

    /// A scalar constant.
    public func constant(_ x: Double) -> Node { constant(Tensor(x)) }

    /// The values of a constant node (nil for other nodes): lets builders validate data.
    public func constantValue(_ n: Node) -> Tensor? {
        check(n)
        let r = records[n.id]
        guard r.op == .constant, let v = r.initial else { return nil }
        return Tensor(shape: r.shape, scalars: v)
    }

    // MARK: Element-wise

    func unary(_ op: OpCode, _ x: Node, scalar: Double = 0, scalar2: Double = 0) -> Node {
        check(x)
        return append(NodeRecord(op: op, inputs: [x.id], shape: x.shape, reals: [scalar, scalar2]))
    }

    /// Broadcasts `x` to `shape` unless it already has that shape or a single element
    /// (which kernels broadcast in place).
    func operand(_ x: Node, to shape: [Int]) -> Node {
        if x.shape == shape || (x.count == 1 && Shape.count(shape) >= 1) { return x }
        return broadcast(x, to: shape)
    }

    func binary(_ op: OpCode, _ l: Node, _ r: Node) -> Node {
        check(l); check(r)
        let shape: [Int]
        do { shape = try Shape.broadcast(l.shape, r.shape) } catch {
            fail("\(op): \(error.message)")
            return append(NodeRecord(op: op, inputs: [l.id, r.id], shape: l.shape, ints: [1, 1]))
        }
        let a = operand(l, to: shape), b = operand(r, to: shape)
        return append(NodeRecord(op: op, inputs: [a.id, b.id], shape: shape,
                                 ints: [a.count == Shape.count(shape) ? 1 : 0, b.count == Shape.count(shape) ? 1 : 0]))
    }

    /// A three-input element-wise op (the fused log-densities): inputs broadcast to `shape`.
    func ternary(_ op: OpCode, _ x: Node, _ y: Node, _ z: Node) -> Node {
        check(x); check(y); check(z)
        let shape: [Int]
        do { shape = try Shape.broadcast([x.shape, y.shape, z.shape]) } catch {
            fail("\(op): \(error.message)")
            return append(NodeRecord(op: op, inputs: [x.id, y.id, z.id], shape: x.shape, ints: [1, 1, 1]))
        }
        let n = Shape.count(shape)
        let ops = [x, y, z].map { operand($0, to: shape) }
        return append(NodeRecord(op: op, inputs: ops.map(\.id), shape: shape, ints: ops.map { $0.count == n ? 1 : 0 }))
    }

    // MARK: Shapes and selection

    /// A node computed by a fixed gather table over `x` (negative entries give 0).
    /// The table must have been admitted (``tabled(_:shape:_:)``) before it was built.
    func select(_ x: Node, table: [Int], shape: [Int]) -> Node {
        check(x)
        guard table.count == Shape.count(shape), table.allSatisfy({ $0 < x.count }) else {
            fail("select: table of \(table.count) entries does not fit shape \(shape) over \(x.count) elements")
            return refused(.select, [x], shape)
        }
        return append(NodeRecord(op: .select, inputs: [x.id], shape: shape, table: table))
    }

    /// A `select` of `x` into `shape` whose table `build` makes, admitted against the limits
    /// before it is built (a stand-in when refused).
    func tabled(_ x: Node, shape: [Int], _ build: () -> [Int]) -> Node {
        guard admit(shape: shape, entries: Shape.count(shape)) else { return refused(.select, [x], shape) }
        return select(x, table: build(), shape: shape)
    }

    /// `x` repeated to `shape` (NumPy broadcasting).
    public func broadcast(_ x: Node, to shape: [Int]) -> Node {
        check(x)
        if x.shape == shape { return x }
        let lead = shape.count - x.rank
        guard lead >= 0, x.shape.indices.allSatisfy({ x.shape[$0] == shape[lead + $0] || x.shape[$0] == 1 }) else {
            fail("broadcast: shape \(x.shape) cannot broadcast to \(shape)")
            return refused(.select, [x], shape)
        }
        // Only axes of one added: the same elements in the same order, a free view — unless x
        // is a parameter or an input, whose buffer changes between replays (an optimiser step,
        // a baseline update), while a broadcast's value must stay what the replay computed.
        let root = records[throughViews(x.id)].op
        if Shape.count(shape) == x.count && root != .parameter && root != .input { return reshape(x, shape) }
        return tabled(x, shape: shape) { (try? Shape.broadcastIndexMap(from: x.shape, to: shape)) ?? [] }
    }

    /// The same elements under another shape.
    public func reshape(_ x: Node, _ shape: [Int]) -> Node {
        check(x)
        guard Shape.count(shape) == x.count else {
            fail("reshape: cannot view \(x.count) elements of \(x.shape) as \(shape)")
            return refused(.select, [x], shape)
        }
        if shape == x.shape { return x }
        return append(NodeRecord(op: .view, inputs: [x.id], shape: shape))
    }

    /// Axes permuted: output axis `i` is input axis `perm[i]`.
    public func permute(_ x: Node, _ perm: [Int]) -> Node {
        check(x)
        guard perm.sorted() == Array(0..<x.rank) else {
            fail("permute: \(perm) is not a permutation of the \(x.rank) axes of \(x.shape)")
            return x
        }
        let st = Shape.strides(x.shape)
        let shape = perm.map { x.shape[$0] }
        return tabled(x, shape: shape) { Shape.stridedIndexMap(shape: shape, strides: perm.map { st[$0] }) }
    }

    /// Swaps the last two axes (a vector is returned unchanged, as in torch's `.T` on 1-d).
    public func transpose(_ x: Node) -> Node {
        guard x.rank >= 2 else { return x }
        var p = Array(0..<x.rank)
        p.swapAt(x.rank - 1, x.rank - 2)
        return permute(x, p)
    }

    /// Lower triangle of the last two axes (`k` = diagonal offset as in torch.tril), zeros above.
    public func tril(_ x: Node, diagonal k: Int = 0) -> Node {
        guard x.rank >= 2 else { fail("tril: needs a matrix, got \(x.shape)"); return x }
        let r = x.shape[x.rank - 2], c = x.shape[x.rank - 1]
        return tabled(x, shape: x.shape) {
            (0..<x.count).map { i -> Int in
                let j = i % c, row = (i / c) % r
                return j - row <= k ? i : -1
            }
        }
    }

    /// torch's `LowerCholeskyTransform` of the square matrices `[..., d, d]`: the strict lower
    /// triangle kept, the diagonal exponentiated, zeros above (the `lower_cholesky` constraint's
    /// map, one instruction where tril, diag, exp, diag and add took five passes).
    public func lowerCholeskyFactor(_ x: Node) -> Node {
        guard x.rank >= 2, let d = x.shape.last, x.shape[x.rank - 2] == d else {
            fail("lowerCholeskyFactor: needs square matrices, got \(x.shape)"); return x
        }
        return append(NodeRecord(op: .lowerCholeskyFactor, inputs: [x.id], shape: x.shape, ints: [d]))
    }

    /// `diag` as torch defines it: a vector `[..., d]` becomes a diagonal matrix `[..., d, d]`;
    /// a matrix `[..., d, d]` gives its diagonal `[..., d]`.
    public func diag(_ x: Node, embed: Bool? = nil) -> Node {
        let toMatrix = embed ?? (x.rank == 1)
        if toMatrix {
            guard let d = x.shape.last else { fail("diag: needs a vector"); return x }
            let batch = x.count / max(d, 1)
            return tabled(x, shape: x.shape + [d]) {
                var table = Array(repeating: -1, count: batch * d * d)
                for b in 0..<batch { for i in 0..<d { table[b * d * d + i * d + i] = b * d + i } }
                return table
            }
        }
        guard x.rank >= 2, x.shape[x.rank - 1] == x.shape[x.rank - 2] else {
            fail("diag: needs a square matrix, got \(x.shape)"); return x
        }
        let d = x.shape[x.rank - 1], batch = x.count / max(d * d, 1)
        return tabled(x, shape: Array(x.shape.dropLast())) {
            var table: [Int] = []
            for b in 0..<batch { for i in 0..<d { table.append(b * d * d + i * d + i) } }
            return table
        }
    }

    /// Slice `start..<end` along `axis`.
    public func slice(_ x: Node, axis: Int, _ range: Range<Int>) -> Node {
        guard let ax = Shape.axis(axis, rank: x.rank), range.lowerBound >= 0, range.upperBound <= x.shape[ax] else {
            fail("slice: \(range) out of range on axis \(axis) of \(x.shape)"); return x
        }
        var shape = x.shape
        shape[ax] = range.count
        let st = Shape.strides(x.shape)
        let base = range.lowerBound * st[ax]
        return tabled(x, shape: shape) { Shape.stridedIndexMap(shape: shape, strides: st).map { $0 + base } }
    }

    /// Stacks equally shaped nodes along a new leading axis.
    public func stack(_ xs: [Node]) -> Node {
        guard let first = xs.first else { fail("stack: nothing to stack"); return constant(0) }
        guard xs.allSatisfy({ $0.shape == first.shape }) else {
            fail("stack: shapes differ: \(xs.map(\.shape))"); return first
        }
        let flat = concatFlat(xs)
        return reshape(flat, [xs.count] + first.shape)
    }

    /// Concatenation of flattened nodes: an `add` of zero-padded selects would cost more, so
    /// this records a `select` per input into a `reduce` sum.
    func concatFlat(_ xs: [Node]) -> Node {
        var total = 0
        for x in xs {
            let (sum, overflow) = total.addingReportingOverflow(x.count)
            total = overflow ? .max : sum
        }
        var parts: [Node] = []
        var off = 0
        for x in xs {
            let start = off
            parts.append(tabled(x, shape: [total]) {
                var table = Array(repeating: -1, count: total)
                for i in 0..<x.count { table[start + i] = i }
                return table
            })
            off = min(off + x.count, total)
        }
        return parts.dropFirst().reduce(parts[0]) { $0 + $1 }
    }

    // MARK: Reductions

    /// Sum of every element (a scalar).
    public func sum(_ x: Node) -> Node {
        check(x)
        return append(NodeRecord(op: .sumAll, inputs: [x.id], shape: []))
    }

    /// Whether `n` is computed from constants alone (its value is known at compile time).
    public func isConstantNode(_ n: Node) -> Bool { check(n); return isConstant(n.id) }

    /// The node behind any chain of free views.
    func throughViews(_ id: Int) -> Int {
        var i = id
        while records[i].op == .view { i = records[i].inputs[0] }
        return i
    }

    /// Whether a node's value is fixed when the graph is compiled (constants and what is
    /// computed from constants alone).
    /// Kept per node as it is recorded, so the answer is one lookup (a recursive walk would
    /// revisit shared inputs exponentially often).
    func isConstant(_ id: Int) -> Bool { constantFlags[id] }

    /// Whether a record about to be appended is computed from constants alone.
    func computesConstant(_ r: NodeRecord) -> Bool {
        switch r.op {
        case .constant: return true
        case .parameter, .input, .normalNoise, .uniformNoise, .gumbelNoise, .gammaSample, .poissonSample,
             .binomialSample, .subsample, .custom: return false
        default: return !r.inputs.isEmpty && r.inputs.allSatisfy { constantFlags[$0] }
        }
    }

    /// Sum over `axes` (negative axes count from the end).
    public func sum(_ x: Node, axes: [Int], keepDims: Bool = false) -> Node {
        check(x)
        let norm = axes.compactMap { Shape.axis($0, rank: x.rank) }
        guard norm.count == axes.count else { fail("sum: axes \(axes) out of range for \(x.shape)"); return x }
        if Set(norm).count == x.rank && !keepDims { return sum(x) }
        if norm == [x.rank - 1] {
            let k = x.shape[x.rank - 1]
            return append(NodeRecord(op: .sumLast, inputs: [x.id], shape: Shape.reduced(x.shape, axes: norm, keepDims: keepDims), ints: [k]))
        }
        let kept = Shape.reduced(x.shape, axes: norm, keepDims: true)
        let out = Shape.reduced(x.shape, axes: norm, keepDims: keepDims)
        guard admit(shape: x.shape, entries: x.count) else { return refused(.reduce, [x], out) }
        let table = (try? Shape.broadcastIndexMap(from: kept, to: x.shape)) ?? []
        return append(NodeRecord(op: .reduce, inputs: [x.id], shape: out, table: table))
    }

    /// Mean over `axes`, or of every element when `axes` is nil.
    public func mean(_ x: Node, axes: [Int]? = nil) -> Node {
        guard let axes else { return sum(x) * (1 / Double(max(x.count, 1))) }
        let n = axes.compactMap { Shape.axis($0, rank: x.rank) }.reduce(1) { $0 * x.shape[$1] }
        return sum(x, axes: axes) * (1 / Double(max(n, 1)))
    }

    /// Sums `x` down to `shape`: the reduction that undoes broadcasting `shape` to `x.shape`.
    public func sum(_ x: Node, to shape: [Int]) -> Node {
        check(x)
        if x.shape == shape { return x }
        guard admit(shape: x.shape, entries: x.count) else { return refused(.reduce, [x], shape) }
        guard let table = try? Shape.broadcastIndexMap(from: shape, to: x.shape) else {
            fail("sum: \(x.shape) does not reduce to \(shape)"); return x
        }
        return append(NodeRecord(op: .reduce, inputs: [x.id], shape: shape, table: table))
    }

    // MARK: Normalisations

    func alongAxis(_ op: OpCode, _ x: Node, _ axis: Int) -> Node {
        check(x)
        guard let ax = Shape.axis(axis, rank: x.rank), x.rank > 0 else {
            fail("\(op): axis \(axis) out of range for \(x.shape)"); return x
        }
        let outer = x.shape[..<ax].reduce(1, *), k = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *)
        var shape = x.shape
        if op == .logsumexp { shape.remove(at: ax) }
        return append(NodeRecord(op: op, inputs: [x.id], shape: shape, ints: [outer, k, inner]))
    }

    /// softmax along `axis` (default last).
    public func softmax(_ x: Node, axis: Int = -1) -> Node { alongAxis(.softmax, x, axis) }
    /// log_softmax along `axis`.
    public func logSoftmax(_ x: Node, axis: Int = -1) -> Node { alongAxis(.logSoftmax, x, axis) }
    /// logsumexp along `axis`; the axis is removed.
    public func logsumexp(_ x: Node, axis: Int = -1) -> Node { alongAxis(.logsumexp, x, axis) }

    // MARK: Gradient control

    /// The value of `x` with no gradient flowing back through it.
    public func stopGradient(_ x: Node) -> Node {
        check(x)
        return append(NodeRecord(op: .stopGradient, inputs: [x.id], shape: x.shape))
    }

    /// Forward value `hard`, backward the gradient of the output passed unchanged to `soft`
    /// (the straight-through rule). Shapes must match.
    public func straightThrough(hard: Node, soft: Node) -> Node {
        check(hard); check(soft)
        if hard.shape != soft.shape { fail("straightThrough: hard \(hard.shape) and soft \(soft.shape) differ") }
        return append(NodeRecord(op: .substitute, inputs: [hard.id, soft.id], shape: hard.shape))
    }

    // MARK: Indexing

    /// `x[index]`: gathers along the first axis of `x` by a node of integer values
    /// (`mu[z]`); the result has shape `index.shape + x.shape.dropFirst()`. No gradient flows
    /// to `index`. An index outside `0..<x.shape[0]` makes the replay report a fault.
    public func gather(_ x: Node, index: Node) -> Node {
        check(x); check(index)
        guard x.rank >= 1 else { fail("gather: cannot index a scalar"); return x }
        let r = x.count / max(x.shape[0], 1)
        return append(NodeRecord(op: .gather, inputs: [x.id, index.id], shape: index.shape + Array(x.shape.dropFirst()),
                                 ints: [index.count, r, x.shape[0]]))
    }

    // MARK: Random draws

    /// Noise of `shape` drawn at every replay from stream `stream` of the tape's seed:
    /// standard normal, uniform on (0, 1), or standard Gumbel. Draws depend only on
    /// (seed, stream, step), so a replay at a given step is reproducible.
    public func noise(_ kind: NoiseKind, shape: [Int], stream: Int) -> Node {
        let op: OpCode = switch kind { case .normal: .normalNoise; case .uniform: .uniformNoise; case .gumbel: .gumbelNoise }
        return append(NodeRecord(op: op, inputs: [], shape: shape, ints: [stream]))
    }

    // MARK: Custom rules

    /// A node computed by a user-supplied forward and backward rule over `inputs`.
    /// This is the open extension point: each replay makes one dynamic call per such node
    /// (never per element); the built-in estimator rules are op codes instead.
    public func custom(_ op: any CustomOperation, inputs: [Node], shape: [Int]) -> Node {
        inputs.forEach(check)
        customOps.append(op)
        return append(NodeRecord(op: .custom, inputs: inputs.map(\.id), shape: shape, ints: [customOps.count - 1]))
    }
}

/// Which standard noise a ``Graph/noise(_:shape:stream:)`` node draws.
public enum NoiseKind: Sendable {
    /// N(0, 1).
    case normal
    /// U(0, 1), open interval.
    case uniform
    /// Gumbel(0, 1): −log(−log u).
    case gumbel
}
