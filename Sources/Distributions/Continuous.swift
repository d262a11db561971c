import Autodiff
import Numerics

let logTwo = 0.69314718055994530942
let logPi = 1.1447298858494001741
let halfLog2Pi = 0.91893853320467274178

/// Normal(loc, scale): the Gaussian; pathwise draws `loc + scale·ε`.
public struct Normal: Distribution {
    public let loc: Node, scale: Node
    public let batchShape: [Int]
    public var graph: Graph { loc.graph }
    public var name: String { "Normal" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("loc", .real), .init("scale", .positive)]
    public var parameterNodes: [Node] { [loc, scale] }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .real }
    public var hasRSample: Bool { true }

    public init(loc: Node, scale: Node) throws(DistributionError) {
        try Parameters.require(["scale": scale], declared: Self.parameters, "Normal")
        self.loc = loc; self.scale = scale
        batchShape = try Parameters.batchShape("Normal", [loc, scale])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        graph.normalLogProb(try checked(value), loc: loc, scale: scale)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        loc + scale * graph.noise(.normal, shape: shape(sampleShape), stream: 4 * stream)
    }
    public func mean() -> Node { graph.broadcast(loc, to: batchShape) }
    public func variance() -> Node { graph.broadcast(scale.square(), to: batchShape) }
    public func entropy() -> Node { graph.broadcast(graph.log(scale) + (0.5 + halfLog2Pi), to: batchShape) }
}

/// LogNormal(loc, scale): exp of a Normal(loc, scale).
public struct LogNormal: Distribution {
    public let base: Normal
    public var graph: Graph { base.graph }
    public var name: String { "LogNormal" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("loc", .real), .init("scale", .positive)]
    public var parameterNodes: [Node] { base.parameterNodes }
    public var batchShape: [Int] { base.batchShape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .positive }
    public var hasRSample: Bool { true }

    public init(loc: Node, scale: Node) throws(DistributionError) {
        try Parameters.require(["scale": scale], declared: Self.parameters, "LogNormal")
        base = try Normal(loc: loc, scale: scale)
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let y = graph.log(try checked(value))
        return graph.normalLogProb(y, loc: base.loc, scale: base.scale) - y
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        graph.exp(try base.rsample(sampleShape, stream: stream))
    }
    public func mean() -> Node { graph.exp(base.mean() + 0.5 * base.variance()) }
    public func variance() -> Node {
        let s2 = base.variance()
        return graph.expm1(s2) * graph.exp(2 * base.mean() + s2)
    }
    public func entropy() -> Node { base.entropy() + base.mean() }
}

/// HalfNormal(scale): |X| for X ~ Normal(0, scale).
public struct HalfNormal: Distribution {
    public let scale: Node
    public var graph: Graph { scale.graph }
    public var name: String { "HalfNormal" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("scale", .positive)]
    public var parameterNodes: [Node] { [scale] }
    public var batchShape: [Int] { scale.shape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .nonnegative }
    public var hasRSample: Bool { true }

    public init(scale: Node) throws(DistributionError) {
        try Parameters.require(["scale": scale], declared: Self.parameters, "HalfNormal")
        self.scale = scale
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        graph.normalLogProb(try checked(value), loc: graph.constant(0), scale: scale) + logTwo
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        graph.abs(scale * graph.noise(.normal, shape: shape(sampleShape), stream: 4 * stream))
    }
    public func mean() -> Node { scale * (2 / Double.pi).squareRoot() }
    public func variance() -> Node { scale.square() * (1 - 2 / Double.pi) }
    public func entropy() -> Node { graph.log(scale) + (0.5 * (logPi - logTwo) + 0.5) }
}

