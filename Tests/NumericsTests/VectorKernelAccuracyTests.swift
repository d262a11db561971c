#if canImport(Glibc)
import Glibc
#endif
import CVecMath
import Testing
import TestSupport

/// The error of every CVecMath kernel in ulps, against the same function evaluated in x87
/// extended precision (Float80: 11 more mantissa bits than Double, so the reference's own
/// error is below 1/1000 ulp of a double), on seeded draws over each kernel's whole useful
/// domain. The measured maxima are printed (`swift test --filter VectorKernelAccuracyTests`)
/// for docs/benchmarks.md's table. The bounds asserted are a priori, not measured: libmvec's
/// documented 4 ulp for the maps it computes; for the composite kernels, the sum of their
/// parts' bounds (4 per libmvec call, carried through the formula's condition number, plus
/// ½ per rounded arithmetic operation), stated beside each case.
///
/// The ulp of a result is that of the correctly rounded reference. Where a kernel's output
/// crosses zero inside its domain (Gumbel noise at u = 1/e, a Box–Muller draw at the zeros of
/// cos and sin), an error in ulps of the output is unbounded for any formula, so those rows
/// count ulps of max(|reference|, 1): an absolute error below 1 is measured in ulps of 1.
@Suite struct VectorKernelAccuracyTests {
    /// A kernel, a sampler of its domain, its reference, and the bound asserted.
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let domain: String
        let bound: Double
        let absoluteBelowOne: Bool
        let sample: @Sendable (inout SplitMix64) -> Double
        let kernel: @Sendable (UnsafePointer<Double>, UnsafeMutablePointer<Double>, Int) -> Void
        let reference: @Sendable (Float80) -> Float80
        var description: String { "\(name) on \(domain)" }
    }

    static func uniform(_ g: inout SplitMix64, _ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(g.next() >> 11) * 0x1p-53
    }
    /// ± 10^U(lo, hi): every magnitude equally often.
    static func logUniform(_ g: inout SplitMix64, _ lo: Double, _ hi: Double, signed: Bool = true) -> Double {
        let m = Glibc.pow(10, uniform(&g, lo, hi))
        return signed && g.next() & 1 == 1 ? -m : m
    }
    /// An open (0, 1) uniform as the engine's streams draw it.
    static func openUnit(_ g: inout SplitMix64) -> Double { (Double(g.next() >> 11) + 0.5) * 0x1p-53 }

    static func softplusL(_ x: Float80) -> Float80 { x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x)) }

    static let cases: [Case] = [
        Case(name: "exp", domain: "[−745, 709]", bound: 4, absoluteBelowOne: false, sample: { uniform(&$0, -745, 709) },
             kernel: { svm_exp($0, $1, $2) }, reference: { expl($0) }),
        Case(name: "log", domain: "10^U(−300, 300)", bound: 4, absoluteBelowOne: false, sample: { logUniform(&$0, -300, 300, signed: false) },
             kernel: { svm_log($0, $1, $2) }, reference: { logl($0) }),
        Case(name: "log", domain: "[0.5, 2]", bound: 4, absoluteBelowOne: false, sample: { uniform(&$0, 0.5, 2) },
             kernel: { svm_log($0, $1, $2) }, reference: { logl($0) }),
        // log(u)·(v/(u − 1)), u = 1 + v: log 4, the division and the product ½ each.
        Case(name: "log1p", domain: "±10^U(−300, 0) ∪ 10^U(0, 300)", bound: 5, absoluteBelowOne: false,
             sample: { g in g.next() & 3 == 0 ? logUniform(&g, 0, 300, signed: false) : logUniform(&g, -300, -0.001) },
             kernel: { svm_log1p($0, $1, $2) }, reference: { log1pl($0) }),
        // glibc's scalar expm1 (no vector variant): its tested bound is 1 ulp; 2 asserted.
        Case(name: "expm1", domain: "±10^U(−300, 2.8)", bound: 2, absoluteBelowOne: false, sample: { logUniform(&$0, -300, 2.8) },
             kernel: { svm_expm1($0, $1, $2) }, reference: { expm1l($0) }),
        // 1/(1 + E), E = exp(−x): E's 4 ulp enter scaled by E/(1 + E) ≤ 1, the sum and the
        // division ½ each. Below −709.78 exp(−x) overflows and the result (under 2^−1022)
        // flushes to 0: `sigmoidFlushesOnlyBelowTheNormalRange`.
        Case(name: "sigmoid", domain: "[−709.7, 40]", bound: 5, absoluteBelowOne: false, sample: { uniform(&$0, -709.7, 40) },
             kernel: { svm_sigmoid($0, $1, $2) }, reference: { 1 / (1 + expl(-$0)) }),
        // max(t, 0) + log(u)·(e/(u − 1)), e = exp(−|t|): log 4, e's 4 ulp at most carried
        // whole, three roundings — 9.5, so 10.
        Case(name: "softplus", domain: "[−745, 745]", bound: 10, absoluteBelowOne: false, sample: { uniform(&$0, -745, 745) },
             kernel: { svm_softplus($0, $1, $2) }, reference: { softplusL($0) }),
        Case(name: "softplus", domain: "[−40, 40]", bound: 10, absoluteBelowOne: false, sample: { uniform(&$0, -40, 40) },
             kernel: { svm_softplus($0, $1, $2) }, reference: { softplusL($0) }),
        Case(name: "tanh", domain: "±10^U(−300, 1.5)", bound: 4, absoluteBelowOne: false, sample: { logUniform(&$0, -300, 1.5) },
             kernel: { svm_tanh($0, $1, $2) }, reference: { tanhl($0) }),
        Case(name: "sin", domain: "[−10⁴, 10⁴]", bound: 4, absoluteBelowOne: false, sample: { uniform(&$0, -1e4, 1e4) },
             kernel: { svm_sin($0, $1, $2) }, reference: { sinl($0) }),
        Case(name: "cos", domain: "[−10⁴, 10⁴]", bound: 4, absoluteBelowOne: false, sample: { uniform(&$0, -1e4, 1e4) },
             kernel: { svm_cos($0, $1, $2) }, reference: { cosl($0) }),
        // −log(v), v = −log u, both logs CVecMath's own (fdlibm's kernel, ≤ 1 ulp): the outer
        // log's 1, and the inner 1 ulp of v as an absolute error of ulp(v)/v ≤ 2 ulp of 1 in
        // the output — 3, and 4 asserted.
        Case(name: "gumbel", domain: "u ∈ (0, 1)", bound: 4, absoluteBelowOne: true, sample: { openUnit(&$0) },
             kernel: { svm_gumbel($0, $1, $2) }, reference: { -logl(-logl($0)) }),
        // CVecMath's own log and exp, as the relaxed one-hot kernel's AVX-512 variant inlines
        // them. The log: fdlibm's kernel (its documented < 1 ulp) on the mantissa, the exponent
        // exact, k·ln 2 in two parts; a subnormal x scaled by 2⁵⁴ first (54 ln 2 rounded: 1/30
        // ulp of a result near −740). The exp: k·ln 2 taken off exactly (ln 2's high part has
        // 11 trailing zero bits), a polynomial within 1/30 ulp on the reduced range, Horner's
        // roundings (the last, 1 + r·p, dominates: ½ ulp, the others scaled down by |r| ≤ ½ ln 2),
        // and 2^k applied exactly (rounded once below the normal range): under 1 ulp each, 1
        // asserted. Both on the whole useful domain and on the relaxed kernel's own ranges
        // (L = −log u ∈ [1.1e-16, 37.5], sums in [1e-16, 10³], exps of [−40, 4]).
        Case(name: "own log", domain: "10^U(−300, 300)", bound: 1, absoluteBelowOne: false, sample: { logUniform(&$0, -300, 300, signed: false) },
             kernel: { svm_own_log($0, $1, $2) }, reference: { logl($0) }),
        Case(name: "own log", domain: "[0.5, 2]", bound: 1, absoluteBelowOne: false, sample: { uniform(&$0, 0.5, 2) },
             kernel: { svm_own_log($0, $1, $2) }, reference: { logl($0) }),
        Case(name: "own log", domain: "10^U(−16, 3)", bound: 1, absoluteBelowOne: false, sample: { logUniform(&$0, -16, 3, signed: false) },
             kernel: { svm_own_log($0, $1, $2) }, reference: { logl($0) }),
        Case(name: "own log", domain: "2^U(−1074, −1022) (subnormal)", bound: 1, absoluteBelowOne: false,
             sample: { Glibc.pow(2, uniform(&$0, -1074, -1022.001)) }, kernel: { svm_own_log($0, $1, $2) }, reference: { logl($0) }),
        Case(name: "own exp", domain: "[−745, 709.7]", bound: 1, absoluteBelowOne: false, sample: { uniform(&$0, -745, 709.7) },
             kernel: { svm_own_exp($0, $1, $2) }, reference: { expl($0) }),
        Case(name: "own exp", domain: "[−40, 4]", bound: 1, absoluteBelowOne: false, sample: { uniform(&$0, -40, 4) },
             kernel: { svm_own_exp($0, $1, $2) }, reference: { expl($0) }),
    ]

    /// The largest error in ulps of `c` over `count` draws, and where.
    static func worst(_ c: Case, count: Int, seed: UInt64) -> (ulps: Double, at: Double) {
        var g = SplitMix64(seed: seed)
        let x = (0..<count).map { _ in c.sample(&g) }
        var y = [Double](repeating: 0, count: count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { c.kernel(xp.baseAddress!, $0.baseAddress!, count) } }
        var worst = (ulps: 0.0, at: Double.nan)
        for i in 0..<count {
            let e = ulpError(y[i], c.reference(Float80(x[i])), absoluteBelowOne: c.absoluteBelowOne)
            if !(e <= worst.ulps) { worst = (e, x[i]) }
        }
        return worst
    }

    /// |y − r| in ulps of r rounded to a double (of max(|r|, 1) when `absoluteBelowOne`).
    static func ulpError(_ y: Double, _ r: Float80, absoluteBelowOne: Bool) -> Double {
        let rd = Double(r)
        if rd.isInfinite || y.isInfinite { return y == rd ? 0 : .infinity }
        let scale = absoluteBelowOne ? Swift.max(Swift.abs(rd), 1) : Swift.abs(rd)
        let ulp = scale == 0 ? Double.leastNonzeroMagnitude : scale.ulp
        return Double(Swift.abs(Float80(y) - r) / Float80(ulp))
    }

    @Test(arguments: cases)
    func everyKernelStaysWithinItsStatedUlpBound(_ c: Case) {
        let w = Self.worst(c, count: 200_000, seed: 19)
        print("ulp | \(c.name) | \(c.domain) | \(svm_uses_avx2() == 1 ? "AVX2" : "baseline") | \(w.ulps) | at \(w.at)")
        #expect(w.ulps <= c.bound, "\(c): \(w.ulps) ulp at x = \(w.at)")
    }

    /// The own log and exp at the edges of their domains, where the relaxed kernel relies on
    /// them to keep a non-finite value non-finite (a NaN or infinite logit): log 0 = −∞, log of a
    /// negative or NaN is NaN, log ∞ = ∞; e^x is 0 below −746, ∞ above 709.79, NaN for NaN, and
    /// exact at the largest double's neighbourhood (no overflow of 2^k's exponent field).
    @Test func ownLogAndExpTakeEveryDouble() {
        func map(_ f: (UnsafePointer<Double>, UnsafeMutablePointer<Double>, Int) -> Void, _ x: [Double]) -> [Double] {
            var y = [Double](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { f(xp.baseAddress!, $0.baseAddress!, x.count) } }
            return y
        }
        let logs = map({ svm_own_log($0, $1, $2) }, [0, -0.0, -1, -.infinity, .nan, .infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1])
        #expect(logs[0] == -.infinity && logs[1] == -.infinity)
        #expect(logs[2].isNaN && logs[3].isNaN && logs[4].isNaN)
        #expect(logs[5] == .infinity && logs[8] == 0)
        #expect(Self.ulpError(logs[6], logl(Float80(Double.leastNonzeroMagnitude)), absoluteBelowOne: false) <= 1)
        #expect(Self.ulpError(logs[7], logl(Float80(Double.greatestFiniteMagnitude)), absoluteBelowOne: false) <= 1)
        let exps = map({ svm_own_exp($0, $1, $2) }, [-.infinity, -800, -746, .nan, 709.78, 709.79, 800, .infinity, 0, -745.1])
        #expect(exps[0] == 0 && exps[1] == 0 && exps[2] == 0 && exps[3].isNaN)
        #expect(Self.ulpError(exps[4], expl(Float80(709.78 as Double)), absoluteBelowOne: false) <= 1)
        #expect(exps[5] == .infinity && exps[6] == .infinity && exps[7] == .infinity && exps[8] == 1)
        #expect(exps[9] == Double(expl(Float80(-745.1 as Double))))
    }

    @Test func sigmoidFlushesOnlyBelowTheNormalRange() {
        let x = [-745.0, -720, -709.8], y = x.map { v in var r = 0.0; withUnsafePointer(to: v) { svm_sigmoid($0, &r, 1) }; return r }
        for (xi, yi) in zip(x, y) { #expect(yi >= 0 && yi <= 0x1p-1022, "σ(\(xi)) = \(yi)") }
    }

    /// Box–Muller: both outputs of a pair against r·cos θ and r·sin θ in extended precision
    /// (θ = 2π·u₂ formed in double, as the kernel does, so the table states the kernel's own
    /// rounding and not θ's), in ulps of max(|z|, 1).
    @Test func boxMullerStaysWithinItsStatedBound() {
        var g = SplitMix64(seed: 19)
        let n = 200_000
        let u = (0..<n).map { _ in Self.openUnit(&g) }
        var z = [Double](repeating: 0, count: n)
        u.withUnsafeBufferPointer { up in z.withUnsafeMutableBufferPointer { svm_box_muller(up.baseAddress!, $0.baseAddress!, n) } }
        var worst = 0.0
        for k in 0..<(n / 2) {
            let r = sqrtl(-2 * logl(Float80(u[2 * k]))), t = Float80(6.283185307179586 * u[2 * k + 1])
            worst = Swift.max(worst, Self.ulpError(z[2 * k], r * cosl(t), absoluteBelowOne: true),
                              Self.ulpError(z[2 * k + 1], r * sinl(t), absoluteBelowOne: true))
        }
        print("ulp | box_muller | u ∈ (0, 1) | \(svm_uses_avx2() == 1 ? "AVX2" : "baseline") | \(worst)")
        // r: log 4 and the square root ½ (halved by the root: 2.5); cos or sin 4; the product ½.
        #expect(worst <= 8, "\(worst) ulp")
    }

    /// The Bernoulli log-mass with logits for labels 0 and 1 (−softplus(∓ℓ)) and σ(ℓ) beside it.
    /// The log-mass is measured in ulps of max(|value|, 1): the baseline and AVX2 variants form
    /// log(1 + e) from 1 + e rounded (docs/benchmarks.md says what that costs where the mass is
    /// near 1); the AVX-512 variant from e itself, so its mass is bounded in ulps of itself too.
    /// Every variant this CPU has (0 baseline, 1 AVX2, 2 AVX-512; a level above the CPU's
    /// runs the best below it, measured again).
    @Test(arguments: [0, 1, 2])
    func bernoulliLogitsStaysWithinItsStatedBound(_ level: Int32) {
        var g = SplitMix64(seed: 19)
        let n = 200_003
        let l = (0..<n).map { _ in Self.uniform(&g, -40, 40) }, x = (0..<n).map { Double($0 & 1) }
        var out = [Double](repeating: 0, count: n), sig = out
        svm_bernoulli_logits_at(level, x, 1, l, &out, &sig, n)
        var worstMass = 0.0, worstMassRelative = 0.0, worstSigmoid = 0.0
        for i in 0..<n {
            let li = Float80(l[i]), mass = x[i] == 1 ? -Self.softplusL(-li) : -Self.softplusL(li)
            worstMass = Swift.max(worstMass, Self.ulpError(out[i], mass, absoluteBelowOne: true))
            worstMassRelative = Swift.max(worstMassRelative, Self.ulpError(out[i], mass, absoluteBelowOne: false))
            worstSigmoid = Swift.max(worstSigmoid, Self.ulpError(sig[i], 1 / (1 + expl(-li)), absoluteBelowOne: false))
        }
        let variant = ["baseline", "AVX2", "AVX-512"][Int(Swift.min(level, svm_cpu_level()))]
        print("ulp | bernoulli_logits log-mass | ℓ ∈ [−40, 40] | \(variant) | \(worstMass) (of max(|v|, 1)); \(worstMassRelative) (of v)")
        print("ulp | bernoulli_logits σ | ℓ ∈ [−40, 40] | \(variant) | \(worstSigmoid)")
        // The mass: exp's 4 ulp of e ≤ 1, 1 + e rounded (½ ulp of 1), the inlined log ≤ 1, two
        // roundings: 6. σ as for the sigmoid kernel: 5.
        #expect(worstMass <= 6, "\(worstMass) ulp")
        #expect(worstSigmoid <= 5, "\(worstSigmoid) ulp")
        if Swift.min(level, svm_cpu_level()) == 2 {
            // The AVX-512 formulas (CVecMath.c): e = e^{−|ℓ|} to 2 ulp (a polynomial within 1/30
            // ulp, its reduction and Horner's roundings); 1/(1 + e) within ⅝ ulp (one Newton step
            // and a remainder correction), 1 + e rounded (½), and e·(1/(1 + e)) rounded (½): σ
            // within 3⅝. log(1 + e) is formed from e itself, not 1 + e: e's 2 ulp through a
            // condition number ≤ 1, the log kernel's 1, f's rounding ½, the last subtraction ½,
            // so the mass keeps 4 ulp of itself, however small.
            #expect(worstMassRelative <= 4, "\(worstMassRelative) ulp of the mass")
            #expect(worstSigmoid <= 3.625, "\(worstSigmoid) ulp")
        }
    }
}
