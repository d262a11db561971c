import Numerics

/// A rewrite the compiler applies to a graph before laying out its tape: each recognises a
/// subgraph by the ops and shapes of its nodes and replaces its root with one fused op that
/// computes the same value (to rounding) with the same gradients, so a replay makes one pass
/// where the graph makes several. Which rules run is ``Graph/fusions`` (all by default);
/// ``Tape/appliedFusions`` says where each applied.
public enum Fusion: String, CaseIterable, Sendable, Hashable {
    /// `Σ log Bernoulli(y | logits = X·W)` with a constant design matrix X `[N, D]`, constant
    /// labels and weights `[P, D]` → `bernoulliLinearSum`, which streams X once per step in
    /// row blocks (X re-laid at compile time) and keeps ∂/∂W beside the value.
    case linearBernoulliSum
    /// `c · Σ x` (a sum whose only consumer scales it) → `scaledSum`.
    case scaledSum
    /// A chain of additions, subtractions, negations, shifts and scalings of scalars (the ELBO
    /// and the surrogate loss over the sites' terms) → one `linearCombination` of its leaves.
    case scalarCombination
    /// A relaxed (or relaxed straight-through) one-hot categorical draw in a plate with the
    /// guide's log-density of it — uniform noise, `−log(−log u)`, `softmax((ℓ + G)/τ)`, its
    /// clamp, `oneHot(argmax)` with the straight-through rule, and `RelaxedOneHotCategorical`'s
    /// log-density, about twenty per-element nodes — → one `relaxedOneHotPlate` instruction.
    /// Log-softmax normalisations of the logits that nothing else reads are absorbed too
    /// (the draw and its density do not change when a row of logits is shifted).
    case relaxedOneHotPlate
    /// A categorical draw by Gumbel-max in a plate with the guide's log-density of it — the
    /// log-softmax of the logits, uniform noise and `−log(−log u)`, their sum, its argmax and
    /// the pick of the normalised logits at the draw (a score-function site's sample and
    /// log q) → one `categoricalDrawPlate` instruction: one pass over the plate's rows forward
    /// (one exp an entry and one log a row besides the noise's two logs an entry) and one
    /// backward, the same noise (and draw, but for ties within rounding). Picks at the draw
    /// from a small table broadcast over the rows (the model's `mu[z]`, its prior's
    /// log-probabilities) are read from the table by the same instruction, without the
    /// broadcast.
    case categoricalDrawPlate
    /// `Σ_last (x ⊙ select(y))` — an element-wise product with a broadcast, summed over the last
    /// axis, product and broadcast read by nothing else — → one `rowDot` pass that reads `y`
    /// through the broadcast's table.
    case rowDot
    /// `log Normal(x | loc, scale)` of the guide's own draw `x = loc + scale·ε` (ε a normal-noise
    /// node; the same loc, or the same broadcast of it, and the same scale node) →
    /// `normalDrawLogProb(ε, scale)` = −ε²/2 − log scale − log √(2π). The value is the same to
    /// rounding and so is every parameter's gradient — exactly, not only in expectation: the
    /// density of the draw does not depend on loc, and its total derivative in scale is −1/scale
    /// (the direct term and the path through x cancel in ε) — so the draw's adjoint no longer
    /// carries the density's term, and the loc broadcast the density read is dropped.
    case normalDrawLogProb
    /// The same for a multivariate Normal guide: `mvnTrilLogProb(x, loc, L)` of its own draw
    /// `x = loc + ε·Lᵀ` (ε a normal-noise node, Lᵀ a transpose of the density's L, L a
    /// `lower_cholesky` map or a Cholesky factor, so lower triangular with a positive diagonal)
    /// → `mvnDrawLogProb(ε, L)` = −‖ε‖²/2 − Σ log L_ii − d log √(2π) a row: no triangular solves,
    /// and ∂L = −(Σ_s ∂ℓ_s) diag(1/L_ii) exactly. The OMT and AVF draws have their own backward
    /// rules and are not matched.
    case mvnDrawLogProb
    /// `a + b·c` (an element-wise sum whose other operand is a product read by nothing else:
    /// a reparameterised draw loc + scale·ε) → one `multiplyAdd`, the same value bit for bit;
    /// an identity broadcast of the loc (a parameter over one particle) is read through.
    case multiplyAdd
    /// `c · Σ log Normal(x | loc, scale)` (a site's summed term; also the sum of a fused
    /// `normalDrawLogProb`) → one `normalLogProbSum` (`normalDrawLogProbSum`) instruction:
    /// no per-element value or adjoint buffer, the same sum (the element values are summed in
    /// `svm_sum`'s order). log scale is computed once for a constant scale and read from the
    /// argument of `exp` for a positive-constrained one; a loc broadcast read by nothing else
    /// (a latent over a data plate) is read through its table.
    case normalLogProbSum
}

