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
    func categoricalDraw(_ z: Int, users: [[Int]], keep: Set<Int>) -> CategoricalDrawSite? {
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
            return CategoricalDrawSite(logits: logits, draw: z, logProb: q, rows: rows, k: k, stream: stream)
        }
        return nil
    }
}
