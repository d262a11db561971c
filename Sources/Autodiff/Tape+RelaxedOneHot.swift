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
        let kappa = reals[0], uLow = reals[1], uHigh = reals[2], cLow = reals[3], cHigh = reals[4]
        let soft = v + ins.pointee.out, hard: UnsafeMutablePointer<Double>? = outs[0] >= 0 ? v + outs[0] : nil
        let logProb = v + outs[2]
        let unclamped = v + ins.pointee.aux, weights = unclamped + n
        let block = relaxedBlockRows
        let u = sc, e = sc + block * k, rowMax = sc + 2 * block * k, rowSum = rowMax + block, rowLog = rowSum + block, rowX = rowLog + block
        var rng = RandomStream(seed: seed, stream: UInt64(ins.pointee.p2), counter: step << 32)
        var r0 = 0
        while r0 < rows {
            let br = Swift.min(block, rows - r0), m = br * k, base = r0 * k
            let l = logits + base, s = unclamped + base, c = soft + base, w = weights + base
            // Gumbel noise from the clamped uniforms.
            rng.fillUniform(u, count: m)
            for i in 0..<m { u[i] = Swift.min(Swift.max(u[i], uLow), uHigh) }
            svm_log(u, u, m)
            for i in 0..<m { u[i] = -u[i] }
            svm_log(u, u, m)
            // Tempered scores, less each row's maximum, then the softmax and its clamp.
            for i in 0..<m { e[i] = (l[i] + -u[i]) / tau }
            for r in 0..<br {
                var mx = -Double.infinity
                for j in 0..<k { mx = Swift.max(mx, e[r * k + j]) }
                if !mx.isFinite { mx = 0 }
                for j in 0..<k { e[r * k + j] -= mx }
            }
            svm_exp(e, e, m)
            for r in 0..<br {
                var sum = 0.0
                for j in 0..<k { sum += e[r * k + j] }
                let inv = 1 / sum
                for j in 0..<k {
                    let y = e[r * k + j] * inv
                    s[r * k + j] = y
                    c[r * k + j] = Swift.min(Swift.max(y, cLow), cHigh)
                }
            }
            if let hard {
                let h = hard + base
                for r in 0..<br {
                    var best = 0, mx = c[r * k]
                    for j in 1..<Swift.max(k, 1) where c[r * k + j] > mx { mx = c[r * k + j]; best = j }
                    for j in 0..<k { h[r * k + j] = j == best ? 1 : 0 }
                }
            }
            // The log-density of the soft draw: X = log C in u, T = ℓ − X·τ in e.
            svm_log(c, u, m)
            for i in 0..<m { e[i] = l[i] - u[i] * tau }
            for r in 0..<br {
                var mx = -Double.infinity, st = 0.0, sx = 0.0
                for j in 0..<k { mx = Swift.max(mx, e[r * k + j]); st += e[r * k + j]; sx += u[r * k + j] }
                if !mx.isFinite { mx = 0 }
                rowMax[r] = mx; rowSum[r] = st; rowX[r] = sx
                for j in 0..<k { w[r * k + j] = e[r * k + j] - mx }
            }
            svm_exp(w, w, m)
            for r in 0..<br {
                var sum = 0.0
                for j in 0..<k { sum += w[r * k + j] }
                rowLog[r] = sum
                let inv = 1 / sum
                for j in 0..<k { w[r * k + j] *= inv }
            }
            svm_log(rowLog, rowLog, br)
            for r in 0..<br {
                let lse = rowMax[r] + rowLog[r]
                logProb[r0 + r] = ((rowSum[r] - kappa * lse) + offset) - rowX[r]
            }
            r0 += br
        }
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
        let kappa = reals[0], cLow = reals[3], cHigh = reals[4]
        let soft = v + ins.pointee.out, unclamped = v + ins.pointee.aux, weights = unclamped + n
        let gSoft = g + ins.pointee.gOut, gLogits = g + ins.pointee.gA
        let gHard: UnsafeMutablePointer<Double>? = outs[1] >= 0 ? g + outs[1] : nil
        let gLogProb: UnsafeMutablePointer<Double>? = outs[3] >= 0 ? g + outs[3] : nil
        for r in 0..<rows {
            let base = r * k
            var dot = 0.0
            // ∂/∂S: through the soft draw's readers, the value and log C, then the clamp's mask.
            for j in 0..<k {
                let i = base + j
                var gc = gSoft[i]
                if let gLogProb {
                    let glp = gLogProb[r]
                    let dt = -kappa * glp * weights[i] + glp
                    gLogits[i] += dt
                    gc += (-glp + -dt * tau) / soft[i]
                }
                if let gHard { gc += gHard[i] }
                let y = unclamped[i]
                let gs = y >= cLow && y <= cHigh ? gc : 0
                sc[j] = gs
                dot += gs * y
            }
            // The softmax's Jacobian and the division by τ.
            for j in 0..<k {
                let y = unclamped[base + j]
                gLogits[base + j] += y * (sc[j] - dot) / tau
            }
        }
    }
}