/// The outcome of the fusion pass over one graph: the rewritten records (the graph's own,
/// with fused roots replaced in place and helper nodes appended) and a topological order in
/// which every helper comes just before the root that reads it.
struct FusedGraph {
    var records: [NodeRecord]
    /// Node ids in an order where inputs come first.
    var order: [Int]
    /// The rules applied, with the node each replaced.
    var applied: [(fusion: Fusion, node: Int)]

    /// Runs the enabled rules of `graph` over a copy of its records. `keep` are nodes whose
    /// values must stay computed by their own instruction (requested outputs): never folded
    /// into another node's fusion, though they may be fused roots themselves.
    init(_ graph: Graph, keep: Set<Int>) {
        records = graph.records
        applied = []
        order = []
        let original = records.count
        var helpers: [Int: [Int]] = [:]
        let enabled = graph.fusions

        func throughViews(_ id: Int) -> Int {
            var i = id
            while records[i].op == .view { i = records[i].inputs[0] }
            return i
        }
        func isConstant(_ id: Int) -> Bool { id < original ? graph.isConstant(id) : records[id].op == .constant }
        func addHelper(_ r: NodeRecord, before root: Int) -> Int {
            records.append(r)
            helpers[root, default: []].append(records.count - 1)
            return records.count - 1
        }

        if enabled.contains(.linearBernoulliSum) {
            for root in 0..<original where records[root].op == .sumAll {
                guard let fused = linearBernoulli(root, throughViews: throughViews, isConstant: isConstant) else { continue }
                let relaid = addHelper(NodeRecord(op: .blockRows, inputs: [fused.design], shape: [fused.rows * fused.k],
                                                  ints: [fused.rows, fused.k, Tape.linearBlockRows]), before: root)
                records[root] = NodeRecord(op: .bernoulliLinearSum, inputs: [relaid, fused.weights, fused.labels], shape: [],
                                           ints: [fused.batch, fused.rows, fused.k, fused.labelStride])
                applied.append((.linearBernoulliSum, root))
            }
        }

        if enabled.contains(.relaxedOneHotPlate) {
            let users = readersThroughViews(keep: keep)
            for root in 0..<original where records[root].op == .softmax {
                guard let site = relaxedOneHot(root, users: users, keep: keep, isConstant: isConstant) else { continue }
                let reals = addHelper(NodeRecord(op: .constant, inputs: [], shape: [5], initial: site.reals), before: site.soft)
                records[site.soft] = NodeRecord(op: .relaxedOneHotPlate, inputs: [site.logits, site.temperature, site.offset, reals],
                                                shape: records[site.soft].shape,
                                                ints: [site.rows, site.k, site.stream, site.value ?? -1, site.logProb])
                for out in [site.value, site.logProb].compactMap({ $0 }) {
                    records[out] = NodeRecord(op: .fusedOutput, inputs: [site.soft], shape: records[out].shape)
                }
                applied.append((.relaxedOneHotPlate, site.soft))
            }
        }

        if enabled.contains(.categoricalDrawPlate) {
            let users = readersThroughViews(keep: keep)
            for root in 0..<original where records[root].op == .argmax {
                guard let site = categoricalDraw(root, users: users, keep: keep, isConstant: isConstant) else { continue }
                records[site.draw] = NodeRecord(op: .categoricalDrawPlate, inputs: [site.logits] + site.gathers.map(\.source),
                                                shape: records[site.draw].shape, table: site.gathers.flatMap(\.entries),
                                                ints: [site.rows, site.k, site.stream, site.logProb] + site.gathers.map(\.pick))
                for out in [site.logProb] + site.gathers.map(\.pick) {
                    records[out] = NodeRecord(op: .fusedOutput, inputs: [site.draw], shape: records[out].shape)
                }
                applied.append((.categoricalDrawPlate, site.draw))
            }
        }

        if enabled.contains(.normalDrawLogProb) {
            for root in 0..<original where records[root].op == .normalLogProb {
                guard let (noise, scale, stride) = normalDraw(root, throughViews: throughViews) else { continue }
                records[root] = NodeRecord(op: .normalDrawLogProb, inputs: [noise, scale], shape: records[root].shape, ints: [stride])
                applied.append((.normalDrawLogProb, root))
            }
        }

        if enabled.contains(.mvnDrawLogProb) {
            for root in 0..<original where records[root].op == .mvnTrilLogProb {
                guard let noise = mvnDraw(root, throughViews: throughViews) else { continue }
                let r = records[root]
                records[root] = NodeRecord(op: .mvnDrawLogProb, inputs: [noise, r.inputs[2]], shape: r.shape, ints: [r.ints[0], r.ints[1]])
                applied.append((.mvnDrawLogProb, root))
            }
        }

        var consumers = Array(repeating: 0, count: records.count)
        for r in records { for i in r.inputs { consumers[i] += 1 } }

        if enabled.contains(.rowDot) {
            for root in 0..<original where records[root].op == .sumLast {
                guard let (x, y, table) = rowDot(root, consumers: consumers, keep: keep, throughViews: throughViews) else { continue }
                records[root] = NodeRecord(op: .rowDot, inputs: [x, y], shape: records[root].shape, table: table, ints: records[root].ints)
                applied.append((.rowDot, root))
            }
        }

        if enabled.contains(.scaledSum) {
            for root in 0..<original where records[root].op == .scale {
                let s = records[root].inputs[0]
                guard records[s].op == .sumAll, consumers[s] == 1, !keep.contains(s) else { continue }
                records[root] = NodeRecord(op: .scaledSum, inputs: records[s].inputs, shape: records[root].shape,
                                           reals: [records[root].reals.first ?? 1])
                consumers[s] = 0
                applied.append((.scaledSum, root))
            }
        }

        // These two rules count live readers only, and rewrite live roots only.
        let live: [Bool]
        var readers: [Int]
        (live, readers) = liveConsumers(keep: keep)
        if enabled.contains(.multiplyAdd) {
            for root in 0..<original where live[root] && records[root].op == .add {
                guard let f = multiplyAdd(root, readers: readers, keep: keep) else { continue }
                records[root] = NodeRecord(op: .multiplyAdd, inputs: [f.base, f.b, f.c], shape: records[root].shape, ints: [f.sb, f.sc])
                for a in f.absorbed { readers[a] = 0 }
                applied.append((.multiplyAdd, root))
            }
        }

        if enabled.contains(.normalLogProbSum) {
            for root in 0..<original where live[root] {
                guard let site = normalSum(root, readers: readers, keep: keep) else { continue }
                let d = records[site.density], n = Shape.count(d.shape)
                let scale = d.op == .normalLogProb ? d.inputs[2] : d.inputs[1]
                /// `op` of the scale as a helper node the fused sum reads (evaluated once for a constant scale).
                func ofScale(_ op: OpCode) -> Int {
                    readers.append(1)
                    readers[scale] += 1
                    return addHelper(NodeRecord(op: op, inputs: [scale], shape: records[scale].shape), before: root)
                }
                let logScale = logOfScale(scale) ?? ofScale(.log)
                if d.op == .normalLogProb {
                    // A constant scale's reciprocal is folded too: no division per element a replay.
                    var operands = [d.inputs[0], site.locSource ?? d.inputs[1], scale, logScale]
                    if isConstant(scale) { operands.append(ofScale(.reciprocal)) }
                    records[root] = NodeRecord(op: .normalLogProbSum, inputs: operands,
                                               shape: records[root].shape, table: site.locTable,
                                               ints: [d.ints[0], d.ints[1], d.ints[2], 0, 0, n], reals: [site.coefficient])
                } else {
                    records[root] = NodeRecord(op: .normalDrawLogProbSum, inputs: [d.inputs[0], scale, logScale], shape: records[root].shape,
                                               ints: [d.ints[0], 0, 0, 0, 0, n], reals: [site.coefficient])
                }
                readers[site.density] = 0
                // A fused draw density absorbed here is still applied: its instruction is now the sum's.
                for k in applied.indices where applied[k].node == site.density { applied[k].node = root }
                if site.locSource != nil { readers[throughViews(d.inputs[1])] = 0 }
                applied.append((.normalLogProbSum, root))
            }
        }

        if enabled.contains(.scalarCombination) {
            var absorbed = Set<Int>()
            // Roots last to first, so that a chain is fused from its top node only.
            for root in stride(from: original - 1, through: 0, by: -1) where Self.isScalarLink(records[root]) && !absorbed.contains(root) {
                var terms: [(Double, Int)] = []
                var offset = 0.0, interior = 0
                // Depth first with an explicit stack, inputs left to right: a chain as long as a
                // spec's statements (hundreds of thousands of sites) must not recurse.
                var work: [(id: Int, c: Double, top: Bool)] = [(root, 1, true)]
                while let (id, c, top) = work.popLast() {
                    let r = records[id]
                    if !top && r.op == .constant && Shape.count(r.shape) == 1, let v = r.initial?.first {
                        offset += c * v; continue
                    }
                    guard top || (Self.isScalarLink(r) && consumers[id] == 1 && !keep.contains(id)) else {
                        terms.append((c, id)); continue
                    }
                    if !top { absorbed.insert(id) }
                    interior += 1
                    switch r.op {
                    case .add: work.append((r.inputs[1], c, false)); work.append((r.inputs[0], c, false))
                    case .sub: work.append((r.inputs[1], -c, false)); work.append((r.inputs[0], c, false))
                    case .neg: work.append((r.inputs[0], -c, false))
                    case .scale: work.append((r.inputs[0], c * (r.reals.first ?? 1), false))
                    default: offset += c * (r.reals.first ?? 0); work.append((r.inputs[0], c, false))
                    }
                }
                guard interior >= 2 else { continue }
                let coefficients = addHelper(NodeRecord(op: .constant, inputs: [], shape: [terms.count], initial: terms.map(\.0)), before: root)
                records[root] = NodeRecord(op: .linearCombination, inputs: terms.map(\.1) + [coefficients], shape: records[root].shape,
                                           reals: [offset])
                applied.append((.scalarCombination, root))
            }
        }

        order.reserveCapacity(records.count)
        for i in 0..<original {
            if let h = helpers[i] { order.append(contentsOf: h) }
            order.append(i)
        }
    }

