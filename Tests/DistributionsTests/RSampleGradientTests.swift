#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Distributions
import Autodiff
import Numerics

/// Pathwise gradients: ∂/∂θ E[f(z)] estimated as the mean of per-draw gradients of f(rsample)
/// must lie within 4 standard errors (from the same per-draw gradients) of the closed form.
///
/// Per-draw gradients come from giving every draw its own copy of each parameter: parameters
/// are `[S]`-shaped tensors of one value, the law's batch is `[S]`, the loss is Σᵢ f(zᵢ), so
/// `tape.gradient(of: θ)[i]` is ∂f(zᵢ)/∂θ for draw i alone.
@Suite struct RSampleGradientTests {
    static let draws = 100_000

    /// Per-draw gradients of Σ f(z) for parameters set to `values` (one `[S]` copy each);
    /// `build` returns the `[S]` draws from those parameter nodes.
    static func perDrawGradients(_ values: [Double], seed: UInt64,
                                 _ build: (Graph, [Node]) throws -> Node, f: (Node) -> Node) throws -> [MeanEstimate] {
        let g = Graph()
        let params = values.enumerated().map { g.parameter("θ\($0.offset)", Tensor(repeating: $0.element, shape: [draws])) }
        let z = try build(g, params)
        #expect(z.shape == [draws])
        let tape = try replay(g, loss: g.sum(f(z)), outputs: [z], seed: seed)
        #expect(tape.fault == nil)
        return params.map { MeanEstimate(tape.gradient(of: $0).scalars) }
    }

