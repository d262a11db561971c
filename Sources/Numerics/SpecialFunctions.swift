#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// libm's log1p, named apart from `Special.log1p` (which shadows it inside the enum).
@usableFromInline func cLog1p(_ x: Double) -> Double { log1p(x) }
/// libm's expm1, named apart from `Special.expm1`.
@usableFromInline func cExpm1(_ x: Double) -> Double { expm1(x) }

/// Special functions of a real (`Double`) argument for the engine's densities, gradients and
/// samplers.
///
/// Every function is pure and thread-safe (no global state; `lgamma` goes through the
/// re-entrant `lgamma_r`). Unless a function's documentation says otherwise, results are
/// accurate to about 1e-13 relative wherever the function is well-conditioned; near a zero of
/// the function (e.g. `digamma` at 1.4616…) the error is bounded absolutely instead, by a few
/// ulps of the function's scale.
public enum Special {
    /// Euler–Mascheroni constant γ.
    static let eulerGamma = 0.577_215_664_901_532_860_61
    /// log(2π) / 2.
    static let halfLog2Pi = 0.918_938_533_204_672_741_78

    // MARK: - Gamma family

    /// log |Γ(x)|.
    ///
    /// Domain: every finite `x`; `+∞` at the poles `x = 0, −1, −2, …`. Uses the re-entrant
    /// `lgamma_r`, so it is safe to call concurrently. Accuracy: a few ulps of glibc.
    @inlinable
    public static func lgamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// log Γ(1 + a), accurate also for tiny `a` where forming `1 + a` would lose digits.
    ///
    /// Domain: `a > −1`. For |a| ≤ 0.5 a Taylor series in ζ(k) − 1 about 1 is summed;
    /// elsewhere `lgamma(1 + a)`. Accuracy ≈ 1e-15 relative.
    public static func lgamma1p(_ a: Double) -> Double {
        guard abs(a) <= 0.5 else { return lgamma(1 + a) }
        // log Γ(1+a) = −log1p(a) + a(1 − γ) + Σ_{k≥2} (ζ(k) − 1)(−a)^k / k.
        var sum = 0.0
        var power = -a
        for k in 2...(zetaMinusOne.count + 1) {
            power *= -a
            sum += zetaMinusOne[k - 2] * power / Double(k)
        }
        return -cLog1p(a) + a * (1 - eulerGamma) + sum
    }

    /// ζ(k) − 1 for k = 2…25 (mpmath, 20 digits).
    static let zetaMinusOne: [Double] = [
        0.64493406684822643647, 0.2020569031595942854, 0.082323233711138191516,
        0.036927755143369926331, 0.017343061984449139715, 0.0083492773819228268398,
        0.0040773561979443393787, 0.0020083928260822144179, 0.00099457512781808533715,
        0.0004941886041194645587, 0.00024608655330804829864, 0.00012271334757848914675,
        0.000061248135058704829259, 0.000030588236307020493552, 0.000015282259408651871733,
        7.6371976378997622736e-6, 3.8172932649998398565e-6, 1.9082127165539389257e-6,
        9.5396203387279611315e-7, 4.7693298678780646312e-7, 2.3845050272773299e-7,
        1.1921992596531107307e-7, 5.9608189051259479612e-8, 2.9803503514652280186e-8,
    ]

    /// The remainder of Stirling's series: log Γ(x) − [(x − ½) log x − x + ½ log 2π].
    ///
    /// Domain: `x ≥ 10` (the truncated asymptotic series is accurate to ~1e-17 absolute there).
    static func stirlingCorrection(_ x: Double) -> Double {
        let r = 1 / x
        let r2 = r * r
        // Coefficients B_{2k} / (2k (2k − 1)), k = 1…8.
        var s = -3617.0 / 122_400
        s = s * r2 + 1.0 / 156
        s = s * r2 - 691.0 / 360_360
        s = s * r2 + 1.0 / 1188
        s = s * r2 - 1.0 / 1680
        s = s * r2 + 1.0 / 1260
        s = s * r2 - 1.0 / 360
        s = s * r2 + 1.0 / 12
        return s * r
    }

