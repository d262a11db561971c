#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Distributions
import Autodiff
import Numerics

/// log_prob against the mpmath references (torch's semantics, see LogProbReference.swift):
/// 1e-10 relative, exact for ±∞, and an absolute 1e-10 only where the reference is 0.
/// Support violations and invalid constant parameters must be refused with a clear error
/// when the graph is built, not produce numbers.
@Suite struct LogProbReferenceTests {
    /// The agreement every reference case must reach.
    static let tolerance = 1e-10

    @Test("log_prob of every reference case matches mpmath to 1e-10 relative", arguments: logProbReference)
    func logProbMatchesTheReference(_ c: LogProbCase) throws {
        let g = Graph()
        let d = try makeDistribution(c.dist, c.params, in: g)
        let x = g.constant(eventTensor(c.value, of: d))
        let lp = try d.logProb(x)
        #expect(lp.shape == [], "log_prob of one event must be a scalar, got \(lp.shape)")
        let tape = try replay(g, outputs: [lp])
        #expect(tape.fault == nil)
        let got = tape.scalar(of: lp), want = c.logProb
        if want.isInfinite {
            #expect(got == want, "log p = \(got), want \(want)")
        } else if want == 0 {
            #expect(Swift.abs(got) <= Self.tolerance, "log p = \(got), want 0")
        } else {
            let rel = Swift.abs(got - want) / Swift.abs(want)
            #expect(rel <= Self.tolerance, "log p = \(got), want \(want) (relative error \(rel))")
        }
    }

    @Test("a constant value outside the support is refused with outsideSupport", arguments: supportViolationReference)
    func valuesOutsideTheSupportAreRefused(_ c: SupportViolationCase) throws {
        let g = Graph()
        let d = try makeDistribution(c.dist, c.params, in: g)
        let x = g.constant(eventTensor(c.value, of: d))
        expectDistributionError("\(c.dist) at \(c.value)", matches: { error in
            guard case let .outsideSupport(distribution, _, _, _) = error else { return false }
            return distribution == d.name
        }) { () throws(DistributionError) in _ = try d.logProb(x) }
    }

    /// Constant parameters outside their domains, by torch's names.
    static let invalidParameters: [(dist: String, params: [String: [Double]], parameter: String)] = [
        ("Normal", ["loc": [0], "scale": [-1]], "scale"),
        ("Normal", ["loc": [0], "scale": [0]], "scale"),
        ("LogNormal", ["loc": [0], "scale": [-0.5]], "scale"),
        ("HalfNormal", ["scale": [0]], "scale"),
        ("Cauchy", ["loc": [0], "scale": [-2]], "scale"),
        ("StudentT", ["df": [0], "loc": [0], "scale": [1]], "df"),
        ("StudentT", ["df": [3], "loc": [0], "scale": [-1]], "scale"),
        ("Laplace", ["loc": [0], "scale": [-1]], "scale"),
        ("Exponential", ["rate": [-1]], "rate"),
        ("Gamma", ["concentration": [0], "rate": [1]], "concentration"),
        ("Gamma", ["concentration": [2], "rate": [-3]], "rate"),
        ("Beta", ["concentration1": [-1], "concentration0": [1]], "concentration1"),
        ("Beta", ["concentration1": [1], "concentration0": [0]], "concentration0"),
        ("Uniform", ["low": [2], "high": [1]], "high"),
        ("Uniform", ["low": [1], "high": [1]], "high"),
        ("Bernoulli", ["probs": [1.5]], "probs"),
        ("Bernoulli", ["probs": [-0.1]], "probs"),
        ("Categorical", ["probs": [0.5, -0.1, 0.6]], "probs"),
        ("Binomial", ["total_count": [10], "probs": [1.2]], "probs"),
        ("Binomial", ["total_count": [2.5], "probs": [0.5]], "total_count"),
        ("Binomial", ["total_count": [-1], "probs": [0.5]], "total_count"),
        ("Poisson", ["rate": [-0.5]], "rate"),
        ("Dirichlet", ["concentration": [1, 0, 2]], "concentration"),
        ("MultivariateNormal", ["loc": [0, 0], "scale_tril": [1, 0.5, 0, 1]], "scale_tril"),
        ("MultivariateNormal", ["loc": [0, 0], "scale_tril": [1, 0, 0.5, -1]], "scale_tril"),
        ("MultivariateNormal", ["loc": [0, 0], "covariance_matrix": [1, 2, 2, 1]], "covariance_matrix"),
        ("RelaxedBernoulli", ["temperature": [0], "probs": [0.5]], "temperature"),
        ("RelaxedOneHotCategorical", ["temperature": [-1], "logits": [0, 0]], "temperature"),
    ]