    /// Checks each estimate against its closed form, naming the parameter.
    static func expectGradients(_ estimates: [MeanEstimate], _ expected: [Double], _ names: [String], _ law: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        for (k, (e, want)) in zip(estimates, expected).enumerated() {
            #expect(e.mean.isFinite && e.agrees(with: want),
                    "\(law): ∂/∂\(names[k]) E f = \(e), closed form \(want), z = \(e.zScore(want))", sourceLocation: sourceLocation)
        }
    }

    @Test func normalSquareGradientsAreTwoMuAndTwoSigma() throws {
        let (mu, sigma) = (0.7, 1.3)
        let e = try Self.perDrawGradients([mu, sigma], seed: 1, { _, p in try Normal(loc: p[0], scale: p[1]).rsample([], stream: 0) },
                                          f: { $0.square() })
        Self.expectGradients(e, [2 * mu, 2 * sigma], ["loc", "scale"], "Normal, f = z²")
    }

    @Test func logNormalMeanGradients() throws {
        // E z = exp(μ + σ²/2): ∂μ = E z, ∂σ = σ E z.
        let (mu, sigma) = (0.2, 0.6)
        let m = exp(mu + sigma * sigma / 2)
        let e = try Self.perDrawGradients([mu, sigma], seed: 2, { _, p in try LogNormal(loc: p[0], scale: p[1]).rsample([], stream: 0) },
                                          f: { $0 })
        Self.expectGradients(e, [m, sigma * m], ["loc", "scale"], "LogNormal, f = z")
    }

    @Test func halfNormalSquareGradientIsTwoSigma() throws {
        // E z² = σ².
        let sigma = 1.4
        let e = try Self.perDrawGradients([sigma], seed: 3, { _, p in try HalfNormal(scale: p[0]).rsample([], stream: 0) }, f: { $0.square() })
        Self.expectGradients(e, [2 * sigma], ["scale"], "HalfNormal, f = z²")
    }

    @Test func laplaceSquareGradients() throws {
        // E z² = loc² + 2 scale².
        let (loc, scale) = (0.4, 1.1)
        let e = try Self.perDrawGradients([loc, scale], seed: 4, { _, p in try Laplace(loc: p[0], scale: p[1]).rsample([], stream: 0) },
                                          f: { $0.square() })
        Self.expectGradients(e, [2 * loc, 4 * scale], ["loc", "scale"], "Laplace, f = z²")
    }

    @Test func exponentialSquareGradient() throws {
        // E z² = 2/λ²: ∂λ = −4/λ³.
        let rate = 1.7
        let e = try Self.perDrawGradients([rate], seed: 5, { _, p in try Exponential(rate: p[0]).rsample([], stream: 0) }, f: { $0.square() })
        Self.expectGradients(e, [-4 / (rate * rate * rate)], ["rate"], "Exponential, f = z²")
    }

    @Test func uniformSquareGradients() throws {
        // E z² = (l² + lh + h²)/3: ∂l = (2l + h)/3, ∂h = (2h + l)/3.
        let (low, high) = (-0.5, 2.0)
        let e = try Self.perDrawGradients([low, high], seed: 6, { _, p in try Uniform(low: p[0], high: p[1]).rsample([], stream: 0) },
                                          f: { $0.square() })
        Self.expectGradients(e, [(2 * low + high) / 3, (2 * high + low) / 3], ["low", "high"], "Uniform, f = z²")
    }

    @Test("Gamma: E z² = α(α+1)/β², so ∂α = (2α+1)/β², ∂β = −2α(α+1)/β³", arguments: [(0.4, 1.5), (3.2, 0.8), (0.05, 1.0)])
    func gammaSquareGradients(_ alpha: Double, _ beta: Double) throws {
        let e = try Self.perDrawGradients([alpha, beta], seed: 7, { _, p in try Gamma(concentration: p[0], rate: p[1]).rsample([], stream: 0) },
                                          f: { $0.square() })
        Self.expectGradients(e, [(2 * alpha + 1) / (beta * beta), -2 * alpha * (alpha + 1) / (beta * beta * beta)],
                             ["concentration", "rate"], "Gamma(\(alpha), \(beta)), f = z²")
    }

    @Test("Beta: E z = a/(a+b), so ∂a = b/(a+b)², ∂b = −a/(a+b)²", arguments: [(0.6, 1.8), (2.5, 4.0)])
    func betaMeanGradients(_ a: Double, _ b: Double) throws {
        let e = try Self.perDrawGradients([a, b], seed: 8,
                                          { _, p in try Beta(concentration1: p[0], concentration0: p[1]).rsample([], stream: 0) }, f: { $0 })
        let t = a + b
        Self.expectGradients(e, [b / (t * t), -a / (t * t)], ["concentration1", "concentration0"], "Beta(\(a), \(b)), f = z")
    }

    @Test func betaSquareGradients() throws {
        // E z² = a(a+1)/(t(t+1)), t = a + b.
        let (a, b) = (1.7, 0.9), t = a + b
        let e = try Self.perDrawGradients([a, b], seed: 9,
                                          { _, p in try Beta(concentration1: p[0], concentration0: p[1]).rsample([], stream: 0) },
                                          f: { $0.square() })
        let u = a * (a + 1), v = t * (t + 1)
        Self.expectGradients(e, [((2 * a + 1) * v - u * (2 * t + 1)) / (v * v), -u * (2 * t + 1) / (v * v)],
                             ["concentration1", "concentration0"], "Beta, f = z²")
    }

    @Test func dirichletFirstComponentSquareGradients() throws {
        // E z₀² = a₀(a₀+1)/(A(A+1)), A = Σa: ∂a₀ = ((2a₀+1)A(A+1) − a₀(a₀+1)(2A+1))/(A(A+1))², ∂a_j = −a₀(a₀+1)(2A+1)/(A(A+1))².
        let a = [0.7, 2.0, 1.3], s = Self.draws
        let g = Graph()
        let conc = g.parameter("concentration", Tensor(shape: [s, 3], scalars: (0..<(3 * s)).map { a[$0 % 3] }))
        let z = try Dirichlet(concentration: conc).rsample([], stream: 0)
        let z0 = g.slice(z, axis: 1, 0..<1)
        let tape = try replay(g, loss: g.sum(z0.square()), outputs: [z], seed: 10)
        let grads = tape.gradient(of: conc).scalars
        let total = a.reduce(0, +), u = a[0] * (a[0] + 1), v = total * (total + 1)
        let want = [((2 * a[0] + 1) * v - u * (2 * total + 1)) / (v * v)] + Array(repeating: -u * (2 * total + 1) / (v * v), count: 2)
        let estimates = (0..<3).map { k in MeanEstimate((0..<s).map { grads[$0 * 3 + k] }) }
        Self.expectGradients(estimates, want, ["a0", "a1", "a2"], "Dirichlet, f = z₀²")
    }

    @Test func studentTSquareGradients() throws {
        // E z² = loc² + σ²ν/(ν−2): ∂ν = −2σ²/(ν−2)², ∂loc = 2 loc, ∂σ = 2σν/(ν−2). ν = 9 keeps E z⁴ finite.
        let (nu, loc, scale) = (9.0, 0.4, 1.2)
        let e = try Self.perDrawGradients([nu, loc, scale], seed: 11,
                                          { _, p in try StudentT(df: p[0], loc: p[1], scale: p[2]).rsample([], stream: 0) },
                                          f: { $0.square() })
        Self.expectGradients(e, [-2 * scale * scale / ((nu - 2) * (nu - 2)), 2 * loc, 2 * scale * nu / (nu - 2)],
                             ["df", "loc", "scale"], "StudentT, f = z²")
    }

    @Test func cauchyBumpGradients() throws {
        // f(z) = 1/(1+z²) = π·Cauchy(0,1) density, so E f = π·density of Cauchy(−μ, 1+s) at 0
        // = a/(a² + μ²) with a = 1 + s: ∂μ = −2μa/D², ∂s = (μ² − a²)/D², D = a² + μ².
        // f′(z)·(z − μ) is bounded, so the per-draw gradients have finite variance.
        let (mu, s) = (0.3, 0.8), a = 1 + s, dd = a * a + mu * mu
        let e = try Self.perDrawGradients([mu, s], seed: 12, { _, p in try Cauchy(loc: p[0], scale: p[1]).rsample([], stream: 0) },
                                          f: { 1 / (1 + $0.square()) })
        Self.expectGradients(e, [-2 * mu * a / (dd * dd), (mu * mu - a * a) / (dd * dd)], ["loc", "scale"], "Cauchy, f = 1/(1+z²)")
    }

    static let omega = [0.5, 0.75, -0.4]
    static let mu = [0.3, -0.2, 0.5]
    static let l = [0.6, 0, 0, 0.4, 0.8, 0, -0.2, 0.3, 0.9]

    /// Replays of `batch` draws each: loc has one copy per draw (per-draw gradients), the
    /// shared matrix parameter gives one batch-mean gradient per replay (its standard error
    /// comes from the spread of those batch means).
    static func mvnCosGradients(covariance: Bool) throws -> (loc: [MeanEstimate], matrix: [MeanEstimate]) {
        let batch = 1000, replays = draws / batch
        let g = Graph()
        let loc = g.parameter("loc", Tensor(shape: [batch, 3], scalars: (0..<(3 * batch)).map { mu[$0 % 3] }))
        var cov = Array(repeating: 0.0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { cov[i * 3 + j] += l[i * 3 + k] * l[j * 3 + k] } } }
        let m = g.parameter(covariance ? "covariance_matrix" : "scale_tril", Tensor(shape: [3, 3], scalars: covariance ? cov : l))
        let d = covariance ? try MultivariateNormal(loc: loc, covarianceMatrix: m) : try MultivariateNormal(loc: loc, scaleTril: m)
        let z = try d.rsample([], stream: 0)
        let f = g.cos(g.matmul(z, g.constant(Tensor(omega))))
        let tape = try g.compile(loss: g.sum(f), outputs: [z])
        tape.seed = 13
        var locGrads = Array(repeating: [Double](), count: 3)
        var matrixGrads = Array(repeating: [Double](), count: 9)
        for r in 0..<replays {
            tape.step = UInt64(r)
            tape.forward(); tape.backward()
            #expect(tape.fault == nil)
            let gl = tape.gradient(of: loc).scalars, gm = tape.gradient(of: m).scalars
            for i in 0..<(3 * batch) { locGrads[i % 3].append(gl[i]) }
            for k in 0..<9 { matrixGrads[k].append(gm[k] / Double(batch)) }
        }
        return (locGrads.map(MeanEstimate.init), matrixGrads.map(MeanEstimate.init))
    }

    /// cos(ωᵀμ)·exp(−½‖Lᵀω‖²) and sin(ωᵀμ)·exp(−½‖Lᵀω‖²), and Lᵀω.
    static func mvnCosClosedForm() -> (cos: Double, sin: Double, ltOmega: [Double]) {
        let lt = (0..<3).map { b in (0..<3).reduce(0.0) { $0 + l[$1 * 3 + b] * omega[$1] } }
        let wm = zip(omega, mu).reduce(0.0) { $0 + $1.0 * $1.1 }
        let damp = exp(-0.5 * lt.reduce(0) { $0 + $1 * $1 })
        return (cos(wm) * damp, sin(wm) * damp, lt)
    }

    @Test func multivariateNormalCosGradientsInLocAndScaleTril() throws {
        // E cos(ωᵀz) = cos(ωᵀμ) exp(−½‖Lᵀω‖²) (estimators.md §7): ∂μ_a = −sin(ωᵀμ)e ω_a,
        // ∂L_ab = −cos(ωᵀμ)e ω_a (Lᵀω)_b for a ≥ b.
        let (loc, matrix) = try Self.mvnCosGradients(covariance: false)
        let c = Self.mvnCosClosedForm()
        Self.expectGradients(loc, Self.omega.map { -c.sin * $0 }, ["loc0", "loc1", "loc2"], "MVN, f = cos(ωᵀz)")
        for a in 0..<3 {
            for b in 0...a {
                Self.expectGradients([matrix[a * 3 + b]], [-c.cos * Self.omega[a] * c.ltOmega[b]], ["L\(a)\(b)"], "MVN, f = cos(ωᵀz)")
            }
        }
    }

    @Test func multivariateNormalCosGradientsThroughTheCovarianceCholesky() throws {
        // E f = cos(ωᵀμ) exp(−½ ωᵀΣω); the factorisation reads Σ's lower triangle, so
        // ∂Σ_aa = −½ω_a² E f, ∂Σ_ab = −ω_a ω_b E f below the diagonal, 0 above.
        let (_, matrix) = try Self.mvnCosGradients(covariance: true)
        let c = Self.mvnCosClosedForm(), w = Self.omega
        for a in 0..<3 {
            for b in 0..<3 {
                let want = a == b ? -0.5 * w[a] * w[a] * c.cos : (a > b ? -w[a] * w[b] * c.cos : 0)
                if a < b {
                    #expect(matrix[a * 3 + b].mean == 0, "upper entry Σ\(a)\(b) is not read, its gradient must be 0")
                } else {
                    Self.expectGradients([matrix[a * 3 + b]], [want], ["Σ\(a)\(b)"], "MVN(covariance), f = cos(ωᵀz)")
                }
            }
        }
    }
}