    /// π · cot(π x), reduced exactly to |r| ≤ ½ first so that large |x| keeps its accuracy.
    static func piCotPi(_ x: Double) -> Double {
        let r = x - x.rounded()
        return Double.pi * cos(Double.pi * r) / sin(Double.pi * r)
    }

    /// sin(π x) with exact reduction of `x` modulo 2 before the multiplication by π.
    static func sinPi(_ x: Double) -> Double {
        let n = x.rounded()
        let r = x - n
        let s = sin(Double.pi * r)
        return n.truncatingRemainder(dividingBy: 2) == 0 ? s : -s
    }

    /// The digamma function ψ(x) = d/dx log Γ(x).
    ///
    /// Domain: finite `x` not a non-positive integer (there it returns NaN). Positive `x` is
    /// shifted up to ≥ 16 by the recurrence ψ(x) = ψ(x + 1) − 1/x and finished with the
    /// asymptotic series; negative `x` uses the reflection ψ(1 − x) − π cot(π x).
    /// Accuracy: 1e-14 relative, or ~1e-15 absolute near the positive zero x₀ ≈ 1.4616.
    public static func digamma(_ x: Double) -> Double {
        if x.isNaN || x == -.infinity { return .nan }
        if x <= 0 {
            if x == x.rounded() { return .nan }
            return digamma(1 - x) - piCotPi(x)
        }
        var y = x
        var shift = 0.0
        while y < 16 {
            shift -= 1 / y
            y += 1
        }
        let r2 = 1 / (y * y)
        // Σ B_{2k} / (2k y^{2k}), k = 1…7.
        var s = 1.0 / 12
        s = s * r2 - 691.0 / 32760
        s = s * r2 + 1.0 / 132
        s = s * r2 - 1.0 / 240
        s = s * r2 + 1.0 / 252
        s = s * r2 - 1.0 / 120
        s = s * r2 + 1.0 / 12
        return shift + (log(y) - 0.5 / y - s * r2)
    }

    /// The trigamma function ψ₁(x) = d²/dx² log Γ(x) (polygamma of order 1).
    ///
    /// Domain: finite `x` not a non-positive integer (NaN there). Positive `x` is shifted to
    /// ≥ 16 by ψ₁(x) = ψ₁(x + 1) + 1/x² (all terms positive) and finished asymptotically;
    /// negative `x` reflects through ψ₁(1 − x) + ψ₁(x) = π² / sin²(π x). Accuracy: 1e-14 relative.
    public static func trigamma(_ x: Double) -> Double {
        if x.isNaN || x == -.infinity { return .nan }
        if x <= 0 {
            if x == x.rounded() { return .nan }
            let s = sinPi(x)
            return -trigamma(1 - x) + Double.pi * Double.pi / (s * s)
        }
        var y = x
        var shift = 0.0
        while y < 16 {
            shift += 1 / (y * y)
            y += 1
        }
        let r = 1 / y
        let r2 = r * r
        // 1/y + 1/(2y²) + Σ B_{2k} / y^{2k+1}, k = 1…8.
        var s = -3617.0 / 510
        s = s * r2 + 7.0 / 6
        s = s * r2 - 691.0 / 2730
        s = s * r2 + 5.0 / 66
        s = s * r2 - 1.0 / 30
        s = s * r2 + 1.0 / 42
        s = s * r2 - 1.0 / 30
        s = s * r2 + 1.0 / 6
        return shift + r * (1 + r * (0.5 + s * r))
    }

    /// log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b).
    ///
    /// Domain: `a > 0`, `b > 0`. When an argument is ≥ 10 the large log-gammas are combined
    /// analytically through Stirling's series, so `lbeta(1e10, 1)` keeps full relative accuracy
    /// instead of losing it to cancellation. Accuracy: ~1e-14 relative.
    public static func lbeta(_ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN || a < 0 || b < 0 { return .nan }
        let big = max(a, b)
        let small = min(a, b)
        if big < 10 {
            return lgamma(a) + lgamma(b) - lgamma(a + b)
        }
        let sum = big + small
        let ratio = small / big
        if small >= 10 {
            // ½ log 2π − ½ log small − (big − ½) log1p(small/big) + small log(small/(big+small))
            // + δ(big) + δ(small) − δ(big + small).
            let corr = stirlingCorrection(big) + stirlingCorrection(small) - stirlingCorrection(sum)
            return halfLog2Pi - 0.5 * log(small) - (big - 0.5) * cLog1p(ratio)
                + small * log(small / sum) + corr
        }
        // log Γ(big) − log Γ(big + small) = −(big − ½) log1p(small/big) − small log(sum) + small
        // + δ(big) − δ(sum).
        let diff = -(big - 0.5) * cLog1p(ratio) - small * log(sum) + small
            + (stirlingCorrection(big) - stirlingCorrection(sum))
        return lgamma(small) + diff
    }