    /// Whether an element-wise node reads its first two operands at stride 1, each in full
    /// (neither a single element broadcast in place).
    static func readsFirstTwoInFull(_ r: NodeRecord) -> Bool { r.ints.count >= 2 && r.ints[0] == 1 && r.ints[1] == 1 }

    /// A one-element add, sub, neg, scale or shift whose inputs are one-element too (a
    /// broadcast add of a scalar to a vector is not a link).
    static func isScalarLink(_ r: NodeRecord) -> Bool {
        switch r.op {
        case .add, .sub: return Shape.count(r.shape) == 1 && readsFirstTwoInFull(r)
        case .neg, .scale, .shift: return Shape.count(r.shape) == 1
        default: return false
        }
    }

    /// The operands of a `rowDot` rooted at the `sumLast` node `root`: the full-size factor, the
    /// broadcast one's source and the broadcast's table.
    func rowDot(_ root: Int, consumers: [Int], keep: Set<Int>, throughViews: (Int) -> Int) -> (Int, Int, [Int])? {
        func sole(_ id: Int) -> Int? { self.sole(id, readers: consumers, keep: keep) }
        guard let k = records[root].ints.first, let m = sole(records[root].inputs[0]), records[m].op == .mul,
              Self.readsFirstTwoInFull(records[m]),
              Shape.count(records[m].shape) == k * Shape.count(records[root].shape) else { return nil }
        for (x, b) in [(0, 1), (1, 0)] {
            guard let s = sole(records[m].inputs[b]), records[s].op == .select, records[s].table.count == Shape.count(records[m].shape),
                  records[s].table.allSatisfy({ $0 >= 0 }) else { continue }
            return (throughViews(records[m].inputs[x]), records[s].inputs[0], records[s].table)
        }
        return nil
    }

