import Autodiff
import Numerics

/// The mean and standard error of many independent gradient estimates taken at one point of
/// parameter space: what a user compares estimators with (lower standard error for the same
/// draws is a better estimator), and what the conformance tests check against exact gradients.
///
/// Gradients are of the loss (−ELBO) with respect to the unconstrained parameters (what the
/// optimiser sees), program parameters only; baselines and control variates are not reported.
public struct GradientEstimate: Sendable, Equatable {
    /// One parameter's estimate, elementwise over its unconstrained value (row-major).
    public struct Parameter: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        /// Mean over the draws of ∂loss/∂(unconstrained element).
        public let mean: [Double]
        /// Standard error of that mean (sample standard deviation / √draws).
        public let standardError: [Double]
    }
    /// Independent estimates averaged (each is one SVI step's gradient, with its own noise).
    public let draws: Int
    /// The ELBO estimate's mean and its standard error over the same draws.
    public let elbo: Double
    public let elboStandardError: Double
    public let parameters: [Parameter]
}

extension SVI {
    /// `draws` gradient estimates at the current parameters, each with the noise of its own step
    /// counter (`step`, `step + 1`, …), without moving the parameters or the optimiser. Score-function
    /// baselines do what they do in training: a decaying average is updated after each draw
    /// (it never depends on the draw it is used with, so every estimate stays unbiased). The run's
    /// step counter is left where it was.
    public func gradientEstimate(draws: Int) throws(SVIError) -> GradientEstimate {
        guard draws >= 2 else { throw .incompatibleState("a gradient estimate needs at least 2 draws, got \(draws)") }
        let tape = program.tape
        let records = program.parameters.filter { $0.role == .program }
        var sum = records.map { [Double](repeating: 0, count: $0.raw.count) }
        var sumSquares = sum
        var elboSum = 0.0, elboSquares = 0.0
        let start = stepCount
        defer { stepCount = start }
        for k in 0..<draws {
            tape.seed = seed
            tape.step = UInt64(start + k)
            tape.forward()
            if let f = tape.fault { throw .fault(step: start + k, f.description) }
            let elbo = tape.scalar(of: program.elbo)
            guard elbo.isFinite else { throw .diverged(step: start + k, "the ELBO is \(elbo); \(nonFiniteSite())") }
            tape.backward()
            elboSum += elbo; elboSquares += elbo * elbo
            for (i, p) in records.enumerated() {
                guard let g = tape.unsafeGradient(of: p.raw) else { continue }
                for j in 0..<g.count {
                    guard g[j].isFinite else { throw .diverged(step: start + k, "the gradient of parameter '\(p.name)' is not finite") }
                    sum[i][j] += g[j]; sumSquares[i][j] += g[j] * g[j]
                }
            }
            updateBaselines()
        }
        let n = Double(draws)
        func standardError(_ s: Double, _ s2: Double) -> Double {
            (max(0, (s2 - s * s / n) / (n - 1)) / n).squareRoot()
        }
        let parameters = records.indices.map { i in
            GradientEstimate.Parameter(name: records[i].name, shape: records[i].raw.shape,
                                       mean: sum[i].map { $0 / n },
                                       standardError: zip(sum[i], sumSquares[i]).map { standardError($0, $1) })
        }
        return GradientEstimate(draws: draws, elbo: elboSum / n, elboStandardError: standardError(elboSum, elboSquares),
                                parameters: parameters)
    }
}