    /// log n! = log Γ(n + 1) for real `n > −1` (non-integer `n` is allowed).
    ///
    /// Accuracy: that of `lgamma`, and full relative accuracy for small `n` (via `lgamma1p`).
    public static func lfactorial(_ n: Double) -> Double {
        lgamma1p(n)
    }

    /// log C(n, k) = log Γ(n + 1) − log Γ(k + 1) − log Γ(n − k + 1) for real `0 ≤ k ≤ n`.
    ///
    /// Computed as −log(n + 1) − log B(n − k + 1, k + 1) so that huge `n` with small `k` stays
    /// accurate; exactly 0 when `k == 0` or `k == n`. Accuracy: ~1e-13 relative for integer
    /// `k` and for `min(k, n − k) ≥ 1`; for a fractional `k` within δ ≪ 1 of 0 or `n` the
    /// error is ~1e-16 absolute on the scale of log Γ(n + 1) (the result, ~δ, is then formed
    /// by cancellation).
    public static func logBinomial(n: Double, k: Double) -> Double {
        if n.isNaN || k.isNaN || k < 0 || k > n { return .nan }
        if k == 0 || k == n { return 0 }
        return -cLog1p(n) - lbeta(n - k + 1, k + 1)
    }

    // MARK: - Stable elementary forms

    /// log(1 + x), accurate for tiny |x|. Domain `x ≥ −1`.
    @inlinable public static func log1p(_ x: Double) -> Double { cLog1p(x) }

    /// eˣ − 1, accurate for tiny |x|. Domain: every `x`.
    @inlinable public static func expm1(_ x: Double) -> Double { cExpm1(x) }

    /// log(1 + eˣ), stable for every `x` (equals `x` to within rounding for x > 37, and eˣ
    /// for x < −37). Accuracy: 1 ulp-ish.
    @inlinable
    public static func softplus(_ x: Double) -> Double {
        x > 0 ? x + cLog1p(exp(-x)) : cLog1p(exp(x))
    }

    /// log σ(x) = −softplus(−x), stable for every `x`.
    @inlinable public static func logSigmoid(_ x: Double) -> Double { -softplus(-x) }

