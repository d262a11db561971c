import CLAPACK
import CVecMath
import Numerics

extension Tape {
    /// Accumulates d(loss)/d(node) for every node between the parameters and the loss:
    /// zeroes the adjoint arena, seeds the loss with 1, replays the differentiable
    /// instructions in reverse. Call after `forward()`. A tape whose loss depends on no
    /// parameter (or that has no loss) has nothing to differentiate: every gradient stays zero.
    public func backward() {
        guard lossAdjoint >= 0 else { return }
        adjoints.update(repeating: 0, count: adjointCount)
        adjoints[lossAdjoint] = 1
        runBackward(backwardCode, from: 0, count: backwardCount)
    }

    /// Replays `count` instructions of `code`, starting at `start`, in reverse mode.
    func runBackward(_ code: UnsafeMutableBufferPointer<Instruction>, from start: Int, count: Int) {
        let v = values, g = adjoints, sc = scratch, tbl = ints
        for k in start..<(start + count) {
            // Read fields through a pointer: copying the instruction costs a memcpy per op.
            let ins = code.baseAddress.unsafelyUnwrapped + k
            let n = ins.pointee.n, go = g + ins.pointee.gOut, y = v + ins.pointee.out, x = v + ins.pointee.a
            let ga = ins.pointee.gA >= 0 ? g + ins.pointee.gA : nil
            switch ins.pointee.op {
            case .parameter, .input, .constant, .stopGradient, .view, .normalNoise, .uniformNoise, .gumbelNoise,
                 .less, .argmax, .oneHot, .poissonSample, .binomialSample, .subsample, .blockRows, .fusedOutput: break
            case .relaxedOneHotPlate: Tape.relaxedOneHotBackward(ins, v, g, tbl, sc)
            case .categoricalDrawPlate: Tape.categoricalDrawBackward(ins, v, g, tbl)
            case .scaledSum:
                if let ga { let s = ins.pointee.s0 * go[0]; for j in 0..<ins.pointee.p1 { ga[j] += s } }
            case .linearCombination:
                let operands = tbl + ins.pointee.p0, coef = v + ins.pointee.b, s = go[0]
                for k in 0..<ins.pointee.p1 where operands[2 * k + 1] >= 0 { g[operands[2 * k + 1]] += coef[k] * s }
            case .neg: if let ga { for i in 0..<n { ga[i] -= go[i] } }
            case .exp: if let ga { for i in 0..<n { ga[i] += go[i] * y[i] } }
            case .log: if let ga { for i in 0..<n { ga[i] += go[i] / x[i] } }
            case .log1p: if let ga { for i in 0..<n { ga[i] += go[i] / (1 + x[i]) } }
            case .expm1: if let ga { for i in 0..<n { ga[i] += go[i] * (y[i] + 1) } }
            case .sqrt: if let ga { for i in 0..<n { ga[i] += go[i] * 0.5 / y[i] } }
            case .abs: if let ga { for i in 0..<n { ga[i] += x[i] > 0 ? go[i] : (x[i] < 0 ? -go[i] : 0) } }
            case .sigmoid: if let ga { for i in 0..<n { ga[i] += go[i] * y[i] * (1 - y[i]) } }
            case .softplus:
                if let ga { svm_sigmoid(x, sc, n); for i in 0..<n { ga[i] += go[i] * sc[i] } }
            case .logSigmoid:
                if let ga {
                    for i in 0..<n { sc[i] = -x[i] }
                    svm_sigmoid(sc, sc, n)
                    for i in 0..<n { ga[i] += go[i] * sc[i] }
                }
            case .tanh: if let ga { for i in 0..<n { ga[i] += go[i] * (1 - y[i] * y[i]) } }
            case .square: if let ga { for i in 0..<n { ga[i] += 2 * go[i] * x[i] } }
            case .reciprocal: if let ga { for i in 0..<n { ga[i] -= go[i] * y[i] * y[i] } }
            case .sin: if let ga { svm_cos(x, sc, n); for i in 0..<n { ga[i] += go[i] * sc[i] } }
            case .cos: if let ga { svm_sin(x, sc, n); for i in 0..<n { ga[i] -= go[i] * sc[i] } }
            case .logit: if let ga { for i in 0..<n { ga[i] += go[i] / (x[i] * (1 - x[i])) } }
            case .lgamma: if let ga { for i in 0..<n { ga[i] += go[i] * Special.digamma(x[i]) } }
            case .digamma: if let ga { for i in 0..<n { ga[i] += go[i] * Special.trigamma(x[i]) } }
            case .scale: if let ga { let s = ins.pointee.s0; for i in 0..<n { ga[i] += s * go[i] } }
            case .shift: if let ga { for i in 0..<n { ga[i] += go[i] } }
            case .powScalar:
                if let ga { let s = ins.pointee.s0; for i in 0..<n { ga[i] += go[i] * s * libmPow(x[i], s - 1) } }
            case .clamp:
                if let ga { for i in 0..<n where x[i] >= ins.pointee.s0 && x[i] <= ins.pointee.s1 { ga[i] += go[i] } }

            case .add, .sub, .mul, .div, .pow, .maximum, .minimum, .xlogy:
                Tape.binaryBackward(ins.pointee, v, g)

            case .select:
                if let ga { let t = tbl + ins.pointee.p0; for i in 0..<n { let j = t[i]; if j >= 0 { ga[j] += go[i] } } }
            case .reduce:
                if let ga { let t = tbl + ins.pointee.p0; for j in 0..<ins.pointee.p1 { ga[j] += go[t[j]] } }
            case .sumAll:
                if let ga { let s = go[0]; for j in 0..<ins.pointee.p1 { ga[j] += s } }
            case .rowDot:
                let a = v + ins.pointee.a, b = v + ins.pointee.b, t = tbl + ins.pointee.p0, kk = ins.pointee.p1
                let gb: UnsafeMutablePointer<Double>? = ins.pointee.gB >= 0 ? g + ins.pointee.gB : nil
                if ins.pointee.p2 == 1 {
                    // A row-broadcast table (distinct entries, x and y distinct nodes): y's adjoint
                    // entries each summed over the rows in the same order as below, in a register
                    // instead of through memory (a store-to-load chain per row).
                    if let ga {
                        for r in 0..<n { let s = go[r]; for j in 0..<kk { ga[r * kk + j] += s * b[t[j]] } }
                    }
                    if let gb, kk == 3 {
                        // The three entries' sums as three independent register chains.
                        var acc0 = gb[t[0]], acc1 = gb[t[1]], acc2 = gb[t[2]]
                        for r in 0..<n {
                            let s = go[r]
                            acc0 += s * a[3 * r]; acc1 += s * a[3 * r + 1]; acc2 += s * a[3 * r + 2]
                        }
                        gb[t[0]] = acc0; gb[t[1]] = acc1; gb[t[2]] = acc2
                    } else if let gb {
                        for j in 0..<kk {
                            var acc = gb[t[j]]
                            for r in 0..<n { acc += go[r] * a[r * kk + j] }
                            gb[t[j]] = acc
                        }
                    }
                    break
                }
                for r in 0..<n {
                    let s = go[r]
                    for j in 0..<kk {
                        let i = r * kk + j
                        ga?[i] += s * b[t[i]]
                        gb?[t[i]] += s * a[i]
                    }
                }
            case .sumLast:
                if let ga { let kk = ins.pointee.p0; for r in 0..<n { let s = go[r]; for j in 0..<kk { ga[r * kk + j] += s } } }
            case .gather:
                if let ga {
                    let idx = v + ins.pointee.b, r = ins.pointee.p1, extent = ins.pointee.p2
                    for i in 0..<ins.pointee.p0 {
                        let z = Tape.roundedIndex(idx[i])
                        if z < 0 || z >= extent { continue }
                        for j in 0..<r { ga[z * r + j] += go[i * r + j] }
                    }
                }
            case .pick:
                if let ga {
                    let idx = v + ins.pointee.b, kk = ins.pointee.p0
                    for i in 0..<n {
                        let z = Tape.roundedIndex(idx[i])
                        if z >= 0 && z < kk { ga[i * kk + z] += go[i] }
                    }
                }
            case .substitute:
                if ins.pointee.gB >= 0 { let gb = g + ins.pointee.gB; for i in 0..<n { gb[i] += go[i] } }

            case .softmax:
                if let ga { Tape.alongAxis(ins.pointee) { base, k, st in
                    var dot = 0.0
                    for j in 0..<k { dot += go[base + j * st] * y[base + j * st] }
                    for j in 0..<k { ga[base + j * st] += y[base + j * st] * (go[base + j * st] - dot) }
                } }
            case .logSoftmax:
                if let ga {
                    svm_exp(y, sc, n)
                    Tape.alongAxis(ins.pointee) { base, k, st in
                        var s = 0.0
                        for j in 0..<k { s += go[base + j * st] }
                        for j in 0..<k { ga[base + j * st] += go[base + j * st] - sc[base + j * st] * s }
                    }
                }
            case .logsumexp:
                if let ga {
                    let outer = ins.pointee.p0, kk = ins.pointee.p1, inner = ins.pointee.p2
                    for q in 0..<outer { for r in 0..<inner {
                        let base = q * kk * inner + r, m = y[q * inner + r]
                        for j in 0..<kk { sc[base + j * inner] = x[base + j * inner] - m }
                    } }
                    svm_exp(sc, sc, outer * kk * inner)
                    for q in 0..<outer { for r in 0..<inner {
                        let base = q * kk * inner + r, s = go[q * inner + r]
                        for j in 0..<kk { ga[base + j * inner] += s * sc[base + j * inner] }
                    } }
                }

            case .stickBreaking: if let ga { Tape.stickBreakingBackward(ins.pointee, x, go, ga, sc) }
            case .lowerCholeskyFactor:
                // ∂x = ∂y on the strict lower triangle, ∂y·y on the diagonal (y = exp x there).
                if let ga {
                    let d = ins.pointee.p0
                    for base in stride(from: 0, to: n, by: Swift.max(d * d, 1)) {
                        for i in 0..<d {
                            let row = base + i * d
                            for j in 0..<i { ga[row + j] += go[row + j] }
                            ga[row + i] += go[row + i] * y[row + i]
                        }
                    }
                }
            case .gammaSample:
                if let ga { for i in 0..<n { ga[i] += go[i] * Special.standardGammaGradient(alpha: x[i], z: y[i]) } }
            case .matmul: Tape.matmulBackward(ins.pointee, v, g)
            case .cholesky: if let ga { Tape.choleskyBackward(ins.pointee, y, go, ga, sc) }

            case .normalLogProb: Tape.normalBackward(ins.pointee, v, g)
            case .normalLogProbSum: Tape.normalLogProbSumBackward(ins, v, g, tbl)
            case .normalDrawLogProbSum: Tape.normalDrawLogProbSumBackward(ins, v, g)
            case .multiplyAdd:
                let b = v + ins.pointee.b, c = v + ins.pointee.c, sb = ins.pointee.p0, sc = ins.pointee.p1
                if let ga { for i in 0..<n { ga[i] += go[i] } }
                if ins.pointee.gB >= 0 { let gb = g + ins.pointee.gB; for i in 0..<n { gb[i * sb] += go[i] * c[i * sc] } }
                if ins.pointee.gC >= 0 { let gc = g + ins.pointee.gC; for i in 0..<n { gc[i * sc] += go[i] * b[i * sb] } }
            case .normalDrawLogProb:
                // d/d scale of log N(loc + scale·ε | loc, scale) = −1/scale: the direct term and
                // the path through the draw cancel in ε, and loc drops out.
                if ins.pointee.gB >= 0 {
                    let s = v + ins.pointee.b, gs = g + ins.pointee.gB, ss = ins.pointee.p0
                    for i in 0..<n { gs[i * ss] -= go[i] / s[i * ss] }
                }
            case .bernoulliLogitsLogProb:
                let xv = v + ins.pointee.a, l = v + ins.pointee.b, sx = ins.pointee.p0, sl = ins.pointee.p1
                if ins.pointee.gA >= 0 { let gx = g + ins.pointee.gA; for i in 0..<n { gx[i * sx] += go[i] * l[i * sl] } }
                if ins.pointee.gB >= 0 {
                    let gl = g + ins.pointee.gB
                    if sl == 0 { let s = Special.sigmoid(l[0]); for i in 0..<n { gl[0] += go[i] * (xv[i * sx] - s) } } else {
                        let sig = v + ins.pointee.aux
                        for i in 0..<n { gl[i] += go[i] * (xv[i * sx] - sig[i]) }
                    }
                }
            case .mvnTrilLogProb: Tape.mvnBackward(ins.pointee, v, g, sc)
            case .mvnDrawLogProb:
                // The draw's density depends on L through −Σ log L_ii only (see `normalDrawLogProb`).
                if ins.pointee.gB >= 0 {
                    let l = v + ins.pointee.b, gl = g + ins.pointee.gB, d = ins.pointee.p1
                    var total = 0.0
                    for s in 0..<ins.pointee.p0 { total += go[s] }
                    for j in 0..<d { gl[j * d + j] -= total / l[j * d + j] }
                }
            case .bernoulliLinearSum:
                if ins.pointee.gB >= 0 {
                    let gw = g + ins.pointee.gB, grad = v + ins.pointee.aux, s = go[0]
                    for i in 0..<(ins.pointee.p0 * ins.pointee.p2) { gw[i] += s * grad[i] }
                }
            case .mvnSampleOMT: if !Tape.mvnSampleOMTBackward(ins.pointee, v, g, sc, ownProducts: omtUsesOwnProducts) { raise(.eigensolverFailed, ins.pointee.node) }
            case .mvnSampleAVF: Tape.mvnSampleAVFBackward(ins.pointee, v, g, sc, tbl)
            case .custom:
                let views = customViews[ins.pointee.p1]
                customOps[ins.pointee.p0].backward(inputs: views.inputs, output: UnsafeBufferPointer(start: y, count: n),
                                           outputAdjoint: UnsafeBufferPointer(start: go, count: n), inputAdjoints: views.inputAdjoints)
            }
        }
    }