    /// The noise, scale and scale stride of a `normalDrawLogProb` rooted at the `normalLogProb`
    /// node `root`: its value x full-size and x = add(l, mul(s, ε)) element-wise (either order),
    /// ε a `normalNoise` node of x's size, and s and l the density's scale (read through the
    /// same stride) and loc: each the same node, or a `select` of the same node by the same table.
    func normalDraw(_ root: Int, throughViews: (Int) -> Int) -> (Int, Int, Int)? {
        let r = records[root], n = Shape.count(r.shape)
        guard r.ints.count == 3, Self.readsFirstTwoInFull(r) else { return nil }
        let loc = r.inputs[1], scale = r.inputs[2], stride = r.ints[2]
        func elementwise(_ id: Int) -> Bool { Shape.count(records[id].shape) == n }
        func sameValue(_ a: Int, _ b: Int) -> Bool {
            let x = throughViews(a), y = throughViews(b)
            if x == y { return true }
            return records[x].op == .select && records[y].op == .select && records[x].inputs == records[y].inputs
                && records[x].table == records[y].table && records[x].shape == records[y].shape
        }
        let x = throughViews(r.inputs[0])
        guard records[x].op == .add, elementwise(x), Self.readsFirstTwoInFull(records[x]) else { return nil }
        for (l, t) in [(0, 1), (1, 0)] {
            let m = throughViews(records[x].inputs[t])
            guard records[m].op == .mul, elementwise(m), records[m].ints.count >= 2, sameValue(records[x].inputs[l], loc) else { continue }
            for (s, e) in [(0, 1), (1, 0)] {
                let noise = throughViews(records[m].inputs[e])
                guard records[noise].op == .normalNoise, Shape.count(records[noise].shape) == n, records[m].ints[e] == 1,
                      sameValue(records[m].inputs[s], scale), records[m].ints[s] == stride else { continue }
                return (noise, scale, stride)
            }
        }
        return nil
    }