    /// The logistic function σ(x) = 1 / (1 + e⁻ˣ); never overflows, full relative accuracy
    /// in both tails.
    @inlinable
    public static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }

    /// log(p / (1 − p)) for `p ∈ [0, 1]` (±∞ at the ends); accurate near ½ as well as in the
    /// tails.
    public static func logit(_ p: Double) -> Double {
        if p >= 0.25 && p <= 0.75 {
            // 2p − 1 is exact here (Sterbenz), so the small result keeps its relative accuracy.
            return cLog1p((2 * p - 1) / (1 - p))
        }
        return log(p) - cLog1p(-p)
    }

    /// log(1 − eˣ) for `x ≤ 0` (−∞ at 0, NaN for x > 0), using Mächler's switch at −log 2
    /// between log(−expm1(x)) and log1p(−eˣ). Accuracy: ~1 ulp.
    @inlinable
    public static func log1mexp(_ x: Double) -> Double {
        if x > 0 { return .nan }
        return x > -0.693_147_180_559_945_3 ? log(-cExpm1(x)) : cLog1p(-exp(x))
    }

    /// log Σᵢ exp(xᵢ), shifted by the maximum so nothing overflows.
    ///
    /// Returns −∞ for an empty buffer or when every element is −∞, +∞ when any element is +∞,
    /// NaN when any is NaN. The maximum's own term is taken out of the sum and added through
    /// `log1p`, which keeps full relative accuracy when one term dominates.
    public static func logsumexp(_ xs: UnsafeBufferPointer<Double>) -> Double {
        guard !xs.isEmpty else { return -.infinity }
        var maxIndex = 0
        var m = xs[0]
        for i in 1..<xs.count {
            let v = xs[i]
            if v.isNaN { return .nan }
            if v > m { m = v; maxIndex = i }
        }
        if m.isNaN { return .nan }
        if m.isInfinite { return m }
        var s = 0.0
        for i in 0..<xs.count where i != maxIndex {
            s += exp(xs[i] - m)
        }
        return m + cLog1p(s)
    }

    /// log Σᵢ exp(xᵢ) of an array; see the buffer overload for the contract.
    public static func logsumexp(_ xs: [Double]) -> Double {
        xs.withUnsafeBufferPointer { logsumexp($0) }
    }

    /// x · log(y), defined as 0 when `x == 0` (whatever `y` is, unless `y` is NaN).
    @inlinable
    public static func xlogy(_ x: Double, _ y: Double) -> Double {
        if x == 0 && !y.isNaN { return 0 }
        return x * log(y)
    }

    /// t − log(1 + t) for `t > −1`, accurate for small |t| (series) as well as large.
    static func log1pmx(_ t: Double) -> Double {
        guard abs(t) < 0.3 else { return t - cLog1p(t) }
        // Σ_{k≥2} (−1)^k t^k / k; |t| < 0.3 converges below 1e-17 within 32 terms.
        var power = t * t
        var sum = 0.0
        var k = 2.0
        while k < 40 {
            let term = power / k
            sum += term
            if abs(term) <= 1e-17 * abs(sum) { break }
            power *= -t
            k += 1
        }
        return sum
    }
}

// MARK: - Incomplete gamma and beta functions

extension Special {
    /// The regularised lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a).
    ///
    /// Domain: `a > 0`, `x ≥ 0` (NaN otherwise); P(a, ∞) = 1. Power series below the
    /// transition, Legendre's continued fraction for Q above it, and for `a < 1, x < 1.1` a
    /// cancellation-free form of Q. Whichever of P and Q is the smaller is computed directly,
    /// so both tails keep their relative accuracy (~1e-14 for a ≤ 100; the prefactor limits
    /// it to ~1e-13 · √a beyond).
    public static func regularizedGammaP(a: Double, x: Double) -> Double {
        incompleteGamma(a: a, x: x).p
    }

    /// The regularised upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a) = 1 − P(a, x).
    ///
    /// Same domain and accuracy as `regularizedGammaP`; Q is never formed as 1 − P where that
    /// would cancel.
    public static func regularizedGammaQ(a: Double, x: Double) -> Double {
        incompleteGamma(a: a, x: x).q
    }

    /// (P(a, x), Q(a, x)), each accurate in its own tail.
    static func incompleteGamma(a: Double, x: Double) -> (p: Double, q: Double) {
        if a.isNaN || x.isNaN || a <= 0 || x < 0 { return (.nan, .nan) }
        if x == 0 { return (0, 1) }
        if x == .infinity { return (1, 0) }
        if a < 1 && x < 1.1 {
            return (gammaSeriesP(a: a, x: x), smallShapeQ(a: a, x: x))
        }
        if x < a + 1 {
            let p = gammaSeriesP(a: a, x: x)
            return (p, 1 - p)
        }
        let q = gammaContinuedFractionQ(a: a, x: x)
        return (1 - q, q)
    }

    /// log(xᵃ e⁻ˣ / Γ(a)), the common prefactor of P and Q.
    ///
    /// For `a ≥ 10` it is evaluated as ½ log(a / 2π) − a·(t − log1p t) − δ(a) with
    /// t = (x − a)/a, which avoids the cancellation of a·log x − x − log Γ(a) near x ≈ a.
    static func logGammaPrefix(a: Double, x: Double) -> Double {
        if a < 10 {
            return a * log(x) - x - lgamma(a)
        }
        let t = (x - a) / a
        return 0.5 * log(a / (2 * Double.pi)) - a * log1pmx(t) - stirlingCorrection(a)
    }

