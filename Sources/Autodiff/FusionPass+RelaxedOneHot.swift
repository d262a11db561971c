import Numerics

extension FusedGraph {
    /// The operands of a `relaxedOneHotPlate` fusion: the nodes it reads and writes, and the
    /// constants it folds into its reals node.
    struct RelaxedOneHotSite {
        /// The logits it reads (after absorbed log-softmax normalisations), `[rows, k]`.
        let logits: Int
        /// The temperature (a one-element constant) and the log-density's constant term.
        let temperature: Int, offset: Int
        /// The soft draw (the fused node itself), the straight-through value, the log-density.
        let soft: Int, value: Int?, logProb: Int
        let rows: Int, k: Int, stream: Int
        /// κ (the factor of the logsumexp), the uniforms' clamp and the soft draw's clamp.
        let reals: [Double]
    }

    /// Matches, from a `softmax` node, the subgraph `RelaxedOneHotCategorical.rsample` (and its
    /// straight-through form) and `logProb` of the same draw record:
    ///
    ///     U = uniformNoise; G = −log(−log(clamp(U)));  S = softmax((ℓ + G) / τ);  C = clamp(S)
    ///     V = substitute(oneHot(argmax(C)), C)                           (straight-through only)
    ///     X = log C;  T = ℓ − X·τ;  LP = ((Σ_k T − κ·logsumexp(T)) + c) − Σ_k X
    ///
    /// with every interior node read only inside the pattern and not a requested output. C, V
    /// and LP stay nodes of their own (the fused instruction writes all three). Returns nil
    /// when any piece differs, and the general per-node path runs.
    func relaxedOneHot(_ s: Int, users: [[Int]], keep: Set<Int>, isConstant: (Int) -> Bool) -> RelaxedOneHotSite? {
        let count = { (id: Int) in Shape.count(self.records[id].shape) }
        func op(_ id: Int, _ o: OpCode) -> Bool { records[id].op == o }
        /// The single reader of `id` when it has exactly one and it has op `o`.
        func only(_ id: Int, _ o: OpCode) -> Int? {
            users[id].count == 1 && op(users[id][0], o) ? users[id][0] : nil
        }
        func scalarConstant(_ id: Int) -> Bool { isConstant(id) && count(id) == 1 }
        func elementwise(_ id: Int) -> Bool { Self.readsFirstTwoInFull(records[id]) }
        func lastAxis(_ id: Int, k: Int) -> Bool {
            let i = records[id].ints
            return i.count >= 3 && i[1] == k && i[2] == 1
        }

        // The draw: S = softmax(D), D = A / τ, A = ℓ + G, and C = clamp(S).
        let n = count(s)
        guard let k = records[s].shape.last, k >= 1, n % k == 0, lastAxis(s, k: k) else { return nil }
        let rows = n / k
        let d = inputs(s)[0]
        guard op(d, .div), users[d] == [s], records[d].ints.count >= 2, records[d].ints[0] == 1 else { return nil }
        let tau = inputs(d)[1]
        guard scalarConstant(tau) else { return nil }
        let a = inputs(d)[0]
        guard op(a, .add), users[a] == [d], elementwise(a), count(a) == n else { return nil }
        let lg = inputs(a)[0], g = inputs(a)[1]
        guard count(lg) == n, let soft = only(s, .clamp) else { return nil }

        // G = neg(log(neg(log(clamp(U))))).
        var chain = [g]
        for o in [OpCode.neg, .log, .neg, .log, .clamp] {
            let id = chain.last!
            guard op(id, o), users[id].count == 1 else { return nil }
            chain.append(inputs(id)[0])
        }
        let u = chain.last!
        guard op(u, .uniformNoise), count(u) == n, users[u].count == 1, let uClamp = records[chain[4]].reals.count == 2 ? records[chain[4]].reals : nil,
              records[soft].reals.count == 2, let stream = records[u].ints.first else { return nil }

        // The straight-through value, when there is one.
        var value: Int? = nil, interior = Set(chain + [a, d, s])
        if let am = users[soft].first(where: { op($0, .argmax) }), records[am].ints.first == k,
           let oh = only(am, .oneHot), records[oh].ints.first == k, let v = only(oh, .substitute), inputs(v) == [oh, soft] {
            value = v; interior.formUnion([am, oh])
        }

        // The log-density of the soft draw: the reader X = log C whose chain reaches ℓ.
        var found: (Set<Int>, Int, Double, Int)? = nil
        for x in users[soft] where op(x, .log) && found == nil {
            found = relaxedLogProb(x, logits: lg, tau: tau, k: k, users: users, scalarConstant: scalarConstant, elementwise: elementwise,
                                   lastAxis: lastAxis)
        }
        guard let site = found else { return nil }
        let (densityNodes, logProb, kappa, offset) = site
        interior.formUnion(densityNodes)

        // Log-softmax normalisations of the logits read only here: absorbed (shift-invariant).
        var logits = lg
        while op(logits, .logSoftmax), lastAxis(logits, k: k), !keep.contains(logits),
              users[logits].allSatisfy({ interior.contains($0) }) {
            interior.insert(logits)
            logits = inputs(logits)[0]
        }
        guard count(logits) == n else { return nil }

        // Every interior node is read only inside the pattern (or by the outputs it feeds).
        let outputs = Set([soft, logProb] + (value.map { [$0] } ?? []))
        for id in interior where keep.contains(id) || !users[id].allSatisfy({ interior.contains($0) || outputs.contains($0) }) {
            return nil
        }
        // The outputs come after every node the fused instruction reads but the folded
        // constants: it is placed at the soft draw's position.
        guard logits < soft, tau < soft else { return nil }
        let reals = [kappa, uClamp[0], uClamp[1], records[soft].reals[0], records[soft].reals[1]]
        return RelaxedOneHotSite(logits: logits, temperature: tau, offset: offset, soft: soft, value: value, logProb: logProb,
                                 rows: rows, k: k, stream: stream, reals: reals)
    }