    /// The noise of an `mvnDrawLogProb` rooted at the `mvnTrilLogProb` node `root` (ints S, d,
    /// loc row stride): its value x = add(l, matmul(ε, T)) element-wise (either order), ε a
    /// `normalNoise` node `[S, d]`, T the transpose (a `select`) of the density's L, which is a
    /// `lowerCholeskyFactor` or `cholesky` node, and l the density's loc as it reads it: the same
    /// node or a `select` of the same node by the same table (row stride d, or one row), or a
    /// `select` of it whose entry (s, j) is loc[s·stride + j].
    func mvnDraw(_ root: Int, throughViews: (Int) -> Int) -> Int? {
        let r = records[root]
        guard r.ints.count == 3 else { return nil }
        let rows = r.ints[0], d = r.ints[1], ls = r.ints[2], n = rows * d
        let loc = throughViews(r.inputs[1]), l = throughViews(r.inputs[2])
        guard d >= 1, records[l].op == .lowerCholeskyFactor || records[l].op == .cholesky, Shape.count(records[l].shape) == d * d else {
            return nil
        }
        let x = throughViews(r.inputs[0])
        guard records[x].op == .add, Shape.count(records[x].shape) == n, Self.readsFirstTwoInFull(records[x]) else { return nil }
        func isLoc(_ id: Int) -> Bool {
            let a = throughViews(id)
            // The density's own loc node, or a second broadcast of the same node by the same
            // table (one per particle, as a batched loc is read): the same values either way.
            let sameBroadcast = records[a].op == .select && records[loc].op == .select && records[a].table == records[loc].table
                && records[a].shape == records[loc].shape && throughViews(records[a].inputs[0]) == throughViews(records[loc].inputs[0])
            if a == loc || sameBroadcast { return ls == d || rows == 1 }
            guard records[a].op == .select, throughViews(records[a].inputs[0]) == loc, records[a].table.count == n else { return false }
            let t = records[a].table
            for s in 0..<rows { for j in 0..<d where t[s * d + j] != s * ls + j { return false } }
            return true
        }
        func isTransposeOfL(_ id: Int) -> Bool {
            let t = throughViews(id)
            guard records[t].op == .select, throughViews(records[t].inputs[0]) == l, records[t].table.count == d * d else { return false }
            let table = records[t].table
            for i in 0..<d { for j in 0..<d where table[i * d + j] != j * d + i { return false } }
            return true
        }
        for (a, b) in [(0, 1), (1, 0)] {
            let m = throughViews(records[x].inputs[b])
            guard records[m].op == .matmul, Shape.count(records[m].shape) == n, isLoc(records[x].inputs[a]) else { continue }
            let i = records[m].ints
            guard i.count >= 6, i[0] * i[1] == rows, i[2] == d, i[3] == d, i[5] == 0 else { continue }
            let noise = throughViews(records[m].inputs[0])
            guard records[noise].op == .normalNoise, Shape.count(records[noise].shape) == n, isTransposeOfL(records[m].inputs[1]) else { continue }
            return noise
        }
        return nil
    }

