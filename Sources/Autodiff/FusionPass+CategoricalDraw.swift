import Numerics

extension FusedGraph {
    /// The operands of a `categoricalDrawPlate` fusion: the logits it reads, the draw it
    /// replaces (the fused node itself) and the log-density it writes beside it.
    struct CategoricalDrawSite {
        /// The unnormalised logits, `[rows, k]` (what the log-softmax read).
        let logits: Int
        /// The argmax node (the draw, the fused node's own value) and the pick of the
        /// normalised logits at it (the guide's log-density of the draw).
        let draw: Int, logProb: Int
        let rows: Int, k: Int, stream: Int
        /// Gathers at the draw absorbed too: each a pick, at the draw, of a row-broadcast
        /// `select` of a small table (the model's `mu[z]`, the prior's log-probabilities):
        /// the pick (written by the fused instruction), the table's node and the k entries
        /// of it a row reads.
        let gathers: [(pick: Int, source: Int, entries: [Int])]
    }

    /// Matches, from an `argmax` node, `Categorical(logits: ℓ).sample` by Gumbel-max and its
    /// `logProb` of the same draw:
    ///
    ///     L = logSoftmax(ℓ);  G = gumbelNoise;  Z = argmax(L + G);  LQ = pick(L, Z)
    ///
    /// over one particle (L, G and L + G of one size: a law broadcast over particles is left to
    /// the per-node path), with L read only by the sum and the pick, G and L + G only along
    /// the pattern, and none of them a requested output. Z and LQ stay nodes of their own (the
    /// fused instruction writes both); Z may have any other readers (the model's gathers and
    /// log-densities read it as an index). Returns nil when any piece differs.
    func categoricalDraw(_ z: Int, users: [[Int]], keep: Set<Int>, isConstant: (Int) -> Bool) -> CategoricalDrawSite? {
        let count = { (id: Int) in Shape.count(self.records[id].shape) }
        func op(_ id: Int, _ o: OpCode) -> Bool { records[id].op == o }
        guard let k = records[z].ints.first, k >= 1 else { return nil }
        let rows = count(z), n = rows * k
        let a = inputs(z)[0]
        guard op(a, .add), count(a) == n, Self.readsFirstTwoInFull(records[a]), users[a] == [z], !keep.contains(a) else { return nil }
        for (li, gi) in [(0, 1), (1, 0)] {
            let l = inputs(a)[li], g = inputs(a)[gi]
            guard op(g, .gumbelNoise), count(g) == n, users[g] == [a], !keep.contains(g), let stream = records[g].ints.first,
                  op(l, .logSoftmax), count(l) == n, !keep.contains(l) else { continue }
            let i = records[l].ints
            guard i.count >= 3, i[1] == k, i[2] == 1 else { return nil }
            // L's readers: the sum and one pick of L at the draw.
            guard users[l].count == 2, users[l].contains(a), let q = users[l].first(where: { $0 != a }), op(q, .pick),
                  inputs(q) == [l, z], records[q].ints.first == k, count(q) == rows else { return nil }
            let logits = inputs(l)[0]
            guard count(logits) == n, logits < z else { return nil }
            return CategoricalDrawSite(logits: logits, draw: z, logProb: q, rows: rows, k: k, stream: stream,
                                       gathers: users[z].compactMap { gatherAtDraw($0, draw: z, rows: rows, k: k, users: users, keep: keep,
                                                                                          isConstant: isConstant) })
        }
        return nil
    }

    /// A reader `p` of the draw `z` that picks, at the draw, from `select(T)` whose every row of
    /// k entries reads the same entries of T (a table broadcast over the plate's rows), with the
    /// select read only there and T computed before the draw: out_r = T[t[z_r]] needs neither
    /// the broadcast nor its scatter-add backward (T may come later when it is computed from
    /// constants alone: folded before any replay). A constant whose rows all repeat its first
    /// is read the same way.
    func gatherAtDraw(_ p: Int, draw z: Int, rows: Int, k: Int, users: [[Int]], keep: Set<Int>,
                      isConstant: (Int) -> Bool) -> (pick: Int, source: Int, entries: [Int])? {
        guard records[p].op == .pick, records[p].ints.first == k, Shape.count(records[p].shape) == rows, inputs(p)[1] == z else { return nil }
        let s = inputs(p)[0]
        guard users[s] == [p], !keep.contains(s) else { return nil }
        // A constant already broadcast when the graph was built (a prior's log-probabilities):
        // its first row, when every row repeats it.
        if records[s].op == .constant, let values = records[s].initial, values.count == rows * k,
           values.indices.allSatisfy({ values[$0].bitPattern == values[$0 % k].bitPattern }) {
            return (p, s, Array(0..<k))
        }
        let table = records[s].table
        guard records[s].op == .select, table.count == rows * k else { return nil }
        let first = Array(table[0..<k])
        guard first.allSatisfy({ $0 >= 0 }), table.indices.allSatisfy({ table[$0] == first[$0 % k] }) else { return nil }
        // Computed before the draw, or from constants alone (folded before any replay).
        let source = inputs(s)[0]
        guard source < z || isConstant(source) else { return nil }
        return (p, source, first)
    }
}
