import Autodiff
import Numerics

/// A value of the expression language during compilation: a graph node and how many leading
/// axes are not the user's: 0 (data, params), 1 (the particles, for anything computed from a
/// draw), 2 (an enumerated site's values, then the particles). Expressions are written for one
/// particle; `shape` is what the user sees.
struct Value {
    let node: Node
    /// Leading axes added by the engine.
    let lead: Int

    /// Per-particle shape.
    var shape: [Int] { Array(node.shape.dropFirst(lead)) }
    var rank: Int { shape.count }

    /// The node viewed with its leading axes and `r` per-particle axes (1s inserted after the
    /// leading axes), so right-aligned broadcasting lines particles up with particles.
    func aligned(toRank r: Int) -> Node {
        guard lead > 0, rank < r else { return node }
        return node.graph.reshape(node, Array(node.shape.prefix(lead)) + Array(repeating: 1, count: r - rank) + shape)
    }
}
