#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Numerics

/// |actual − expected| ≤ rel · |expected| + abs, with exact agreement required for infinities.
func close(_ actual: Double, _ expected: Double, rel: Double, abs absolute: Double = 0) -> Bool {
    if expected.isInfinite || actual.isInfinite { return actual == expected }
    return Swift.abs(actual - expected) <= rel * Swift.abs(expected) + absolute
}

/// Reports the worst relative error so a failing check says by how much it missed.
func relativeError(_ actual: Double, _ expected: Double) -> Double {
    expected == 0 ? Swift.abs(actual) : Swift.abs(actual - expected) / Swift.abs(expected)
}

/// Tolerances (stated once): 1e-13 relative for the gamma family and stable forms, with an
/// absolute floor of a few ulps where the function crosses zero (lgamma at 1 and 2, digamma
/// at its root, logit at ½); 1e-12 relative for the incomplete gamma and beta functions with
/// moderate shapes and 1e-11 once a shape reaches 1e3–1e4; 1e-8 relative for the
/// gamma-distribution gradient.
@Suite struct SpecialFunctionsTests {
    @Test func logGammaMatchesMpmathIncludingTinyHugeAndNegativeArguments() {
        for r in SpecialReference.lgamma {
            let v = Special.lgamma(r.x)
            #expect(close(v, r.value, rel: 1e-13, abs: 1e-15), "lgamma(\(r.x)) = \(v), want \(r.value)")
        }
    }

