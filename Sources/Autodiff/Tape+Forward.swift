import CLAPACK
import CVecMath
import Numerics

let halfLogTwoPi = 0.91893853320467274178032973640562

extension Tape {
    /// Replays every instruction in order. Check ``fault`` afterwards when the graph gathers
    /// by sampled indices or factorises matrices.
    public func forward() {
        status[0] = 0
        if pendingSetup {
            foldConstants()
            if status[0] != 0 { return }
        }
        run(forwardCode, from: 0, count: forwardCount)
    }

    /// Replays `count` instructions of `code` forward, starting at `start`.
    func run(_ code: UnsafeMutableBufferPointer<Instruction>, from start: Int = 0, count: Int) {
        let v = values, sc = scratch, tbl = ints, seed = self.seed, step = self.step
        for k in start..<(start + count) {
            // Read fields through a pointer: copying the instruction costs a memcpy per op.
            let ins = code.baseAddress.unsafelyUnwrapped + k
            let n = ins.pointee.n, o = v + ins.pointee.out
            switch ins.pointee.op {
            case .parameter, .input, .constant: break
            case .neg: let a = v + ins.pointee.a; for i in 0..<n { o[i] = -a[i] }
            case .exp: svm_exp(v + ins.pointee.a, o, n)
            case .log: svm_log(v + ins.pointee.a, o, n)
            case .log1p: svm_log1p(v + ins.pointee.a, o, n)
            case .expm1: svm_expm1(v + ins.pointee.a, o, n)
            case .sqrt: let a = v + ins.pointee.a; for i in 0..<n { o[i] = a[i].squareRoot() }
            case .abs: let a = v + ins.pointee.a; for i in 0..<n { o[i] = Swift.abs(a[i]) }
            case .sigmoid: svm_sigmoid(v + ins.pointee.a, o, n)
            case .softplus: svm_softplus(v + ins.pointee.a, o, n)
            case .logSigmoid:
                let a = v + ins.pointee.a
                for i in 0..<n { o[i] = -a[i] }
                svm_softplus(o, o, n)
                for i in 0..<n { o[i] = -o[i] }
            case .tanh: svm_tanh(v + ins.pointee.a, o, n)
            case .square: let a = v + ins.pointee.a; for i in 0..<n { o[i] = a[i] * a[i] }
            case .reciprocal: let a = v + ins.pointee.a; for i in 0..<n { o[i] = 1 / a[i] }
            case .sin: svm_sin(v + ins.pointee.a, o, n)
            case .cos: svm_cos(v + ins.pointee.a, o, n)
            case .logit:
                let a = v + ins.pointee.a
                for i in 0..<n { sc[i] = a[i] / (1 - a[i]) }
                svm_log(sc, o, n)
            case .lgamma: let a = v + ins.pointee.a; for i in 0..<n { o[i] = Special.lgamma(a[i]) }
            case .digamma: let a = v + ins.pointee.a; for i in 0..<n { o[i] = Special.digamma(a[i]) }
            case .scale: let a = v + ins.pointee.a, s = ins.pointee.s0; for i in 0..<n { o[i] = s * a[i] }
            case .shift: let a = v + ins.pointee.a, s = ins.pointee.s0; for i in 0..<n { o[i] = a[i] + s }
            case .powScalar: let a = v + ins.pointee.a, s = ins.pointee.s0; for i in 0..<n { o[i] = libmPow(a[i], s) }
            case .clamp: let a = v + ins.pointee.a; for i in 0..<n { o[i] = Swift.min(Swift.max(a[i], ins.pointee.s0), ins.pointee.s1) }

            case .add: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = a[i * sa] + b[i * sb] }
            case .sub: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = a[i * sa] - b[i * sb] }
            case .mul: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = a[i * sa] * b[i * sb] }
            case .div: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = a[i * sa] / b[i * sb] }
            case .pow: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = libmPow(a[i * sa], b[i * sb]) }
            case .maximum: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = Swift.max(a[i * sa], b[i * sb]) }
            case .minimum: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = Swift.min(a[i * sa], b[i * sb]) }

            case .multiplyAdd:
                let a = v + ins.pointee.a, b = v + ins.pointee.b, c = v + ins.pointee.c, sb = ins.pointee.p0, sc = ins.pointee.p1
                for i in 0..<n { o[i] = a[i] + b[i * sb] * c[i * sc] }
            case .xlogy:
                let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1
                for i in 0..<n { let x = a[i * sa]; o[i] = x == 0 ? 0 : x * libmLog(b[i * sb]) }
            case .less: let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p0, sb = ins.pointee.p1; for i in 0..<n { o[i] = a[i * sa] < b[i * sb] ? 1 : 0 }
            case .argmax:
                let a = v + ins.pointee.a, kk = ins.pointee.p0
                if kk == 3 {
                    // The first largest of three (a NaN is never larger), without branches.
                    for r in 0..<n {
                        let a0 = a[3 * r], a1 = a[3 * r + 1], a2 = a[3 * r + 2]
                        let one = a1 > a0, top = one ? a1 : a0
                        o[r] = a2 > top ? 2 : (one ? 1 : 0)
                    }
                    break
                }
                for r in 0..<n {
                    var best = 0, mx = a[r * kk]
                    for j in 1..<Swift.max(kk, 1) where a[r * kk + j] > mx { mx = a[r * kk + j]; best = j }
                    o[r] = Double(best)
                }
            case .oneHot:
                let a = v + ins.pointee.a, kk = ins.pointee.p0
                o.update(repeating: 0, count: n)
                for r in 0..<(n / Swift.max(kk, 1)) {
                    let z = Tape.roundedIndex(a[r])
                    if z < 0 || z >= kk { raise(.indexOutOfRange, ins.pointee.node); continue }
                    o[r * kk + z] = 1
                }
            case .stickBreaking: Tape.stickBreakingForward(ins.pointee, v + ins.pointee.a, o)
            case .lowerCholeskyFactor: Tape.lowerCholeskyForward(ins.pointee, v + ins.pointee.a, o, sc)
            case .gammaSample:
                var rng = RandomStream(seed: seed, stream: UInt64(ins.pointee.p0), counter: step << 32)
                let a = v + ins.pointee.a
                // A parameter outside the sampler's domain gives NaN (the step then reports
                // which site diverged) rather than reaching the sampler's precondition.
                for i in 0..<n { o[i] = a[i] > 0 && a[i].isFinite ? rng.gamma(shape: a[i]) : .nan }
            case .poissonSample:
                var rng = RandomStream(seed: seed, stream: UInt64(ins.pointee.p0), counter: step << 32)
                let a = v + ins.pointee.a
                for i in 0..<n { o[i] = a[i] >= 0 && a[i] < 0x1p62 ? Double(rng.poisson(rate: a[i])) : .nan }
            case .binomialSample:
                var rng = RandomStream(seed: seed, stream: UInt64(ins.pointee.p0), counter: step << 32)
                let a = v + ins.pointee.a, b = v + ins.pointee.b, sa = ins.pointee.p1, sb = ins.pointee.p2
                for i in 0..<n {
                    let count = a[i * sa].rounded(), p = b[i * sb]
                    o[i] = count >= 0 && count < 0x1p53 && p >= 0 && p <= 1 ? Double(rng.binomial(count: Int(count), probability: p)) : .nan
                }
            case .subsample:
                var rng = RandomStream(seed: seed, stream: UInt64(ins.pointee.p0), counter: step << 32)
                let population = ins.pointee.p1
                for i in 0..<population { sc[i] = Double(i) }
                for i in 0..<n {
                    let j = i + Int(rng.nextUInt64() % UInt64(population - i))
                    let t = sc[i]; sc[i] = sc[j]; sc[j] = t
                    o[i] = sc[i]
                }
            case .select:
                let a = v + ins.pointee.a, t = tbl + ins.pointee.p0
                for i in 0..<n { let j = t[i]; o[i] = j < 0 ? 0 : a[j] }
            case .reduce:
                let a = v + ins.pointee.a, t = tbl + ins.pointee.p0
                o.update(repeating: 0, count: n)
                for j in 0..<ins.pointee.p1 { o[t[j]] += a[j] }
            case .sumAll: o[0] = svm_sum(v + ins.pointee.a, ins.pointee.p1)
            case .scaledSum: o[0] = ins.pointee.s0 * svm_sum(v + ins.pointee.a, ins.pointee.p1)
            case .linearCombination:
                let operands = tbl + ins.pointee.p0, coef = v + ins.pointee.b
                var acc = ins.pointee.s0
                for k in 0..<ins.pointee.p1 { acc += coef[k] * v[operands[2 * k]] }
                o[0] = acc
            case .blockRows: Tape.blockRows(ins.pointee, v + ins.pointee.a, o)
            case .rowDot:
                let a = v + ins.pointee.a, b = v + ins.pointee.b, t = tbl + ins.pointee.p0, kk = ins.pointee.p1
                if ins.pointee.p2 == 1 {
                    // Every row reads the same entries of y (`isRowBroadcast`): the same products,
                    // summed in the same order, without a table load per element.
                    Tape.rowBroadcastDot(a, b, t, o, rows: n, k: kk)
                    break
                }
                for r in 0..<n {
                    var s = 0.0
                    for j in 0..<kk { s += a[r * kk + j] * b[t[r * kk + j]] }
                    o[r] = s
                }
            case .sumLast:
                let a = v + ins.pointee.a, kk = ins.pointee.p0
                for r in 0..<n {
                    var s = 0.0
                    for j in 0..<kk { s += a[r * kk + j] }
                    o[r] = s
                }
            case .gather:
                let a = v + ins.pointee.a, idx = v + ins.pointee.b, r = ins.pointee.p1, extent = ins.pointee.p2
                for i in 0..<ins.pointee.p0 {
                    let z = Tape.roundedIndex(idx[i])
                    if z < 0 || z >= extent { raise(.indexOutOfRange, ins.pointee.node); (o + i * r).update(repeating: 0, count: r); continue }
                    (o + i * r).update(from: a + z * r, count: r)
                }
            case .pick:
                let a = v + ins.pointee.a, idx = v + ins.pointee.b, kk = ins.pointee.p0
                for i in 0..<n {
                    let z = Tape.roundedIndex(idx[i])
                    if z < 0 || z >= kk { raise(.indexOutOfRange, ins.pointee.node); o[i] = .nan; continue }
                    o[i] = a[i * kk + z]
                }
            case .substitute: o.update(from: v + ins.pointee.a, count: n)
            case .view, .stopGradient, .fusedOutput: break
            case .relaxedOneHotPlate: Tape.relaxedOneHotForward(ins, v, tbl, sc, seed: seed, step: step)
            case .categoricalDrawPlate: Tape.categoricalDrawForward(ins, v, tbl, sc, seed: seed, step: step)

            case .softmax, .logSoftmax:
                Tape.normalise(ins.pointee, v + ins.pointee.a, o, sc)
            case .logsumexp:
                Tape.logsumexp(ins.pointee, v + ins.pointee.a, o, sc)

            case .matmul: Tape.matmulForward(ins.pointee, v)
            case .cholesky:
                let d = ins.pointee.p1
                for b in 0..<ins.pointee.p0 {
                    let src = v + ins.pointee.a + b * d * d, dst = o + b * d * d
                    for i in 0..<d { for j in 0..<d { dst[i * d + j] = j <= i ? src[i * d + j] : 0 } }
                    let info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(d), dst, Int32(d))
                    if info != 0 { raise(.notPositiveDefinite, ins.pointee.node) }
                }

            case .normalLogProb:
                let x = v + ins.pointee.a, m = v + ins.pointee.b, s = v + ins.pointee.c, sx = ins.pointee.p0, sm = ins.pointee.p1, ss = ins.pointee.p2
                if ss == 0 {
                    let inv = 1 / s[0], c = -libmLog(s[0]) - halfLogTwoPi
                    for i in 0..<n { let z = (x[i * sx] - m[i * sm]) * inv; o[i] = -0.5 * z * z + c }
                } else {
                    svm_log(s, sc, n)
                    for i in 0..<n { let z = (x[i * sx] - m[i * sm]) / s[i]; o[i] = -0.5 * z * z - sc[i] - halfLogTwoPi }
                }
            case .normalDrawLogProb:
                let e = v + ins.pointee.a, s = v + ins.pointee.b
                if ins.pointee.p0 == 0 {
                    let c = -libmLog(s[0]) - halfLogTwoPi
                    for i in 0..<n { o[i] = -0.5 * e[i] * e[i] + c }
                } else {
                    svm_log(s, sc, n)
                    for i in 0..<n { o[i] = -0.5 * e[i] * e[i] - sc[i] - halfLogTwoPi }
                }
            case .normalLogProbSum: o[0] = Tape.normalLogProbSumForward(ins, v, tbl)
            case .normalDrawLogProbSum: o[0] = Tape.normalDrawLogProbSumForward(ins, v)
            case .bernoulliLogitsLogProb:
                // torch's −BCE-with-logits: x·ℓ − max(ℓ, 0) − log1p(e^−|ℓ|). Splitting softplus(ℓ)
                // this way keeps the tiny log-mass of a near-certain outcome (−4.2e-18 at ℓ = 40,
                // x = 1), which x·ℓ − softplus(ℓ) rounds to 0.
                let x = v + ins.pointee.a, l = v + ins.pointee.b, sx = ins.pointee.p0, sl = ins.pointee.p1
                if sl == 0 {
                    let lv = l[0], relu = Swift.max(lv, 0), tail = Special.softplus(-Swift.abs(lv))
                    for i in 0..<n { o[i] = (x[i * sx] * lv - relu) - tail }
                } else {
                    // One fused vector pass: the log-mass, and σ(ℓ) saved beside the value for
                    // the backward rule.
                    svm_bernoulli_logits(x, sx, l, o, v + ins.pointee.aux, n)
                }
            case .mvnTrilLogProb: Tape.mvnForward(ins.pointee, v, sc)
            case .mvnDrawLogProb:
                // The draw's whitened residual is its noise.
                Tape.mvnLogDensity(whitened: v + ins.pointee.a, rows: ins.pointee.p0, d: ins.pointee.p1, v + ins.pointee.b, o)
            case .bernoulliLinearSum: Tape.bernoulliLinearForward(ins.pointee, v, sc)
            case .mvnSampleOMT, .mvnSampleAVF: Tape.mvnSampleForward(ins.pointee, v, sc)

            case .normalNoise, .uniformNoise, .gumbelNoise:
                // The stream's uniforms from word step·2³² (CVecMath's Philox: the same bits as
                // `RandomStream.fillUniform`, sixteen words a vector pass).
                let stream = UInt64(ins.pointee.p0), first = step << 32
                switch ins.pointee.op {
                case .normalNoise:
                    // Uniforms from the stream, then Box–Muller through the vector kernels.
                    svm_philox_uniform(seed, stream, first, sc, n + n % 2)
                    svm_box_muller(sc, o, n)
                case .uniformNoise: svm_philox_uniform(seed, stream, first, o, n)
                default:
                    svm_philox_uniform(seed, stream, first, sc, n)
                    svm_gumbel(sc, o, n)
                }
            case .custom:
                let views = customViews[ins.pointee.p1]
                customOps[ins.pointee.p0].forward(inputs: views.inputs, output: UnsafeMutableBufferPointer(start: o, count: n))
            }
        }
    }

    /// sc ← a − max along the axis of `[outer, k, inner]` (0 where the maximum is not finite),
    /// writing the maxima to `maxima` (`[outer, inner]`) when given.
    static func subtractRowMax(_ ins: Instruction, _ a: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>,
                               maxima: UnsafeMutablePointer<Double>?) {
        let outer = ins.p0, k = ins.p1, inner = ins.p2
        for q in 0..<outer { for r in 0..<inner {
            let base = q * k * inner + r
            var mx = -Double.infinity
            for j in 0..<k { mx = Swift.max(mx, a[base + j * inner]) }
            if !mx.isFinite { mx = 0 }
            for j in 0..<k { sc[base + j * inner] = a[base + j * inner] - mx }
            maxima?[q * inner + r] = mx
        } }
    }

    /// softmax / log_softmax over `[outer, k, inner]`.
    static func normalise(_ ins: Instruction, _ a: UnsafeMutablePointer<Double>, _ o: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let outer = ins.p0, k = ins.p1, inner = ins.p2, n = ins.n
        // sc ← a − rowmax, then exp over the whole buffer in one vector call.
        subtractRowMax(ins, a, sc, maxima: nil)
        let log = ins.op == .logSoftmax
        if log { o.update(from: sc, count: n) }
        svm_exp(sc, sc, n)
        for q in 0..<outer { for r in 0..<inner {
            let base = q * k * inner + r
            var s = 0.0
            for j in 0..<k { s += sc[base + j * inner] }
            if log {
                let ls = libmLog(s)
                for j in 0..<k { o[base + j * inner] -= ls }
            } else {
                let inv = 1 / s
                for j in 0..<k { o[base + j * inner] = sc[base + j * inner] * inv }
            }
        } }
    }

    /// logsumexp over `[outer, k, inner]` into `[outer, inner]`.
    static func logsumexp(_ ins: Instruction, _ a: UnsafeMutablePointer<Double>, _ o: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let outer = ins.p0, k = ins.p1, inner = ins.p2
        subtractRowMax(ins, a, sc, maxima: o)
        svm_exp(sc, sc, outer * k * inner)
        for q in 0..<outer { for r in 0..<inner {
            let base = q * k * inner + r
            var s = 0.0
            for j in 0..<k { s += sc[base + j * inner] }
            o[q * inner + r] += libmLog(s)
        } }
    }

    static func matmulForward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>) {
        let batch = ins.p0, m = ins.p1, k = ins.p2, nn = ins.p3, sa = ins.p4, sb = ins.p5
        let a = v + ins.a, b = v + ins.b, o = v + ins.out
        if sb == 0 && (sa == m * k || batch == 1) {
            // Shared right factor: one product over the stacked rows.
            gemm(false, false, batch * m, nn, k, 1, a, k, b, nn, 0, o, nn)
        } else if sa == 0 && nn == 1 {
            // Shared left matrix times a batch of vectors: O[batch, m] = B[batch, k] · Aᵀ.
            gemm(false, true, batch, m, k, 1, b, k, a, k, 0, o, m)
        } else {
            for q in 0..<batch { gemm(false, false, m, nn, k, 1, a + q * sa, k, b + q * sb, nn, 0, o + q * m * nn, nn) }
        }
    }

    /// Re-lays a `[rows, k]` matrix as blocks of `p2` rows, block b (rows b·p2 ..< b·p2 + nb)
    /// stored as its own `[k, nb]` row-major slab at offset b·p2·k.
    static func blockRows(_ ins: Instruction, _ x: UnsafeMutablePointer<Double>, _ o: UnsafeMutablePointer<Double>) {
        let rows = ins.p0, k = ins.p1, block = ins.p2
        for start in stride(from: 0, to: rows, by: block) {
            let nb = Swift.min(block, rows - start)
            for j in 0..<k { for i in 0..<nb { o[start * k + j * nb + i] = x[(start + i) * k + j] } }
        }
    }

    /// Row i of each d×d matrix: x's entries left of the diagonal, exp of its diagonal entry
    /// (the vector kernel over all d diagonal entries at once, through `sc`), zeros right of it.
    static func lowerCholeskyForward(_ ins: Instruction, _ x: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>,
                                     _ sc: UnsafeMutablePointer<Double>) {
        let d = ins.p0, dd = d * d
        guard d > 0 else { return }
        for m in 0..<(ins.n / dd) {
            let xm = x + m * dd, ym = y + m * dd
            for i in 0..<d { sc[i] = xm[i * d + i] }
            svm_exp(sc, sc, d)
            for i in 0..<d {
                let row = i * d
                for j in 0..<i { ym[row + j] = xm[row + j] }
                ym[row + i] = sc[i]
                for j in (i + 1)..<d { ym[row + j] = 0 }
            }
        }
    }

    /// y_j = z_j Π_{i<j} (1 − z_i) for j < k−1, y_{k−1} = Π (1 − z_i), z_j = σ(x_j − log(k−1−j)).
    static func stickBreakingForward(_ ins: Instruction, _ x: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        let k1 = ins.p0, rows = ins.n / (k1 + 1)
        for r in 0..<rows {
            var rest = 1.0
            for j in 0..<k1 {
                let z = Special.sigmoid(x[r * k1 + j] - libmLog(Double(k1 - j)))
                y[r * (k1 + 1) + j] = z * rest
                rest *= 1 - z
            }
            y[r * (k1 + 1) + k1] = rest
        }
    }

    /// One pass over X in L1-sized row blocks (CVecMath's `svm_linear_bernoulli`): the sum of
    /// the log-masses, and its gradient with respect to W kept in `aux` for the backward rule.
    static func bernoulliLinearForward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        v[ins.out] = svm_linear_bernoulli(v + ins.a, ins.p1, ins.p2, v + ins.b, ins.p0, v + ins.c, ins.p3, v + ins.aux, sc)
    }

    static func mvnForward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let rows = ins.p0, d = ins.p1, ls = ins.p2
        let x = v + ins.a, mu = v + ins.b, l = v + ins.c, o = v + ins.out
        // U ← R L⁻ᵀ: rows of the whitened residual, kept in `aux` for the backward rule.
        let u = v + ins.aux
        for s in 0..<rows { for j in 0..<d { u[s * d + j] = x[s * d + j] - mu[s * ls + j] } }
        SmallMatrix.solveRows(true, rows: rows, d: d, l, u)
        mvnLogDensity(whitened: u, rows: rows, d: d, l, o)
    }

    /// o_s = −½‖u_s‖² − Σ log L_ii − d log √(2π): the MVN log-density of the rows whose whitened
    /// residuals L⁻¹(x_s − loc) are the rows u_s of `u` (`[rows, d]`).
    static func mvnLogDensity(whitened u: UnsafeMutablePointer<Double>, rows: Int, d: Int, _ l: UnsafeMutablePointer<Double>,
                              _ o: UnsafeMutablePointer<Double>) {
        var logDet = 0.0
        for j in 0..<d { logDet += libmLog(l[j * d + j]) }
        let c = -logDet - Double(d) * halfLogTwoPi
        for s in 0..<rows {
            var q = 0.0
            for j in 0..<d { q += u[s * d + j] * u[s * d + j] }
            o[s] = -0.5 * q + c
        }
    }
}

