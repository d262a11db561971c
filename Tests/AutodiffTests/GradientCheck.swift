import Numerics
@testable import Autodiff

/// A deterministic source of test inputs (a 64-bit LCG), independent of the engine's RNG.
struct TestValues {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E3779B97F4A7C15 &+ 1 }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return lo + (hi - lo) * Double(state >> 11) / 9007199254740992
    }
    mutating func tensor(_ shape: [Int], _ lo: Double = -1.5, _ hi: Double = 1.5) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Shape.count(shape)).map { _ in uniform(lo, hi) })
    }
}

/// The largest mismatch between the tape's gradient and central finite differences of
/// loss = Σ w ⊙ f(inputs) with random weights w, relative to max(|fd|, |grad|, 1e-3).
func gradientMismatch(_ inputs: [Tensor], seed: UInt64 = 7, step h: Double = 1e-5,
                      _ build: (Graph, [Node]) -> Node) throws -> Double {
    let g = Graph()
    let params = inputs.enumerated().map { g.parameter("x\($0.offset)", $0.element) }
    let out = build(g, params)
    var rng = TestValues(seed: seed)
    let w = g.constant(rng.tensor(out.shape, 0.5, 1.5))
    let loss = g.sum(out * w)
    let tape = try g.compile(loss: loss)
    tape.forward()
    tape.backward()
    var worst = 0.0
    for (p, t) in zip(params, inputs) {
        let grad = tape.gradient(of: p)
        for i in 0..<t.count {
            let fd = centralDifference(tape, loss, p, at: t, i, step: h)
            let err = Swift.abs(fd - grad.scalars[i]) / Swift.max(Swift.abs(fd), Swift.abs(grad.scalars[i]), 1e-3)
            worst = Swift.max(worst, err)
        }
    }
    return worst
}

/// The central difference of `loss` in element `i` of parameter `p` of a compiled tape, around
/// the value `t` (which the parameter holds again afterwards).
func centralDifference(_ tape: Tape, _ loss: Node, _ p: Node, at t: Tensor, _ i: Int, step h: Double) -> Double {
    var plus = t, minus = t
    plus.scalars[i] += h
    minus.scalars[i] -= h
    tape.setValue(p, plus); tape.forward(); let lp = tape.scalar(of: loss)
    tape.setValue(p, minus); tape.forward(); let lm = tape.scalar(of: loss)
    tape.setValue(p, t)
    return (lp - lm) / (2 * h)
}