    /// Runs `body(base, k, stride)` for every slice along the normalised axis.
    @inline(__always)
    static func alongAxis(_ ins: Instruction, _ body: (Int, Int, Int) -> Void) {
        for q in 0..<ins.p0 { for r in 0..<ins.p2 { body(q * ins.p1 * ins.p2 + r, ins.p1, ins.p2) } }
    }

    // One call site: inlined, so the instruction's fields are read in place instead of the
    // 160-byte instruction being copied for the call (a memcpy per op in small models).
    @inline(__always)
    static func binaryBackward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ g: UnsafeMutablePointer<Double>) {
        let n = ins.n, a = v + ins.a, b = v + ins.b, y = v + ins.out, go = g + ins.gOut, sa = ins.p0, sb = ins.p1
        if ins.gA >= 0 {
            let ga = g + ins.gA
            switch ins.op {
            case .add, .sub: for i in 0..<n { ga[i * sa] += go[i] }
            case .mul: for i in 0..<n { ga[i * sa] += go[i] * b[i * sb] }
            case .div: for i in 0..<n { ga[i * sa] += go[i] / b[i * sb] }
            case .pow: for i in 0..<n { let e = b[i * sb]; ga[i * sa] += go[i] * e * libmPow(a[i * sa], e - 1) }
            case .maximum: for i in 0..<n where a[i * sa] >= b[i * sb] { ga[i * sa] += go[i] }
            // ∂(a log b)/∂a = log b, also where a = 0 (a Gamma or Beta concentration of exactly 1); only 0 · log 0 has none.
            case .xlogy: for i in 0..<n where a[i * sa] != 0 || b[i * sb] != 0 { ga[i * sa] += go[i] * libmLog(b[i * sb]) }
            case .minimum: for i in 0..<n where a[i * sa] <= b[i * sb] { ga[i * sa] += go[i] }
            default: break
            }
        }
        if ins.gB >= 0 {
            let gb = g + ins.gB
            switch ins.op {
            case .add: for i in 0..<n { gb[i * sb] += go[i] }
            case .sub: for i in 0..<n { gb[i * sb] -= go[i] }
            case .mul: for i in 0..<n { gb[i * sb] += go[i] * a[i * sa] }
            case .div: for i in 0..<n { gb[i * sb] -= go[i] * y[i] / b[i * sb] }
            case .pow: for i in 0..<n where a[i * sa] > 0 || y[i] != 0 { gb[i * sb] += go[i] * y[i] * libmLog(a[i * sa]) }
            case .maximum: for i in 0..<n where b[i * sb] > a[i * sa] { gb[i * sb] += go[i] }
            case .xlogy: for i in 0..<n where a[i * sa] != 0 { gb[i * sb] += go[i] * a[i * sa] / b[i * sb] }
            case .minimum: for i in 0..<n where b[i * sb] < a[i * sa] { gb[i * sb] += go[i] }
            default: break
            }
        }
    }

    static func matmulBackward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ g: UnsafeMutablePointer<Double>) {
        let batch = ins.p0, m = ins.p1, k = ins.p2, nn = ins.p3, sa = ins.p4, sb = ins.p5
        let a = v + ins.a, b = v + ins.b, go = g + ins.gOut
        if sb == 0 && (sa == m * k || batch == 1) {
            let rows = batch * m
            if ins.gA >= 0 { gemm(false, true, rows, k, nn, 1, go, nn, b, nn, 1, g + ins.gA, k) }
            if ins.gB >= 0 { gemm(true, false, k, nn, rows, 1, a, k, go, nn, 1, g + ins.gB, nn) }
        } else if sa == 0 && nn == 1 {
            // O[batch, m] = B[batch, k] · Aᵀ.
            if ins.gA >= 0 { gemm(true, false, m, k, batch, 1, go, m, b, k, 1, g + ins.gA, k) }
            if ins.gB >= 0 { gemm(false, false, batch, k, m, 1, go, m, a, k, 1, g + ins.gB, k) }
        } else {
            for q in 0..<batch {
                let gq = go + q * m * nn
                if ins.gA >= 0 { gemm(false, true, m, k, nn, 1, gq, nn, b + q * sb, nn, 1, g + ins.gA + q * sa, k) }
                if ins.gB >= 0 { gemm(true, false, k, nn, m, 1, a + q * sa, k, gq, nn, 1, g + ins.gB + q * sb, nn) }
            }
        }
    }

    /// Reverse mode of the Cholesky factor (Murray 2016): with L̄ the output adjoint,
    /// S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ where Φ keeps the lower triangle and halves the diagonal; since the
    /// forward reads only the lower triangle, Ā_ij = S_ij + S_ji below the diagonal and S_ii on it.
    static func choleskyBackward(_ ins: Instruction, _ lAll: UnsafeMutablePointer<Double>, _ goAll: UnsafeMutablePointer<Double>,
                                 _ gaAll: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let d = ins.p1, dd = d * d
        let lbar = sc, p = sc + dd
        for q in 0..<ins.p0 {
            let l = lAll + q * dd, go = goAll + q * dd, ga = gaAll + q * dd
            for i in 0..<d { for j in 0..<d { lbar[i * d + j] = j <= i ? go[i * d + j] : 0 } }
            // P = Lᵀ L̄, then Φ.
            gemm(true, false, d, d, d, 1, l, d, lbar, d, 0, p, d)
            for i in 0..<d { for j in 0..<d { p[i * d + j] = j < i ? p[i * d + j] : (j == i ? 0.5 * p[i * d + j] : 0) } }
            // S = L⁻ᵀ P L⁻¹.
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(d), Int32(d), 1, l, Int32(d), p, Int32(d))
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, Int32(d), Int32(d), 1, l, Int32(d), p, Int32(d))
            for i in 0..<d {
                ga[i * d + i] += p[i * d + i]
                for j in 0..<i { ga[i * d + j] += p[i * d + j] + p[j * d + i] }
            }
        }
    }

    /// Reverse of the stick-breaking recursion y_j = z_j r_j, r_{j+1} = r_j (1 − z_j), y_{k−1} = r_{k−1}.
    static func stickBreakingBackward(_ ins: Instruction, _ x: UnsafeMutablePointer<Double>, _ go: UnsafeMutablePointer<Double>,
                                      _ ga: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let k1 = ins.p0, rows = ins.n / (k1 + 1)
        let z = sc, rem = sc + k1
        for r in 0..<rows {
            let xr = x + r * k1, gy = go + r * (k1 + 1), gx = ga + r * k1
            var rest = 1.0
            for j in 0..<k1 {
                z[j] = Special.sigmoid(xr[j] - libmLog(Double(k1 - j)))
                rem[j] = rest
                rest *= 1 - z[j]
            }
            var gRest = gy[k1]
            for j in stride(from: k1 - 1, through: 0, by: -1) {
                let gz = (gy[j] - gRest) * rem[j]
                gRest = gy[j] * z[j] + gRest * (1 - z[j])
                gx[j] += gz * z[j] * (1 - z[j])
            }
        }
    }

    // One call site: inlined, so the instruction's fields are read in place instead of the
    // 160-byte instruction being copied for the call (a memcpy per op in small models).
    @inline(__always)
    static func normalBackward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ g: UnsafeMutablePointer<Double>) {
        let n = ins.n, x = v + ins.a, m = v + ins.b, s = v + ins.c, go = g + ins.gOut
        let sx = ins.p0, sm = ins.p1, ss = ins.p2
        let gx = ins.gA >= 0 ? g + ins.gA : nil, gm = ins.gB >= 0 ? g + ins.gB : nil, gs = ins.gC >= 0 ? g + ins.gC : nil
        for i in 0..<n {
            let inv = 1 / s[i * ss], z = (x[i * sx] - m[i * sm]) * inv, w = go[i]
            gx?[i * sx] -= w * z * inv
            gm?[i * sm] += w * z * inv
            gs?[i * ss] += w * (z * z - 1) * inv
        }
    }

    /// Gradients of the MVN log-density: with U = R L⁻ᵀ (the forward rule's, in `aux`) and
    /// V = U L⁻¹ (rows), ∂/∂x = −V, ∂/∂loc = V, ∂/∂L = tril(Σ_s w_s v_s u_sᵀ) − (Σ_s w_s) diag(1/L_ii).
    static func mvnBackward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ g: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let rows = ins.p0, d = ins.p1, ls = ins.p2
        let l = v + ins.c, go = g + ins.gOut
        let u = v + ins.aux, w = sc
        // w ← (go ⊙ U) L⁻¹: weighted rows of V.
        for s in 0..<rows { for j in 0..<d { w[s * d + j] = go[s] * u[s * d + j] } }
        SmallMatrix.solveRows(false, rows: rows, d: d, l, w)
        if ins.gA >= 0 { let gx = g + ins.gA; for i in 0..<rows * d { gx[i] -= w[i] } }
        if ins.gB >= 0 {
            let gm = g + ins.gB
            for s in 0..<rows { for j in 0..<d { gm[s * ls + j] += w[s * d + j] } }
        }
        if ins.gC >= 0 {
            let gl = g + ins.gC
            var total = 0.0
            for s in 0..<rows { total += go[s] }
            // A few rows: the lower triangle of WᵀU entry by entry (a product would form all of
            // it); more: the product, then its lower triangle.
            let direct = rows <= 4, tmp = sc + rows * d
            if !direct { gemm(true, false, d, d, rows, 1, w, d, u, d, 0, tmp, d) }
            for a in 0..<d {
                let ga = gl + a * d
                if rows == 1 {
                    // One row: the outer product's row a, w_a·u, in one pass.
                    let wa = w[a]
                    for b in 0...a { ga[b] += wa * u[b] }
                } else {
                    for b in 0...a {
                        var t = 0.0
                        if direct { for s in 0..<rows { t += w[s * d + a] * u[s * d + b] } } else { t = tmp[a * d + b] }
                        ga[b] += t
                    }
                }
                ga[a] -= total / l[a * d + a]
            }
        }
    }
}