/// Cauchy(loc, scale); draws `loc + scale·tan(π(u − ½))`. Mean and variance are undefined.
public struct Cauchy: Distribution {
    public let loc: Node, scale: Node
    public let batchShape: [Int]
    public var graph: Graph { loc.graph }
    public var name: String { "Cauchy" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("loc", .real), .init("scale", .positive)]
    public var parameterNodes: [Node] { [loc, scale] }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .real }
    public var hasRSample: Bool { true }

    public init(loc: Node, scale: Node) throws(DistributionError) {
        try Parameters.require(["scale": scale], declared: Self.parameters, "Cauchy")
        self.loc = loc; self.scale = scale
        batchShape = try Parameters.batchShape("Cauchy", [loc, scale])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let z = (try checked(value) - loc) / scale
        return -graph.log1p(z.square()) - graph.log(scale) - logPi
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let u = graph.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream)
        let t = graph.sin((u - 0.5) * Double.pi) / graph.cos((u - 0.5) * Double.pi)
        return loc + scale * graph.stopGradient(t)
    }
    public func mean() throws(DistributionError) -> Node { throw .unsupported("Cauchy has no mean") }
    public func variance() throws(DistributionError) -> Node { throw .unsupported("Cauchy has no variance") }
    public func entropy() -> Node { graph.broadcast(graph.log(scale) + (logPi + 2 * logTwo), to: batchShape) }
}

/// HalfCauchy(scale): |X| for X ~ Cauchy(0, scale).
public struct HalfCauchy: Distribution {
    public let scale: Node
    public var graph: Graph { scale.graph }
    public var name: String { "HalfCauchy" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("scale", .positive)]
    public var parameterNodes: [Node] { [scale] }
    public var batchShape: [Int] { scale.shape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .nonnegative }
    public var hasRSample: Bool { true }

    public init(scale: Node) throws(DistributionError) {
        try Parameters.require(["scale": scale], declared: Self.parameters, "HalfCauchy")
        self.scale = scale
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let z = try checked(value) / scale
        return -graph.log1p(z.square()) - graph.log(scale) + (logTwo - logPi)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        graph.abs(try Cauchy(loc: graph.constant(0), scale: scale).rsample(sampleShape, stream: stream))
    }
    public func mean() throws(DistributionError) -> Node { throw .unsupported("HalfCauchy has no finite mean") }
    public func variance() throws(DistributionError) -> Node { throw .unsupported("HalfCauchy has no finite variance") }
    public func entropy() -> Node { graph.log(scale) + (logPi + logTwo) }
}

/// StudentT(df, loc, scale); draws `loc + scale·ε/√(G/df)` with G ~ Chi²(df) = 2·Gamma(df/2),
/// pathwise in loc and scale and implicitly reparameterised in df.
public struct StudentT: Distribution {
    public let df: Node, loc: Node, scale: Node
    public let batchShape: [Int]
    public var graph: Graph { df.graph }
    public var name: String { "StudentT" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("df", .positive), .init("loc", .real, .optional(default: 0)), .init("scale", .positive, .optional(default: 1))]
    public var parameterNodes: [Node] { [df, loc, scale] }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .real }
    public var hasRSample: Bool { true }

    public init(df: Node, loc: Node, scale: Node) throws(DistributionError) {
        try Parameters.require(["df": df, "scale": scale], declared: Self.parameters, "StudentT")
        self.df = df; self.loc = loc; self.scale = scale
        batchShape = try Parameters.batchShape("StudentT", [df, loc, scale])
    }
    /// log Γ((ν+1)/2) − log Γ(ν/2) − ½ log ν is formed as R(ν/2) − ½ log 2 (see
    /// ``Graph/lgammaHalfStepRemainder(_:)``): the plain difference of log-gammas cancels for
    /// large ν (off by 1e-5 relative at ν = 1e10, as in torch's binary64 formula).
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph
        let z = (try checked(value) - loc) / scale
        let half = (df + 1) * 0.5
        return g.lgammaHalfStepRemainder(df * 0.5) - 0.5 * (logTwo + logPi) - g.log(scale)
            - half * g.log1p(z.square() / df)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph, s = shape(sampleShape)
        let eps = g.noise(.normal, shape: s, stream: 4 * stream)
        let chi2 = 2 * g.standardGammaSample(g.broadcast(df * 0.5, to: s), stream: 4 * stream + 1)
        return loc + scale * eps / g.sqrt(chi2 / df)
    }
    public func mean() -> Node { graph.broadcast(loc, to: batchShape) }
    /// σ²ν/(ν−2) for ν > 2; +∞ for 1 < ν ≤ 2; NaN for ν ≤ 1 (torch's convention).
    ///
    /// No 0/1-mask blend: 0·∞ and 0·NaN are NaN, so masks would spoil every entry. Instead the
    /// denominator max(ν − 2, 0) is 0 exactly when ν ≤ 2 (σ²ν/0 = +∞), and 0·log 1[ν > 1] adds
    /// 0 for ν > 1 and NaN (0·−∞) for ν ≤ 1.
    public func variance() -> Node {
        let g = graph
        let v = scale.square() * df / g.maximum(df - 2, g.constant(0))
        let nanUnlessAbove1 = 0 * g.log(g.less(g.constant(1), df))
        return g.broadcast(v + nanUnlessAbove1, to: batchShape)
    }
    /// h·(ψ(h) − ψ(ν/2)) + ½ log ν + log B(ν/2, ½) + log σ with h = (ν+1)/2, written as
    /// h·Δψ(ν/2) − R(ν/2) + ½ log 2π + log σ so that neither difference cancels for large ν.
    public func entropy() -> Node {
        let g = graph
        let h = (df + 1) * 0.5, d2 = df * 0.5
        return g.broadcast(h * g.digammaHalfStep(d2) - g.lgammaHalfStepRemainder(d2) + 0.5 * (logTwo + logPi) + g.log(scale),
                           to: batchShape)
    }
}