    /// The operands of a `linearBernoulliSum` rooted at the sum `root`, when it is one.
    struct LinearBernoulli { let design: Int, weights: Int, labels: Int, batch: Int, rows: Int, k: Int, labelStride: Int }

    func linearBernoulli(_ root: Int, throughViews: (Int) -> Int, isConstant: (Int) -> Bool) -> LinearBernoulli? {
        let b = throughViews(records[root].inputs[0])
        guard records[b].op == .bernoulliLogitsLogProb, records[b].ints.count >= 2, records[b].ints[1] == 1 else { return nil }
        let value = records[b].inputs[0]
        let m = throughViews(records[b].inputs[1])
        guard isConstant(value), records[m].op == .matmul else { return nil }
        let mm = records[m]
        let (batch, rows, k, n, sx) = (mm.ints[0], mm.ints[1], mm.ints[2], mm.ints[3], mm.ints[4])
        let design = mm.inputs[0]
        guard n == 1, sx == 0 || batch == 1, isConstant(design), !isConstant(mm.inputs[1]),
              Shape.count(records[design].shape) == rows * k, Shape.count(records[b].shape) == batch * rows else { return nil }
        return LinearBernoulli(design: design, weights: mm.inputs[1], labels: value, batch: batch, rows: rows, k: k,
                               labelStride: records[b].ints[0])
    }
}
