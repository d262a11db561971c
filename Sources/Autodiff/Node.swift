import Numerics

/// A handle to one value of a ``Graph``: its shape is known when it is made, its numbers only
/// when a compiled ``Tape`` replays. Arithmetic on nodes records new nodes in the same graph.
public struct Node: Hashable, CustomStringConvertible {
    /// The graph that owns the node.
    public let graph: Graph
    /// Position in the graph's topological order.
    public let id: Int

    /// Extent of each axis.
    public var shape: [Int] { graph.records[id].shape }
    /// Element count.
    public var count: Int { Shape.count(shape) }
    /// Number of axes.
    public var rank: Int { shape.count }
    /// The op that produces this node.
    public var op: OpCode { graph.records[id].op }

    public static func == (l: Node, r: Node) -> Bool { l.graph === r.graph && l.id == r.id }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(graph)); h.combine(id) }
    public var description: String { "Node(\(id), \(op), shape: \(shape))" }
}

// MARK: - Operators

public extension Node {
    static func + (l: Node, r: Node) -> Node { l.graph.binary(.add, l, r) }
    static func - (l: Node, r: Node) -> Node { l.graph.binary(.sub, l, r) }
    static func * (l: Node, r: Node) -> Node { l.graph.binary(.mul, l, r) }
    static func / (l: Node, r: Node) -> Node { l.graph.binary(.div, l, r) }
    static prefix func - (x: Node) -> Node { x.graph.unary(.neg, x) }

    static func + (l: Node, r: Double) -> Node { l.graph.unary(.shift, l, scalar: r) }
    static func + (l: Double, r: Node) -> Node { r.graph.unary(.shift, r, scalar: l) }
    static func - (l: Node, r: Double) -> Node { l.graph.unary(.shift, l, scalar: -r) }
    static func - (l: Double, r: Node) -> Node { r.graph.unary(.shift, r.graph.unary(.neg, r), scalar: l) }
    static func * (l: Node, r: Double) -> Node { l.graph.unary(.scale, l, scalar: r) }
    static func * (l: Double, r: Node) -> Node { r.graph.unary(.scale, r, scalar: l) }
    static func / (l: Node, r: Double) -> Node { l.graph.unary(.scale, l, scalar: 1 / r) }
    static func / (l: Double, r: Node) -> Node { r.graph.unary(.scale, r.graph.unary(.reciprocal, r), scalar: l) }

    /// `self ^ p` element-wise for a constant exponent.
    func pow(_ p: Double) -> Node { graph.unary(.powScalar, self, scalar: p) }
    /// `self ^ e` element-wise, broadcasting.
    func pow(_ e: Node) -> Node { graph.binary(.pow, self, e) }
}