extension Graph {
    /// Arguments above this use the asymptotic series for the half-step differences of log Γ and
    /// ψ (truncation error below 1e-18 relative there); below it the direct differences lose
    /// nothing worth noting (log Γ(100) ≈ 360).
    static let halfStepSeriesThreshold = 100.0

    /// R(x) = log Γ(x + ½) − log Γ(x) − ½ log x, for x > 0, with full relative accuracy for
    /// large x where the log-gammas themselves are huge:
    /// R(x) ~ −1/(8x) + 1/(192x³) − 1/(640x⁵) + 17/(14336x⁷) for x > 100, the direct difference
    /// below. Each branch is evaluated on its own side of the threshold only (clamped), so
    /// neither overflows, and both have exact derivatives, so gradients are right everywhere.
    func lgammaHalfStepRemainder(_ x: Node) -> Node {
        let t = Graph.halfStepSeriesThreshold
        let large = less(constant(t), x)
        let xs = clamp(x, lower: t), r = reciprocal(xs), r2 = square(r)
        let series = r * (-1.0 / 8 + r2 * (1.0 / 192 + r2 * (-1.0 / 640 + r2 * (17.0 / 14336))))
        let xd = clamp(x, upper: t)
        let direct = lgamma(xd + 0.5) - lgamma(xd) - 0.5 * log(xd)
        return large * series + (1 - large) * direct
    }

    /// ψ(x + ½) − ψ(x), for x > 0, without cancellation for large x:
    /// 1/(2x) + 1/(8x²) − 1/(64x⁴) + 1/(128x⁶) − 17/(2048x⁸) above the threshold (the derivative
    /// of ``lgammaHalfStepRemainder(_:)`` + ½ log x), the direct difference below.
    func digammaHalfStep(_ x: Node) -> Node {
        let t = Graph.halfStepSeriesThreshold
        let large = less(constant(t), x)
        let xs = clamp(x, lower: t), r = reciprocal(xs), r2 = square(r)
        let series = r * (0.5 + r * (1.0 / 8 + r2 * (-1.0 / 64 + r2 * (1.0 / 128 + r2 * (-17.0 / 2048)))))
        let xd = clamp(x, upper: t)
        let direct = digamma(xd + 0.5) - digamma(xd)
        return large * series + (1 - large) * direct
    }
}