    /// P(a, x) by its power series e⁻ˣ xᵃ / Γ(a + 1) · Σₙ xⁿ / ((a + 1)…(a + n)).
    static func gammaSeriesP(a: Double, x: Double) -> Double {
        let logFactor = a < 10
            ? a * log(x) - x - lgamma1p(a)
            : logGammaPrefix(a: a, x: x) - log(a)
        var term = 1.0
        var sum = 1.0
        var n = 1.0
        while n < 100_000 {
            term *= x / (a + n)
            sum += term
            if term <= sum * 1e-17 { break }
            n += 1
        }
        return exp(logFactor) * sum
    }

    /// Q(a, x) by the continued fraction of Γ(a, x) (modified Lentz), for x ≳ a + 1.
    static func gammaContinuedFractionQ(a: Double, x: Double) -> Double {
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        var i = 1.0
        while i < 100_000 {
            let an = -i * (i - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) <= 1e-16 { break }
            i += 1
        }
        return exp(logGammaPrefix(a: a, x: x)) * h
    }

    /// Q(a, x) for `0 < a < 1`, `0 < x < 1.1` without forming 1 − P:
    /// Q = (g − t)/(1 + g) − a(1 + t)/(1 + g) · Σ_{n≥1} (−x)ⁿ / (n! (a + n)),
    /// with g = Γ(1 + a) − 1 and t = xᵃ − 1 both computed through expm1.
    static func smallShapeQ(a: Double, x: Double) -> Double {
        let g = cExpm1(lgamma1p(a))
        let t = cExpm1(a * log(x))
        var power = 1.0
        var sum = 0.0
        var n = 1.0
        while n < 200 {
            power *= -x / n
            let term = power / (a + n)
            sum += term
            if abs(term) <= 1e-17 * abs(sum) { break }
            n += 1
        }
        return (g - t) / (1 + g) - a * (1 + t) / (1 + g) * sum
    }

    /// The regularised incomplete beta function I_x(a, b).
    ///
    /// Domain: `a > 0`, `b > 0`, `0 ≤ x ≤ 1` (NaN otherwise). Evaluated by the continued
    /// fraction of xᵃ(1 − x)ᵇ / (a B(a, b)), on I_x(a, b) directly when
    /// x < (a + 1)/(a + b + 2) and as 1 − I_{1−x}(b, a) otherwise (the fraction converges fast
    /// and the subtraction does not cancel). Accuracy: ~1e-13 relative for a, b ≲ 1e3.
    public static func regularizedBeta(x: Double, a: Double, b: Double) -> Double {
        if x.isNaN || a.isNaN || b.isNaN || a <= 0 || b <= 0 || x < 0 || x > 1 { return .nan }
        if x == 0 { return 0 }
        if x == 1 { return 1 }
        if x < (a + 1) / (a + b + 2) {
            return betaContinuedFraction(x: x, y: 1 - x, a: a, b: b)
        }
        return 1 - betaContinuedFraction(x: 1 - x, y: x, a: b, b: a)
    }

    /// xᵃ yᵇ / (a B(a, b)) times the continued fraction of I_x(a, b), with y = 1 − x passed
    /// separately so that it keeps full precision.
    static func betaContinuedFraction(x: Double, y: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        let qab = a + b
        let qap = a + 1
        let qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        var m = 1.0
        while m < 100_000 {
            let m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) <= 1e-16 { break }
            m += 1
        }
        let logFront = a * log(x) + b * log(y) - lbeta(a, b) - log(a)
        return exp(logFront) * h
    }
}

// MARK: - Implicit reparameterisation gradient of the Gamma distribution