    @Test("invalid constant parameters are refused with invalidParameter", arguments: invalidParameters.indices)
    func invalidParametersAreRefused(_ i: Int) {
        let c = Self.invalidParameters[i]
        expectDistributionError("\(c.dist) \(c.params)", matches: { error in
            guard case let .invalidParameter(distribution, parameter, _, _, _) = error else { return false }
            return distribution == c.dist && parameter == c.parameter
        }) { () throws(DistributionError) in _ = try makeDistribution(c.dist, c.params, in: Graph()) }
    }

    @Test func theErrorForAValueOutsideTheSupportNamesTheValueAndTheConstraint() throws {
        let g = Graph()
        let d = try Exponential(rate: g.constant(1))
        do {
            _ = try d.logProb(g.constant(Tensor([0.5, -2, 1])))
            Issue.record("expected outsideSupport")
        } catch {
            #expect(error == .outsideSupport(distribution: "Exponential", constraint: .nonnegative, index: 1, value: -2))
            #expect(error.description.contains("-2.0") && error.description.contains("nonnegative"), "\(error)")
        }
    }

    @Test func nonConstantValuesAreNotCheckedAndEvaluateBatchwise() throws {
        // A value computed in the graph cannot be checked when building; log_prob evaluates it.
        let g = Graph()
        let d = try Normal(loc: g.constant(1.5), scale: g.constant(2))
        let x = g.input("x", shape: [3])
        let lp = try d.logProb(x)
        let tape = try g.compile(outputs: [lp])
        tape.setValue(x, Tensor([-0.7, 1.5, 30]))
        tape.forward()
        let got = tape.value(of: lp).scalars
        for (v, l) in zip([-0.7, 1.5, 30], got) {
            let z = (v - 1.5) / 2
            #expect(close(l, -0.5 * z * z - log(2.0) - 0.91893853320467274178, rel: 1e-13))
        }
    }
}


/// StudentT's log Γ half-step switches from the direct difference to an asymptotic series
/// above ν/2 = 100: both sides and the switch itself must match mpmath, in value and in
/// d/dν (the series is differentiated by the tape like any other node).
@Suite struct StudentTLargeDfTests {
    /// (ν, log p(0.7 | ν, −0.5, 1.5), d log p/dν), mpmath at 40 digits.
    static let references: [(df: Double, logProb: Double, dDf: Double)] = [
        (3.5, -1.7727875428868401, 0.035092335997943987),
        (150, -1.6475183597088954, 2.0747318709626797e-5),
        (199.99, -1.6467402879635437, 1.1676453895160251e-5),
        (200, -1.6467401712048393, 1.167528701643649e-5),
        (200.01, -1.6467400544578028, 1.1674120312620624e-5),
        (300, -1.645961654950577, 5.1911996819803408e-6),
        (1e4, -1.6444504007257248, 4.6758825756486682e-9),
    ]

    @Test("StudentT log_prob and its df-gradient are exact on both sides of the series switch", arguments: references)
    func logProbAndDfGradientAcrossTheSwitch(_ r: (df: Double, logProb: Double, dDf: Double)) throws {
        let g = Graph()
        let df = g.parameter("df", Tensor(r.df))
        let lp = try StudentT(df: df, loc: g.constant(-0.5), scale: g.constant(1.5)).logProb(g.constant(0.7))
        let tape = try replay(g, loss: lp, outputs: [lp])
        #expect(close(tape.scalar(of: lp), r.logProb, rel: 1e-13), "log p at df = \(r.df): \(tape.scalar(of: lp)), want \(r.logProb)")
        // d/dν sums terms of size z²/(2ν) to a result ~ z⁴/ν²: the tolerance allows that cancellation.
        let grad = tape.gradient(of: df).scalar
        #expect(close(grad, r.dDf, rel: 1e-9), "d log p/d df at df = \(r.df): \(grad), want \(r.dDf)")
    }
}
