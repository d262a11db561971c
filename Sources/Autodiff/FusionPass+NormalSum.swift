import Numerics

extension FusedGraph {
    /// Which nodes the requested outputs `keep` need (the rest are dead records: the tape
    /// never computes them).
    func liveNodes(keep: Set<Int>) -> [Bool] {
        var live = Array(repeating: false, count: records.count), stack = Array(keep)
        while let i = stack.popLast() {
            if live[i] { continue }
            live[i] = true
            stack.append(contentsOf: records[i].inputs)
        }
        return live
    }

    /// Which nodes are live (the requested outputs need them) and how many live nodes read
    /// each node: dead records left by the graph's construction (an ELBO layout builds terms a
    /// reparameterised site never reads, a fused sum leaves its old `sumAll`) do not count.
    func liveConsumers(keep: Set<Int>) -> (live: [Bool], counts: [Int]) {
        let live = liveNodes(keep: keep)
        var counts = Array(repeating: 0, count: records.count)
        for (id, r) in records.enumerated() where live[id] { for i in r.inputs { counts[i] += 1 } }
        return (live, counts)
    }

    /// `id` seen through views, when it and every view on the way are read by one node only
    /// and none is a requested output (so a fusion may absorb it); nil otherwise.
    func sole(_ id: Int, readers: [Int], keep: Set<Int>) -> Int? {
        var i = id
        while records[i].op == .view {
            guard readers[i] == 1, !keep.contains(i) else { return nil }
            i = records[i].inputs[0]
        }
        return readers[i] == 1 && !keep.contains(i) ? i : nil
    }

    /// The operands of a `multiplyAdd` rooted at the `add` node `root`: a full-size operand
    /// `base` and a `mul` read by nothing else (its operands and strides), for `x = loc + scale·ε`
    /// (a reparameterised draw). A `base` that is an identity `select` read by nothing else (a
    /// parameter broadcast over one particle: the same elements in the same order) is read
    /// through: the sum is written to the root's own buffer either way.
    func multiplyAdd(_ root: Int, readers: [Int], keep: Set<Int>) -> (base: Int, b: Int, c: Int, sb: Int, sc: Int, absorbed: [Int])? {
        let r = records[root], n = Shape.count(r.shape)
        guard Self.readsFirstTwoInFull(r) else { return nil }
        for (l, t) in [(0, 1), (1, 0)] {
            guard let m = sole(r.inputs[t], readers: readers, keep: keep), records[m].op == .mul,
                  Shape.count(records[m].shape) == n, records[m].ints.count >= 2 else { continue }
            var base = r.inputs[l], absorbed = [m]
            if let s = sole(base, readers: readers, keep: keep), records[s].op == .select, records[s].table.count == n,
               Shape.count(records[records[s].inputs[0]].shape) == n, records[s].table.elementsEqual(0..<n) {
                base = records[s].inputs[0]
                absorbed.append(s)
            }
            let mm = records[m]
            return (base, mm.inputs[0], mm.inputs[1], mm.ints[0], mm.ints[1], absorbed)
        }
        return nil
    }

    /// A `normalLogProbSum` or `normalDrawLogProbSum` site: the sum's coefficient, the density
    /// node it absorbs, and the loc table when the density's loc was a broadcast read by
    /// nothing else.
    struct NormalSum {
        var density: Int
        var coefficient: Double
        var locSource: Int?
        var locTable: [Int]
    }

    /// Matches `c · Σ log Normal(…)` at the sum `root` (`scaledSum` or `sumAll`): the density a
    /// `normalLogProb` or `normalDrawLogProb` read only by the sum and not requested. A loc read
    /// at stride 1 through a `select` (the model's broadcast of a latent over a data plate) read
    /// by nothing else is read through its table by the fused instruction.
    func normalSum(_ root: Int, readers: [Int], keep: Set<Int>) -> NormalSum? {
        let r = records[root]
        let coefficient: Double
        switch r.op {
        case .scaledSum: coefficient = r.reals.first ?? 1
        case .sumAll: coefficient = 1
        default: return nil
        }
        guard let d = sole(r.inputs[0], readers: readers, keep: keep) else { return nil }
        let dr = records[d], n = Shape.count(dr.shape)
        switch dr.op {
        case .normalLogProb:
            guard dr.ints.count == 3 else { return nil }
            var site = NormalSum(density: d, coefficient: coefficient, locSource: nil, locTable: [])
            if dr.ints[1] == 1, let s = sole(dr.inputs[1], readers: readers, keep: keep), records[s].op == .select,
               records[s].table.count == n, records[s].table.allSatisfy({ $0 >= 0 }) {
                site.locSource = records[s].inputs[0]
                site.locTable = records[s].table
            }
            return site
        case .normalDrawLogProb:
            guard dr.ints.count == 1 else { return nil }
            return NormalSum(density: d, coefficient: coefficient, locSource: nil, locTable: [])
        default: return nil
        }
    }

    /// The node holding log(scale) for a fused Normal sum: the argument of the scale's `exp`
    /// when the scale is one (a positive-constrained parameter: log exp u = u, without the
    /// rounding of the round trip), else nil (the caller adds a `log` node, which the tape
    /// evaluates once when the scale is constant).
    func logOfScale(_ scale: Int) -> Int? {
        var s = scale
        while records[s].op == .view { s = records[s].inputs[0] }
        guard records[s].op == .exp, let u = records[s].inputs.first, Shape.count(records[u].shape) == Shape.count(records[s].shape) else {
            return nil
        }
        return u
    }
}
