import Foundation
import JSON
import Testing
@testable import ModelSpec

/// Jobs with nothing to optimise (issue 15 item 1): the log-likelihood-only form and guides
/// that draw without params run to an ELBO, checked against closed forms.
@Suite struct ParameterlessJobTests {
    static let x = [0.5, 1.0, -0.3, 2.2]
    static let halfLogTwoPi = 0.5 * Foundation.log(2 * Double.pi)

    static func run(_ text: String) throws -> JobResult {
        try JobRun(try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))).run()
    }

    @Test func theLogLikelihoodOnlyFormReportsTheExactLogLikelihoodInOneEvaluation() throws {
        let text = """
        {"data": {"x": \(Self.x)}, "plates": {"n": {"size": "len(x)"}},
         "model": [{"sample": "y", "dist": "Normal", "args": {"loc": 0.3, "scale": 1.5}, "obs": "x", "plates": ["n"]}],
         "guide": [], "inference": {"steps": 5000}}
        """
        let result = try Self.run(text)
        let exact = Self.x.reduce(0.0) { $0 - Self.halfLogTwoPi - Foundation.log(1.5) - 0.5 * ($1 - 0.3) * ($1 - 0.3) / 2.25 }
        #expect(Swift.abs(result.finalELBO - exact) <= 1e-12 * Swift.abs(exact), "\(result.finalELBO) vs \(exact)")
        #expect(result.steps == 1 && result.elboTrace.count == 1 && result.params.isEmpty)
    }

    @Test func aGuideThatDrawsWithoutParamsReportsAnUnbiasedELBOEstimate() throws {
        // q(z) = N(m, s²), p(z) = N(0, 1), p(x_i | z) = N(z, 1): the ELBO in closed form.
        let (m, s) = (0.1, 0.5)
        let text = """
        {"data": {"x": \(Self.x)}, "plates": {"n": {"size": "len(x)"}},
         "model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0, "scale": 1}},
                   {"sample": "y", "dist": "Normal", "args": {"loc": "z", "scale": 1}, "obs": "x", "plates": ["n"]}],
         "guide": [{"sample": "z", "dist": "Normal", "args": {"loc": \(m), "scale": \(s)}}],
         "inference": {"steps": 1000, "seed": 3}}
        """
        let result = try Self.run(text)
        let prior = -Self.halfLogTwoPi - 0.5 * (m * m + s * s)
        let likelihood = Self.x.reduce(0.0) { $0 - Self.halfLogTwoPi - 0.5 * (($1 - m) * ($1 - m) + s * s) }
        let entropy = 0.5 * Foundation.log(2 * Double.pi * M_E * s * s)
        let exact = prior + likelihood + entropy
        let values = result.elboTrace.map(\.elbo)
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
        let standardError = sd / Double(values.count).squareRoot()
        #expect(values.count == 1000 && result.steps == 1000)
        #expect(Swift.abs(mean - exact) < 4 * standardError, "mean \(mean) vs \(exact) ± \(standardError)")
        #expect(result.finalELBO.isFinite && result.posterior.count == 1)
    }
}
