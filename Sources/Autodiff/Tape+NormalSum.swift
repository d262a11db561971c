extension Tape {
    /// Σ term(i) over `n` terms with `svm_sum`'s rounding bit for bit (what `scaledSum` calls
    /// on a node of those terms): eight lane sums over whole blocks of eight, combined as
    /// ((a₀ + a₄) + (a₁ + a₅)) + ((a₂ + a₆) + (a₃ + a₇)), then the tail in order. Inline, in
    /// registers: no scratch store read back (a stalled store forward) and no call.
    @inline(__always) static func sumOfTerms(_ n: Int, _ term: (Int) -> Double) -> Double {
        var a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0, i = 0
        while i + 8 <= n {
            a0 += term(i); a1 += term(i + 1); a2 += term(i + 2); a3 += term(i + 3)
            a4 += term(i + 4); a5 += term(i + 5); a6 += term(i + 6); a7 += term(i + 7)
            i += 8
        }
        var s = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))
        while i < n { s += term(i); i += 1 }
        return s
    }

    /// `normalLogProbSum` forward (``OpCode/normalLogProbSum``): the per-element log-densities
    /// −z²/2 − log scale − log √(2π), z = (x − loc)/scale (times 1/scale when the scale is
    /// constant and its reciprocal folded), log scale read, summed in `svm_sum`'s order, times
    /// the coefficient.
    static func normalLogProbSumForward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                        _ tbl: UnsafeMutablePointer<Int>) -> Double {
        let n = ins.pointee.n, x = v + ins.pointee.a, m = v + ins.pointee.b, s = v + ins.pointee.c, ls = v + ins.pointee.p3
        let sx = ins.pointee.p0, sm = ins.pointee.p1, ss = ins.pointee.p2
        let table = ins.pointee.p4 >= 0 ? tbl + ins.pointee.p4 : nil
        let sum: Double
        if ins.pointee.p5 >= 0 {
            let r = v + ins.pointee.p5
            if let t = table {
                sum = sumOfTerms(n) { i in let z = (x[i * sx] - m[t[i]]) * r[i * ss]; return -0.5 * z * z - ls[i * ss] - halfLogTwoPi }
            } else {
                sum = sumOfTerms(n) { i in let z = (x[i * sx] - m[i * sm]) * r[i * ss]; return -0.5 * z * z - ls[i * ss] - halfLogTwoPi }
            }
        } else if ss == 0 {
            let inv = 1 / s[0], c = -ls[0] - halfLogTwoPi
            if let t = table {
                sum = sumOfTerms(n) { i in let z = (x[i * sx] - m[t[i]]) * inv; return -0.5 * z * z + c }
            } else {
                sum = sumOfTerms(n) { i in let z = (x[i * sx] - m[i * sm]) * inv; return -0.5 * z * z + c }
            }
        } else if let t = table {
            sum = sumOfTerms(n) { i in let z = (x[i * sx] - m[t[i]]) / s[i]; return -0.5 * z * z - ls[i] - halfLogTwoPi }
        } else {
            sum = sumOfTerms(n) { i in let z = (x[i * sx] - m[i * sm]) / s[i]; return -0.5 * z * z - ls[i] - halfLogTwoPi }
        }
        return ins.pointee.s0 * sum
    }

    /// `normalLogProbSum` backward: `normalLogProb`'s partials with every element's adjoint
    /// the coefficient times the sum's, the loc's into its table's entries.
    static func normalLogProbSumBackward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                         _ g: UnsafeMutablePointer<Double>, _ tbl: UnsafeMutablePointer<Int>) {
        let s = v + ins.pointee.c, ss = ins.pointee.p2, sm = ins.pointee.p1
        let r: UnsafeMutablePointer<Double>? = ins.pointee.p5 >= 0 ? v + ins.pointee.p5 : nil
        if ins.pointee.p4 >= 0 {
            let t = tbl + ins.pointee.p4
            if let r { normalSumGradient(ins, v, g, loc: { t[$0] }, inverse: { r[$0 * ss] }) } else {
                normalSumGradient(ins, v, g, loc: { t[$0] }, inverse: { 1 / s[$0 * ss] })
            }
        } else if let r {
            normalSumGradient(ins, v, g, loc: { $0 * sm }, inverse: { r[$0 * ss] })
        } else {
            normalSumGradient(ins, v, g, loc: { $0 * sm }, inverse: { 1 / s[$0 * ss] })
        }
    }

    /// The partials of `normalLogProbSum` with element i's loc at `loc(i)` and 1/scale `inverse(i)`:
    /// one loop for the loc alone (the usual model site: constant data and scale), one for all.
    @inline(__always) static func normalSumGradient(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                                    _ g: UnsafeMutablePointer<Double>, loc: (Int) -> Int, inverse: (Int) -> Double) {
        let n = ins.pointee.n, x = v + ins.pointee.a, m = v + ins.pointee.b, sx = ins.pointee.p0, ss = ins.pointee.p2
        let w = ins.pointee.s0 * g[ins.pointee.gOut]
        let gx = ins.pointee.gA >= 0 ? g + ins.pointee.gA : nil, gm = ins.pointee.gB >= 0 ? g + ins.pointee.gB : nil
        let gs = ins.pointee.gC >= 0 ? g + ins.pointee.gC : nil
        if gx == nil && gs == nil, let gm {
            for i in 0..<n {
                let inv = inverse(i), j = loc(i), z = (x[i * sx] - m[j]) * inv
                gm[j] += w * z * inv
            }
            return
        }
        for i in 0..<n {
            let inv = inverse(i), j = loc(i), z = (x[i * sx] - m[j]) * inv
            gx?[i * sx] -= w * z * inv
            gm?[j] += w * z * inv
            gs?[i * ss] += w * (z * z - 1) * inv
        }
    }

    /// `normalDrawLogProbSum` forward (``OpCode/normalDrawLogProbSum``): the summed
    /// `normalDrawLogProb`, log scale read.
    static func normalDrawLogProbSumForward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>) -> Double {
        let n = ins.pointee.n, e = v + ins.pointee.a, ls = v + ins.pointee.p3
        let sum: Double
        if ins.pointee.p0 == 0 {
            let c = -ls[0] - halfLogTwoPi
            sum = sumOfTerms(n) { i in -0.5 * e[i] * e[i] + c }
        } else {
            sum = sumOfTerms(n) { i in -0.5 * e[i] * e[i] - ls[i] - halfLogTwoPi }
        }
        return ins.pointee.s0 * sum
    }

    /// `normalDrawLogProbSum` backward: −w/scale into the scale (see `normalDrawLogProb`).
    static func normalDrawLogProbSumBackward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                             _ g: UnsafeMutablePointer<Double>) {
        guard ins.pointee.gB >= 0 else { return }
        let n = ins.pointee.n, s = v + ins.pointee.b, gs = g + ins.pointee.gB, ss = ins.pointee.p0
        let w = ins.pointee.s0 * g[ins.pointee.gOut]
        for i in 0..<n { gs[i * ss] -= w / s[i * ss] }
    }
}
