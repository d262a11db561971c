/// One step of a compiled ``Tape``: an op code with its operands resolved to offsets into the
/// tape's value arena (`out`, `a`, `b`, `c`) and adjoint arena (`gOut`, `gA`, `gB`, `gC`;
/// −1 where no gradient is needed). `p0…p5` and `s0`, `s1` are the op's attributes, as
/// documented on each ``OpCode`` case. A plain value so the replay loop reads it without
/// reference counting or exclusivity checks.
struct Instruction {
    var op: OpCode
    var node: Int
    var n: Int
    var out: Int, a: Int, b: Int, c: Int
    var gOut: Int, gA: Int, gB: Int, gC: Int
    var p0: Int, p1: Int, p2: Int, p3: Int, p4: Int, p5: Int
    var s0: Double, s1: Double
    /// Offset of the node's saved auxiliary values (−1: none).
    var aux: Int
}

/// A problem met while replaying: the numbers, not the program, were wrong at some step
/// (an index out of range, a matrix that is not positive definite, an eigensolver that did
/// not converge).
public struct TapeFault: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Int, Sendable {
        case indexOutOfRange = 1
        case notPositiveDefinite = 2
        case eigensolverFailed = 3
    }
    public let kind: Kind
    /// The node whose kernel failed.
    public let node: Int
    public var description: String {
        switch kind {
        case .indexOutOfRange: "node \(node): gather index out of range"
        case .notPositiveDefinite: "node \(node): matrix is not positive definite"
        case .eigensolverFailed: "node \(node): symmetric eigensolver did not converge"
        }
    }
}
