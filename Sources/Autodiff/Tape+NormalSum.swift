import CVecMath

extension Tape {
    /// `normalLogProbSum` forward (``OpCode/normalLogProbSum``): the per-element log-densities
    /// as `normalLogProb` computes them (log scale read, not recomputed), summed in scratch by
    /// `svm_sum` in the order `scaledSum` sums them, times the coefficient.
    static func normalLogProbSumForward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                        _ tbl: UnsafeMutablePointer<Int>, _ sc: UnsafeMutablePointer<Double>) -> Double {
        let n = ins.pointee.p5, x = v + ins.pointee.a, m = v + ins.pointee.b, s = v + ins.pointee.c, ls = v + ins.pointee.p3
        let sx = ins.pointee.p0, sm = ins.pointee.p1, ss = ins.pointee.p2
        if ins.pointee.p4 >= 0 {
            let t = tbl + ins.pointee.p4
            if ss == 0 {
                let inv = 1 / s[0], c = -ls[0] - halfLogTwoPi
                for i in 0..<n { let z = (x[i * sx] - m[t[i]]) * inv; sc[i] = -0.5 * z * z + c }
            } else {
                for i in 0..<n { let z = (x[i * sx] - m[t[i]]) / s[i]; sc[i] = -0.5 * z * z - ls[i] - halfLogTwoPi }
            }
        } else if ss == 0 {
            let inv = 1 / s[0], c = -ls[0] - halfLogTwoPi
            for i in 0..<n { let z = (x[i * sx] - m[i * sm]) * inv; sc[i] = -0.5 * z * z + c }
        } else {
            for i in 0..<n { let z = (x[i * sx] - m[i * sm]) / s[i]; sc[i] = -0.5 * z * z - ls[i] - halfLogTwoPi }
        }
        return ins.pointee.s0 * svm_sum(sc, n)
    }

    /// `normalLogProbSum` backward: `normalLogProb`'s partials with every element's adjoint
    /// the coefficient times the sum's, the loc's into its table's entries.
    static func normalLogProbSumBackward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                         _ g: UnsafeMutablePointer<Double>, _ tbl: UnsafeMutablePointer<Int>) {
        let n = ins.pointee.p5, x = v + ins.pointee.a, m = v + ins.pointee.b, s = v + ins.pointee.c
        let sx = ins.pointee.p0, sm = ins.pointee.p1, ss = ins.pointee.p2
        let w = ins.pointee.s0 * g[ins.pointee.gOut]
        let gx = ins.pointee.gA >= 0 ? g + ins.pointee.gA : nil, gm = ins.pointee.gB >= 0 ? g + ins.pointee.gB : nil
        let gs = ins.pointee.gC >= 0 ? g + ins.pointee.gC : nil
        if ins.pointee.p4 >= 0 {
            let t = tbl + ins.pointee.p4
            for i in 0..<n {
                let inv = 1 / s[i * ss], z = (x[i * sx] - m[t[i]]) * inv
                gx?[i * sx] -= w * z * inv
                gm?[t[i]] += w * z * inv
                gs?[i * ss] += w * (z * z - 1) * inv
            }
        } else {
            for i in 0..<n {
                let inv = 1 / s[i * ss], z = (x[i * sx] - m[i * sm]) * inv
                gx?[i * sx] -= w * z * inv
                gm?[i * sm] += w * z * inv
                gs?[i * ss] += w * (z * z - 1) * inv
            }
        }
    }

    /// `normalDrawLogProbSum` forward (``OpCode/normalDrawLogProbSum``): the summed
    /// `normalDrawLogProb`, log scale read.
    static func normalDrawLogProbSumForward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                            _ sc: UnsafeMutablePointer<Double>) -> Double {
        let n = ins.pointee.p5, e = v + ins.pointee.a, ls = v + ins.pointee.p3
        if ins.pointee.p0 == 0 {
            let c = -ls[0] - halfLogTwoPi
            for i in 0..<n { sc[i] = -0.5 * e[i] * e[i] + c }
        } else {
            for i in 0..<n { sc[i] = -0.5 * e[i] * e[i] - ls[i] - halfLogTwoPi }
        }
        return ins.pointee.s0 * svm_sum(sc, n)
    }

    /// `normalDrawLogProbSum` backward: −w/scale into the scale (see `normalDrawLogProb`).
    static func normalDrawLogProbSumBackward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                             _ g: UnsafeMutablePointer<Double>) {
        guard ins.pointee.gB >= 0 else { return }
        let n = ins.pointee.p5, s = v + ins.pointee.b, gs = g + ins.pointee.gB, ss = ins.pointee.p0
        let w = ins.pointee.s0 * g[ins.pointee.gOut]
        for i in 0..<n { gs[i * ss] -= w / s[i * ss] }
    }
}