    @Test func lgamma1pKeepsRelativeAccuracyForTinyShifts() {
        for a in [1e-300, 1e-12, 1e-6, 0.01, 0.3, 0.5, 0.6, 3.0] {
            let direct = SpecialReference.lfactorial.first { $0.n == a }?.value
            if let direct { #expect(close(Special.lgamma1p(a), direct, rel: 1e-14)) }
        }
        #expect(close(Special.lgamma1p(1e-12), -Special.eulerGamma * 1e-12, rel: 1e-11))
        #expect(close(Special.lgamma1p(0.3), Special.lgamma(1.3), rel: 1e-14))
        #expect(close(Special.lgamma1p(-0.3), Special.lgamma(0.7), rel: 1e-14))
    }

    @Test func digammaMatchesMpmathAndIsAccurateNearItsRoot() {
        for r in SpecialReference.digamma {
            let v = Special.digamma(r.x)
            #expect(close(v, r.value, rel: 1e-13, abs: 1e-15), "digamma(\(r.x)) = \(v), want \(r.value)")
        }
        #expect(Special.digamma(0).isNaN)
        #expect(Special.digamma(-3).isNaN)
    }

    @Test func trigammaMatchesMpmath() {
        for r in SpecialReference.trigamma {
            let v = Special.trigamma(r.x)
            #expect(close(v, r.value, rel: 1e-13), "trigamma(\(r.x)) = \(v), want \(r.value)")
        }
    }

    @Test func logBetaStaysAccurateWhenOneArgumentIsHuge() {
        for r in SpecialReference.lbeta {
            let v = Special.lbeta(r.a, r.b)
            #expect(close(v, r.value, rel: 1e-13, abs: 1e-15), "lbeta(\(r.a), \(r.b)) = \(v), want \(r.value)")
            #expect(close(Special.lbeta(r.b, r.a), v, rel: 1e-15))
        }
    }

    @Test func logFactorialAndLogBinomialMatchMpmath() {
        for r in SpecialReference.lfactorial {
            let v = Special.lfactorial(r.n)
            #expect(close(v, r.value, rel: 1e-13, abs: 1e-300), "lfactorial(\(r.n)) = \(v), want \(r.value)")
        }
        for r in SpecialReference.logBinomial {
            let v = Special.logBinomial(n: r.n, k: r.k)
            #expect(close(v, r.value, rel: 1e-13), "logBinomial(\(r.n), \(r.k)) = \(v), want \(r.value)")
        }
        #expect(Special.logBinomial(n: 1e9, k: 0) == 0)
        #expect(Special.logBinomial(n: 12.5, k: 12.5) == 0)
    }

    @Test func logisticFormsAreStableAcrossTheWholeLine() {
        for r in SpecialReference.softplus {
            #expect(close(Special.softplus(r.x), r.value, rel: 1e-14), "softplus(\(r.x))")
        }
        for r in SpecialReference.sigmoid {
            #expect(close(Special.sigmoid(r.x), r.value, rel: 1e-14), "sigmoid(\(r.x))")
        }
        for r in SpecialReference.logSigmoid {
            #expect(close(Special.logSigmoid(r.x), r.value, rel: 1e-14), "logSigmoid(\(r.x))")
        }
        for r in SpecialReference.logit {
            #expect(close(Special.logit(r.p), r.value, rel: 1e-13, abs: 1e-16), "logit(\(r.p))")
        }
        #expect(Special.logit(0) == -.infinity)
        #expect(Special.logit(1) == .infinity)
    }

    @Test func log1mexpUsesTheRightBranchOnEachSideOfMinusLogTwo() {
        for r in SpecialReference.log1mexp {
            #expect(close(Special.log1mexp(r.x), r.value, rel: 1e-14), "log1mexp(\(r.x))")
        }
        #expect(Special.log1mexp(0) == -.infinity)
        #expect(Special.log1mexp(1).isNaN)
    }

    @Test func logsumexpShiftsByTheMaximumAndHandlesInfinities() {
        #expect(close(Special.logsumexp([1000, 1000]), 1000 + Special.log1p(1), rel: 1e-15))
        #expect(close(Special.logsumexp([-1000, -1000, -1000]), -1000 + 1.0986122886681098, rel: 1e-15))
        #expect(close(Special.logsumexp([0, -40]), 4.248354255291589e-18, rel: 1e-14))
        #expect(Special.logsumexp([]) == -.infinity)
        #expect(Special.logsumexp([-.infinity, -.infinity]) == -.infinity)
        #expect(Special.logsumexp([1, .infinity]) == .infinity)
        #expect(Special.logsumexp([1, .nan]).isNaN)
        let xs: [Double] = [0.5, -2, 3.25, 1]
        let direct = log(xs.reduce(0) { $0 + exp($1) })
        let buffered = xs.withUnsafeBufferPointer { Special.logsumexp($0) }
        #expect(close(buffered, direct, rel: 1e-15))
    }

    @Test func xlogyIsZeroWhenXIsZero() {
        #expect(Special.xlogy(0, 0) == 0)
        #expect(Special.xlogy(0, .infinity) == 0)
        #expect(Special.xlogy(0, .nan).isNaN)
        #expect(close(Special.xlogy(2, 3), 2 * 1.0986122886681098, rel: 1e-15))
        #expect(close(Special.log1p(1e-20), 1e-20, rel: 1e-15))
        #expect(close(Special.expm1(1e-20), 1e-20, rel: 1e-15))
    }

    @Test func incompleteGammaIsAccurateInBothTails() {
        for r in SpecialReference.incompleteGamma {
            let rel = r.a >= 1000 ? 1e-11 : 1e-12
            let p = Special.regularizedGammaP(a: r.a, x: r.x)
            let q = Special.regularizedGammaQ(a: r.a, x: r.x)
            #expect(close(p, r.p, rel: rel), "P(\(r.a), \(r.x)) = \(p), want \(r.p), rel err \(relativeError(p, r.p))")
            #expect(close(q, r.q, rel: rel), "Q(\(r.a), \(r.x)) = \(q), want \(r.q), rel err \(relativeError(q, r.q))")
        }
        #expect(Special.regularizedGammaP(a: 2, x: 0) == 0)
        #expect(Special.regularizedGammaQ(a: 2, x: .infinity) == 0)
        #expect(Special.regularizedGammaP(a: -1, x: 1).isNaN)
    }

    @Test func incompleteBetaIsAccurateOnBothSidesOfTheSymmetrySwitch() {
        for r in SpecialReference.regularizedBeta {
            let rel = max(r.a, r.b) >= 1000 ? 1e-11 : 1e-12
            let v = Special.regularizedBeta(x: r.x, a: r.a, b: r.b)
            #expect(close(v, r.value, rel: rel), "I(\(r.x); \(r.a), \(r.b)) = \(v), want \(r.value), rel err \(relativeError(v, r.value))")
        }
        #expect(Special.regularizedBeta(x: 0, a: 2, b: 3) == 0)
        #expect(Special.regularizedBeta(x: 1, a: 2, b: 3) == 1)
        #expect(Special.regularizedBeta(x: 1.5, a: 2, b: 3).isNaN)
    }

    @Test func gammaGradientMatchesMpmathDifferentiationFromTheMillionthToTheOneMinusMillionthQuantile() {
        var worst = 0.0
        for r in SpecialReference.gammaGradient {
            let v = Special.standardGammaGradient(alpha: r.alpha, z: r.z)
            worst = max(worst, relativeError(v, r.value))
            #expect(close(v, r.value, rel: 1e-8), "dz/dα(α=\(r.alpha), z=\(r.z)) = \(v), want \(r.value), rel err \(relativeError(v, r.value))")
        }
        #expect(worst < 1e-8)
    }

    @Test func gammaGradientIsContinuousAcrossTheSeriesIntegralSwitch() {
        for alpha in [0.01, 0.7, 3.0, 250.0] {
            let boundary = exp(Special.digamma(alpha + 1))
            let below = Special.standardGammaGradient(alpha: alpha, z: boundary * (1 - 1e-12))
            let above = Special.standardGammaGradient(alpha: alpha, z: boundary * (1 + 1e-12))
            #expect(close(below, above, rel: 1e-9), "α = \(alpha): \(below) vs \(above)")
        }
    }
}
