import Autodiff
import Inference
import Numerics

/// A value of the expression language during compilation: a graph node, how many leading axes
/// are not the user's, and which plates its first user axes belong to.
///
/// Layout of `node.shape`: `lead` engine axes — 0 (data, params), 1 (the particles, for anything
/// computed from a draw) or 2 (an enumerated site's values, then the particles) — then one axis
/// per plate of `plates` (extent the plate's batch size, or 1 where the value is constant along
/// it), then the value's own (`free`) axes. Expressions are written for one particle; `shape`
/// is what the user sees.
///
/// Values drawn or declared in plates carry them (`plates` non-empty): in an operation they
/// align with other values by plate name, never by position — Pyro's plate dims without the
/// user choosing dims. Values without plates (constants, data and params that declare none)
/// broadcast as NumPy arrays do, right-aligned against the plates and own axes of the values
/// they meet, which is the positional reading a Pyro user's tensors have.
struct Value {
    let node: Node
    /// Leading axes added by the engine.
    let lead: Int
    /// The plates of the user axes that follow `lead`, in this value's order.
    let plates: [Plate]

    init(node: Node, lead: Int, plates: [Plate] = []) {
        self.node = node; self.lead = lead; self.plates = plates
    }

    /// Per-particle shape: plate axes then own axes.
    var shape: [Int] { Array(node.shape.dropFirst(lead)) }
    var rank: Int { shape.count }
    /// The value's own axes (after its plate axes).
    var free: [Int] { Array(node.shape.dropFirst(lead + plates.count)) }
    /// The engine's leading axes.
    var leadShape: [Int] { Array(node.shape.prefix(lead)) }
    var isAligned: Bool { !plates.isEmpty }

    /// The same value with other plate tags and node (engine axes kept).
    func with(_ node: Node, plates: [Plate]? = nil) -> Value { Value(node: node, lead: lead, plates: plates ?? self.plates) }

    /// The node viewed with its leading axes and `r` per-particle axes (1s inserted after the
    /// leading axes), so right-aligned broadcasting lines particles up with particles. For an
    /// untagged value.
    func aligned(toRank r: Int) -> Node {
        guard lead > 0, rank < r else { return node }
        return node.graph.reshape(node, leadShape + Array(repeating: 1, count: r - rank) + shape)
    }

    /// The node laid out for the plates `order` (which must include every plate of this value)
    /// followed by `freeRank` own axes (1s inserted in front of this value's own axes), under
    /// its engine axes (which broadcast right-aligned with another value's, as NumPy does).
    func placed(in order: [Plate], freeRank: Int) -> Node {
        let g = node.graph
        var x = node
        // Own plate axes into the order of `order`.
        let positions = plates.map { p in order.firstIndex(of: p)! }
        let sorted = plates.indices.sorted { positions[$0] < positions[$1] }
        if sorted != Array(plates.indices) {
            let perm = Array(0..<lead) + sorted.map { lead + $0 } + Array((lead + plates.count)..<node.rank)
            x = g.permute(x, perm)
        }
        let mine = sorted.map { plates[$0] }
        var shape = leadShape
        let extents = sorted.map { node.shape[lead + $0] }
        for p in order {
            if let k = mine.firstIndex(of: p) { shape.append(extents[k]) } else { shape.append(1) }
        }
        shape += Array(repeating: 1, count: max(0, freeRank - free.count)) + free
        return shape == x.shape ? x : g.reshape(x, shape)
    }
}