/// Laplace(loc, scale): density exp(−|x − loc|/scale)/(2 scale).
public struct Laplace: Distribution {
    public let loc: Node, scale: Node
    public let batchShape: [Int]
    public var graph: Graph { loc.graph }
    public var name: String { "Laplace" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("loc", .real), .init("scale", .positive)]
    public var parameterNodes: [Node] { [loc, scale] }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .real }
    public var hasRSample: Bool { true }

    public init(loc: Node, scale: Node) throws(DistributionError) {
        try Parameters.require(["scale": scale], declared: Self.parameters, "Laplace")
        self.loc = loc; self.scale = scale
        batchShape = try Parameters.batchShape("Laplace", [loc, scale])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        -graph.abs(try checked(value) - loc) / scale - graph.log(scale) - logTwo
    }
    /// Inverse CDF: loc − scale·sign(v)·log(1 − |v|), v = 2u − 1 on (−1, 1).
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph
        let v = 2 * g.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream) - 1
        let sign = 2 * g.less(g.constant(0), v) - 1
        return loc - scale * g.stopGradient(sign * g.log1p(-g.abs(v)))
    }
    public func mean() -> Node { graph.broadcast(loc, to: batchShape) }
    public func variance() -> Node { graph.broadcast(2 * scale.square(), to: batchShape) }
    public func entropy() -> Node { graph.broadcast(graph.log(scale) + (1 + logTwo), to: batchShape) }
}

/// Exponential(rate): density rate·e^(−rate·x) on x ≥ 0.
public struct Exponential: Distribution {
    public let rate: Node
    public var graph: Graph { rate.graph }
    public var name: String { "Exponential" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("rate", .positive)]
    public var parameterNodes: [Node] { [rate] }
    public var batchShape: [Int] { rate.shape }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .nonnegative }
    public var hasRSample: Bool { true }

    public init(rate: Node) throws(DistributionError) {
        try Parameters.require(["rate": rate], declared: Self.parameters, "Exponential")
        self.rate = rate
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node { graph.log(rate) - rate * (try checked(value)) }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let e = -graph.log(graph.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream))
        return e / rate
    }
    public func mean() -> Node { graph.reciprocal(rate) }
    public func variance() -> Node { graph.reciprocal(rate.square()) }
    public func entropy() -> Node { 1 - graph.log(rate) }
}

/// Gamma(concentration, rate): density ∝ x^(α−1) e^(−βx); draws are implicitly
/// reparameterised in α (Figurnov et al. 2018) and pathwise in β.
public struct Gamma: Distribution {
    public let concentration: Node, rate: Node
    public let batchShape: [Int]
    public var graph: Graph { rate.graph }
    public var name: String { "Gamma" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("concentration", .positive), .init("rate", .positive)]
    public var parameterNodes: [Node] { [concentration, rate] }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .nonnegative }
    public var hasRSample: Bool { true }

    public init(concentration: Node, rate: Node) throws(DistributionError) {
        try Parameters.require(["concentration": concentration, "rate": rate], declared: Self.parameters, "Gamma")
        self.concentration = concentration; self.rate = rate
        batchShape = try Parameters.batchShape("Gamma", [concentration, rate])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, x = try checked(value)
        return g.xlogy(concentration, rate) + g.xlogy(concentration - 1, x) - rate * x - g.lgamma(concentration)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph, s = shape(sampleShape)
        return g.standardGammaSample(g.broadcast(concentration, to: s), stream: 4 * stream) / rate
    }
    public func mean() -> Node { graph.broadcast(concentration / rate, to: batchShape) }
    public func variance() -> Node { graph.broadcast(concentration / rate.square(), to: batchShape) }
    public func entropy() -> Node {
        let g = graph, a = concentration
        return g.broadcast(a - g.log(rate) + g.lgamma(a) + (1 - a) * g.digamma(a), to: batchShape)
    }
}

/// Beta(concentration1, concentration0) on [0, 1]; draws X/(X+Y) from two implicitly
/// reparameterised Gamma draws.
public struct Beta: Distribution {
    public let concentration1: Node, concentration0: Node
    public let batchShape: [Int]
    public var graph: Graph { concentration1.graph }
    public var name: String { "Beta" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("concentration1", .positive), .init("concentration0", .positive)]
    public var parameterNodes: [Node] { [concentration1, concentration0] }
    public var eventShape: [Int] { [] }
    public var support: Constraint { .unitInterval }
    public var hasRSample: Bool { true }

