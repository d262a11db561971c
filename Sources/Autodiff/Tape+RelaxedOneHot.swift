import CVecMath
import Numerics

extension Tape {
    /// Rows of a plate the fused relaxed one-hot kernel takes per block: every stage of a block
    /// (uniforms, Gumbel noise, softmax, log-density) runs on data still in L1.
    static let relaxedBlockRows = 64

    /// `relaxedOneHotPlate` forward (``OpCode/relaxedOneHotPlate``): per block of rows, the
    /// uniforms of the site's stream clamped, G = −log(−log u) (two vector logs), the tempered
    /// softmax S of ℓ + G, the soft draw C = clamp(S) (the node's value), the straight-through
    /// one-hot of argmax C, X = log C (one vector log), T = ℓ − τX and the log-density
    /// (Σ T − κ·logsumexp T) + c − Σ X (one vector exp, one vector log per block of rows).
    /// Each step rounds as the per-node graph does, in the same order. `aux` keeps S and the
    /// weights softmax(T) for the backward pass.
    static func relaxedOneHotForward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                     _ tbl: UnsafeMutablePointer<Int>, _ sc: UnsafeMutablePointer<Double>, seed: UInt64, step: UInt64) {
        let rows = ins.pointee.p0, k = ins.pointee.p1, n = rows * k
        let outs = tbl + ins.pointee.p3
        let logits = v + ins.pointee.a, tau = v[ins.pointee.b], offset = v[ins.pointee.c]
        let reals = v + outs[4]
        let soft = v + ins.pointee.out, hard: UnsafeMutablePointer<Double>? = outs[0] >= 0 ? v + outs[0] : nil
        let logProb = v + outs[2]
        let unclamped = v + ins.pointee.aux, weights = unclamped + n
        // The noise node this replaces fills its uniforms from word step·2³² of its stream.
        svm_relaxed_onehot(logits, rows, k, tau, reals, offset, seed, UInt64(ins.pointee.p2), step << 32,
                           soft, hard, logProb, unclamped, weights, sc)
    }

    /// `relaxedOneHotPlate` backward: the adjoints of the soft draw, of the straight-through
    /// value (which passes to the soft draw unchanged) and of the log-density, through log C,
    /// the clamp, the softmax and the division by τ, into the logits: one pass, no
    /// transcendental.
    static func relaxedOneHotBackward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                      _ g: UnsafeMutablePointer<Double>, _ tbl: UnsafeMutablePointer<Int>, _ sc: UnsafeMutablePointer<Double>) {
        guard ins.pointee.gA >= 0 else { return }
        let rows = ins.pointee.p0, k = ins.pointee.p1, n = rows * k
        let outs = tbl + ins.pointee.p3
        let tau = v[ins.pointee.b], reals = v + outs[4]
        let soft = v + ins.pointee.out, unclamped = v + ins.pointee.aux, weights = unclamped + n
        let gHard: UnsafeMutablePointer<Double>? = outs[1] >= 0 ? g + outs[1] : nil
        let gLogProb: UnsafeMutablePointer<Double>? = outs[3] >= 0 ? g + outs[3] : nil
        svm_relaxed_onehot_backward(rows, k, tau, reals, soft, unclamped, weights, g + ins.pointee.gOut, gHard, gLogProb,
                                    g + ins.pointee.gA, sc)
    }
}