extension Special {
    /// dz/dα for z ~ Gamma(α, 1) held at a fixed quantile: −(∂P(α, z)/∂α) / p(z; α), with
    /// p(z; α) = z^{α−1} e^{−z} / Γ(α) (implicit reparameterisation, Figurnov et al. 2018).
    ///
    /// Domain: `alpha > 0`, `z > 0`. Accuracy: ≤ 1e-10 relative (checked against mpmath to
    /// 1e-8) for α ∈ [1e-3, 1e4] and z between the 1e-6 and 1 − 1e-6 quantiles.
    ///
    /// Both branches sum strictly positive terms, so nothing cancels:
    /// - z ≤ exp ψ(α + 1): differentiating P = e^{−z} Σₙ z^{α+n} / Γ(α + n + 1) term by term
    ///   gives dz/dα = Σₙ rₙ (ψ(α + n + 1) − log z), rₙ = z^{n+1} / (α(α+1)…(α+n)), and
    ///   ψ(α + n + 1) ≥ ψ(α + 1) ≥ log z.
    /// - otherwise: dz/dα = (∂Q/∂α)/p = ∫₀^∞ (1 + s/z)^{α−1} e^{−s} (log(z + s) − ψ(α)) ds,
    ///   whose integrand is positive because log z > ψ(α + 1) > ψ(α); it is integrated by
    ///   exp-sinh (double-exponential) quadrature on the integrand's natural length scale.
    public static func standardGammaGradient(alpha: Double, z: Double) -> Double {
        if alpha.isNaN || z.isNaN || alpha <= 0 || z <= 0 { return .nan }
        if z == .infinity { return .nan }
        let logZ = log(z)
        let psi1 = digamma(alpha + 1)
        if logZ <= psi1 {
            return gammaGradientSeries(alpha: alpha, z: z, logZ: logZ, psi: psi1)
        }
        return gammaGradientIntegral(alpha: alpha, z: z, logZ: logZ)
    }

    /// Σₙ rₙ (ψ(α + n + 1) − log z) with r₀ = z/α, rₙ = rₙ₋₁ z / (α + n); `psi` = ψ(α + 1).
    static func gammaGradientSeries(alpha: Double, z: Double, logZ: Double, psi: Double) -> Double {
        var r = z / alpha
        var psiN = psi
        var sum = r * (psiN - logZ)
        var n = 1.0
        while n < 1_000_000 {
            psiN += 1 / (alpha + n)
            r *= z / (alpha + n)
            let term = r * (psiN - logZ)
            sum += term
            if term <= 1e-17 * sum && z < alpha + n { break }
            n += 1
        }
        return sum
    }

    /// ∫₀^∞ (1 + s/z)^{α−1} e^{−s} (log1p(s/z) + log z − ψ(α)) ds for log z > ψ(α + 1).
    static func gammaGradientIntegral(alpha: Double, z: Double, logZ: Double) -> Double {
        let offset = logZ - digamma(alpha)
        let am1 = alpha - 1
        // Length scale: the integrand's log falls like −s (z − α + 1)/z − (α − 1)s²/(2z²).
        let scale = z / ((z - am1) + (am1 > 0 ? am1.squareRoot() : 0))
        return ExpSinhQuadrature.integrate(scale: scale) { s in
            let l = cLog1p(s / z)
            return exp(am1 * l - s) * (l + offset)
        }
    }
}

/// Double-exponential (exp-sinh) quadrature of a smooth integrand over [0, ∞):
/// s = c·exp(π/2 · sinh τ), trapezoidal in τ, halving the step until the estimate settles.
///
/// Suited to integrands analytic near the positive axis that decay at least exponentially;
/// error falls roughly as exp(−k/h), so once successive estimates agree to 1e-10 the estimate
/// itself is good to far better.
enum ExpSinhQuadrature {
    /// ∫₀^∞ f(s) ds, where `scale` is the length over which `f` changes appreciably.
    static func integrate(scale: Double, _ f: (Double) -> Double) -> Double {
        let tauMax = 4.5
        let halfPi = Double.pi / 2
        func node(_ tau: Double) -> Double {
            let s = scale * exp(halfPi * sinh(tau))
            let weight = s * halfPi * cosh(tau)
            let value = f(s)
            return value == 0 ? 0 : value * weight
        }
        var h = 0.5
        var sum = 0.0
        var tau = -tauMax
        while tau <= tauMax + 1e-12 {
            sum += node(tau)
            tau += h
        }
        var estimate = sum * h
        for level in 1...12 {
            // Add the midpoints of the previous grid.
            var tauMid = -tauMax + h / 2
            while tauMid < tauMax {
                sum += node(tauMid)
                tauMid += h
            }
            h /= 2
            let next = sum * h
            let change = abs(next - estimate)
            estimate = next
            if level >= 3 && change <= 1e-10 * abs(next) { break }
        }
        return estimate
    }
}