    public init(concentration1: Node, concentration0: Node) throws(DistributionError) {
        try Parameters.require(["concentration1": concentration1, "concentration0": concentration0], declared: Self.parameters, "Beta")
        self.concentration1 = concentration1; self.concentration0 = concentration0
        batchShape = try Parameters.batchShape("Beta", [concentration1, concentration0])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, x = try checked(value), a = concentration1, b = concentration0
        return g.xlogy(a - 1, x) + g.xlogy(b - 1, 1 - x) + g.lgamma(a + b) - g.lgamma(a) - g.lgamma(b)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        let g = graph, s = shape(sampleShape)
        let x = g.standardGammaSample(g.broadcast(concentration1, to: s), stream: 4 * stream)
        let y = g.standardGammaSample(g.broadcast(concentration0, to: s), stream: 4 * stream + 1)
        return x / (x + y)
    }
    public func mean() -> Node { graph.broadcast(concentration1 / (concentration1 + concentration0), to: batchShape) }
    public func variance() -> Node {
        let a = concentration1, b = concentration0, t = a + b
        return graph.broadcast(a * b / (t.square() * (t + 1)), to: batchShape)
    }
    public func entropy() -> Node {
        let g = graph, a = concentration1, b = concentration0, t = a + b
        let lbeta = g.lgamma(a) + g.lgamma(b) - g.lgamma(t)
        return g.broadcast(lbeta - (a - 1) * g.digamma(a) - (b - 1) * g.digamma(b) + (t - 2) * g.digamma(t), to: batchShape)
    }
}

/// Uniform(low, high): density 1/(high − low) on [low, high).
public struct Uniform: Distribution {
    public let low: Node, high: Node
    public let batchShape: [Int]
    public var graph: Graph { low.graph }
    public var name: String { "Uniform" }
    /// torch's `arg_constraints`.
    public static let parameters: [ParameterDeclaration] = [.init("low", nil), .init("high", nil)]
    public var parameterNodes: [Node] { [low, high] }
    public var eventShape: [Int] { [] }
    public var hasRSample: Bool { true }
    /// Constant bounds give a checkable support; otherwise only reals are checked.
    public var support: Constraint {
        if let l = graph.constantValue(low), let h = graph.constantValue(high), l.count == 1, h.count == 1 {
            return .interval(l.scalar, h.scalar)
        }
        return .real
    }

    public init(low: Node, high: Node) throws(DistributionError) {
        if let l = low.graph.constantValue(low), let h = high.graph.constantValue(high),
           let b = try? Shape.broadcast(l.shape, h.shape),
           let lb = try? l.broadcast(to: b), let hb = try? h.broadcast(to: b),
           let i = lb.scalars.indices.first(where: { !(lb.scalars[$0] < hb.scalars[$0]) }) {
            throw .invalidParameter(distribution: "Uniform", parameter: "high", constraint: .interval(lb.scalars[i], .infinity),
                                    index: i, value: hb.scalars[i])
        }
        self.low = low; self.high = high
        batchShape = try Parameters.batchShape("Uniform", [low, high])
    }
    public func logProb(_ value: Node) throws(DistributionError) -> Node {
        let g = graph, x = try checked(value)
        // torch: log(1[low ≤ x] · 1[x < high]) − log(high − low).
        let inside = (1 - g.less(x, low)) * g.less(x, high)
        return g.log(inside) - g.log(high - low)
    }
    public func rsample(_ sampleShape: [Int], stream: Int) throws(DistributionError) -> Node {
        low + (high - low) * graph.noise(.uniform, shape: shape(sampleShape), stream: 4 * stream)
    }
    public func mean() -> Node { graph.broadcast((low + high) * 0.5, to: batchShape) }
    public func variance() -> Node { graph.broadcast((high - low).square() / 12, to: batchShape) }
    public func entropy() -> Node { graph.broadcast(graph.log(high - low), to: batchShape) }
}