    /// The inputs of `id`, each seen through views (a view shares its input's storage).
    func inputs(_ id: Int) -> [Int] {
        records[id].inputs.map { i in
            var j = i
            while records[j].op == .view { j = records[j].inputs[0] }
            return j
        }
    }

    /// The readers of every node that the kept nodes need (nodes no output reads are dropped
    /// by the tape, so they do not count), each view replaced by its own readers (sorted,
    /// distinct).
    func readersThroughViews(keep: Set<Int>) -> [[Int]] {
        let live = liveNodes(keep: keep)
        var users = Array(repeating: [Int](), count: records.count)
        for (id, r) in records.enumerated() where live[id] { for i in Set(r.inputs) { users[i].append(id) } }
        return users.indices.map { id in
            var out = Set<Int>(), stack = users[id]
            while let u = stack.popLast() {
                if records[u].op == .view { stack.append(contentsOf: users[u]) } else { out.insert(u) }
            }
            return out.sorted()
        }
    }

    /// The log-density chain from X = log C: its interior nodes, the log-density node, κ and the
    /// constant term's node; nil when it is not `RelaxedOneHotCategorical.logProb`'s.
    func relaxedLogProb(_ x: Int, logits lg: Int, tau: Int, k: Int, users: [[Int]], scalarConstant: (Int) -> Bool,
                        elementwise: (Int) -> Bool, lastAxis: (Int, Int) -> Bool) -> (Set<Int>, Int, Double, Int)? {
        func op(_ id: Int, _ o: OpCode) -> Bool { records[id].op == o }
        guard users[x].count == 2,
              let m = users[x].first(where: { op($0, .mul) }), inputs(m) == [x, tau], users[m].count == 1,
              let sx = users[x].first(where: { op($0, .sumLast) }), records[sx].ints.first == k, users[sx].count == 1 else { return nil }
        let t = users[m][0]
        // ℓ here may be a second broadcast of the same logits (one per particle): the same table
        // over the same node.
        let lt = inputs(t)[0]
        let sameLogits = lt == lg || (op(lt, .select) && op(lg, .select) && inputs(lt) == inputs(lg) && records[lt].table == records[lg].table)
        guard op(t, .sub), sameLogits, inputs(t)[1] == m, elementwise(t), users[t].count == 2,
              let st = users[t].first(where: { op($0, .sumLast) }), records[st].ints.first == k, users[st].count == 1,
              let lse = users[t].first(where: { op($0, .logsumexp) }), lastAxis(lse, k), users[lse].count == 1 else { return nil }
        let sc = users[lse][0]
        guard op(sc, .scale), users[sc].count == 1, let kappa = records[sc].reals.first else { return nil }
        let sub1 = users[sc][0]
        guard op(sub1, .sub), inputs(sub1) == [st, sc], elementwise(sub1), users[sub1].count == 1 else { return nil }
        let add1 = users[sub1][0]
        guard op(add1, .add), inputs(add1).first == sub1, inputs(add1).count == 2, users[add1].count == 1 else { return nil }
        let offset = inputs(add1)[1]
        guard scalarConstant(offset), records[add1].ints.count >= 1, records[add1].ints[0] == 1 else { return nil }
        let lp = users[add1][0]
        guard op(lp, .sub), inputs(lp) == [add1, sx], elementwise(lp) else { return nil }
        return (Set([x, m, sx, t, st, lse, sc, sub1, add1] + (lt == lg ? [] : [lt])), lp, kappa, offset)
    }
}