/// Row-major dgemm with optional transposes; `beta` 0 overwrites, 1 accumulates. Small thin
/// products run as loops (``SmallMatrix/takes(_:_:_:)``, ``SmallMatrix/gemm``).
@inline(__always)
func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
          _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
          _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
    if SmallMatrix.takes(m, n, k) {
        SmallMatrix.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    if n == 1 && !tb {
        // Matrix × vector: dgemv is several times faster than dgemm with n = 1.
        cblas_dgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, Int32(ta ? k : m), Int32(ta ? m : k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        return
    }
    if m == 1 && !ta {
        // Row vector × matrix: c = op(B)ᵀ a, again a dgemv (dgemm would pack B first).
        cblas_dgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, Int32(tb ? n : k), Int32(tb ? k : n), alpha, b, Int32(ldb), a, 1, beta, c, 1)
        return
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

extension Tape {
    /// `x` rounded to the nearest integer (halves away from zero, as `rounded()`), or −1 when
    /// that is negative or not representable (NaN, ±∞, beyond 2⁶²): the index an `argmax`,
    /// a category or a plate's row stored as a double names. Without `rounded()`'s libm call (a
    /// per-row `round` was 3 % of the mixture row's step): for x ≥ 0, x − ⌊x⌋ is exact.
    @inline(__always) static func roundedIndex(_ x: Double) -> Int {
        guard x > -0.5, x < 0x1p62 else { return -1 }
        if x < 0 { return 0 }
        let z = Int(x)
        return x - Double(z) >= 0.5 ? z + 1 : z
    }
}

extension Tape {
    /// Whether every row of a `rowDot` table names the same entries as the first, all distinct
    /// (the mixture's Σ_k z_nk μ_k: μ broadcast over the plate's rows).
    static func isRowBroadcast(_ table: [Int], k: Int) -> Bool {
        guard k >= 1, table.count >= k, table.count % k == 0, Set(table[0..<k]).count == k else { return false }
        return table.indices.allSatisfy { table[$0] == table[$0 % k] }
    }

    /// `rowDot` over a row-broadcast table: o[r] = Σ_j a[r·k + j]·b[t[j]], j in order.
    @inline(__always) static func rowBroadcastDot(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>,
                                                  _ t: UnsafeMutablePointer<Int>, _ o: UnsafeMutablePointer<Double>, rows: Int, k: Int) {
        switch k {
        case 3:
            let b0 = b[t[0]], b1 = b[t[1]], b2 = b[t[2]]
            for r in 0..<rows {
                var s = 0.0
                s += a[3 * r] * b0; s += a[3 * r + 1] * b1; s += a[3 * r + 2] * b2
                o[r] = s
            }
        default:
            for r in 0..<rows {
                var s = 0.0
                for j in 0..<k { s += a[r * k + j] * b[t[j]] }
                o[r] = s
            }
        }
    }
}
