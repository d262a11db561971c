import Foundation
import Numerics

/// An independent oracle for the combination sweep: small models written as plain Swift values,
/// whose expected ELBO under the guide is computed by quadrature (continuous sites) and
/// enumeration (discrete sites) with log-densities written out here, and whose gradient is a
/// central difference of that deterministic expectation. Nothing here uses the engine's graph,
/// distributions or estimators.
enum SweepFamily: String, CaseIterable, Sendable {
    case normal, gamma, beta, bernoulli, categorical

    var isDiscrete: Bool { self == .bernoulli || self == .categorical }
    /// Guide params: name suffixes, whether positive, and the event length (categorical: 3).
    var guideParams: [(suffix: String, positive: Bool)] {
        switch self {
        case .normal: [("loc", false), ("scale", true)]
        case .gamma: [("concentration", true), ("rate", true)]
        case .beta: [("c1", true), ("c0", true)]
        case .bernoulli, .categorical: [("logits", false)]
        }
    }
    var event: Int { self == .categorical ? 3 : 1 }
}

/// A plate of a sweep model.
struct SweepPlate: Sendable {
    let name: String
    let size: Int
    let subsample: Int?
}

/// A latent site: its family, plates (listed order), prior parent (an earlier latent whose
/// feature sets this prior) and guide parent (a global latent whose feature shifts this
/// guide's location or logits), and its guide params (constrained values; per element of its
/// plates unless shared).
struct SweepLatent: Sendable {
    let name: String
    let family: SweepFamily
    let plates: [Int]
    let parent: Int?
    let guideParent: Int?
    let shared: Bool
    /// Per guide param (family order): values, row-major over the site's plate sizes (listed
    /// order) and the event (3 for categorical); one element (or 3) when shared.
    var guide: [[Double]]
}

/// An observation `x ~ Normal(Σ feature(parents), 0.8)` in `plates`.
struct SweepObservation: Sendable {
    let name: String
    let plates: [Int]
    let parents: [Int]
    let data: [Double]
}

/// A sweep model: plates, latents (in program order) and observations.
struct SweepModel: Sendable {
    let plates: [SweepPlate]
    var latents: [SweepLatent]
    let observations: [SweepObservation]

    static let table: [Double] = [-1, 0.5, 2]
    static let obsScale = 0.8

    // MARK: Elements

    /// The flat index, in a site's own layout, of the element at plate coordinates `at`.
    func flatIndex(_ plates: [Int], _ at: [Int: Int]) -> Int {
        plates.reduce(0) { $0 * self.plates[$1].size + at[$1]! }
    }

    /// Every element of `plates` as plate coordinates, row-major in the listed order.
    func elements(_ plates: [Int]) -> [[Int: Int]] {
        var out: [[Int: Int]] = [[:]]
        for p in plates {
            out = out.flatMap { e in (0..<self.plates[p].size).map { i in e.merging([p: i]) { $1 } } }
        }
        return out
    }

    /// The feature a latent's value contributes to other sites.
    static func feature(_ f: SweepFamily, _ z: Double) -> Double {
        f == .categorical ? table[Int(z)] : z
    }

    // MARK: Densities (written out, independent of the engine)

    static func softplus(_ x: Double) -> Double { max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }
    static func logNormal(_ x: Double, _ mu: Double, _ s: Double) -> Double {
        let u = (x - mu) / s
        return -0.5 * u * u - Foundation.log(s) - 0.5 * Foundation.log(2 * Double.pi)
    }
    static func logGamma(_ x: Double, _ a: Double, _ b: Double) -> Double {
        a * Foundation.log(b) - Foundation.lgamma(a) + (a - 1) * Foundation.log(x) - b * x
    }
    static func logBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        (a - 1) * Foundation.log(x) + (b - 1) * Foundation.log1p(-x) - (Foundation.lgamma(a) + Foundation.lgamma(b) - Foundation.lgamma(a + b))
    }
    static func logBernoulli(_ x: Double, _ logit: Double) -> Double { x * logit - softplus(logit) }
    static func logCategorical(_ k: Int, _ logits: [Double]) -> Double {
        let m = logits.max()!
        return logits[k] - m - Foundation.log(logits.map { Foundation.exp($0 - m) }.reduce(0, +))
    }

    /// log p of a latent's prior at `z`, given its parent's feature (nil: no parent).
    static func logPrior(_ f: SweepFamily, _ z: Double, parent: Double?) -> Double {
        switch f {
        case .normal: return logNormal(z, parent ?? 0.3, parent == nil ? 1.2 : 1.0)
        case .gamma: return logGamma(z, 2.0, parent.map { softplus($0) + 0.5 } ?? 1.5)
        case .beta: return logBeta(z, parent.map { softplus($0) + 1 } ?? 2.0, parent == nil ? 3.0 : 2.0)
        case .bernoulli: return logBernoulli(z, parent ?? Foundation.log(0.35 / 0.65))
        case .categorical:
            let logits = parent.map { p in [1.0, 0, -1].map { $0 * p } } ?? [0.2, 0.5, 0.3].map { Foundation.log($0) }
            return logCategorical(Int(z), logits)
        }
    }

    /// A guide's law for one element: its quadrature nodes and weights (summing to 1), or its
    /// support with probabilities for discrete families.
    static func rule(_ f: SweepFamily, _ params: [[Double]], shift: Double) -> (nodes: [Double], weights: [Double], logq: (Double) -> Double) {
        switch f {
        case .normal:
            let mu = params[0][0] + shift, s = params[1][0]
            let nodes = GaussHermite.nodes.map { mu + s * $0 }
            return (nodes, GaussHermite.weights, { logNormal($0, mu, s) })
        case .gamma:
            let a = params[0][0], b = params[1][0]
            // Trapezoid in u = log z (the density of u is smooth, log z linear in u).
            let mode = Foundation.log(a / b), width = 1 / a.squareRoot()
            return trapezoid(from: mode - 40 * width - 2, to: mode + 8 * width + 2, count: 160,
                             logDensityOfU: { u in logGamma(Foundation.exp(u), a, b) + u }, toZ: { Foundation.exp($0) },
                             logq: { logGamma($0, a, b) })
        case .beta:
            let a = params[0][0], b = params[1][0]
            let center = Foundation.log(a / b), width = (1 / a + 1 / b).squareRoot()
            return trapezoid(from: center - 40 / a - 3 * width, to: center + 40 / b + 3 * width, count: 160,
                             logDensityOfU: { u in
                                 let z = 1 / (1 + Foundation.exp(-u))
                                 return logBeta(z, a, b) + Foundation.log(z) + Foundation.log1p(-z)
                             }, toZ: { 1 / (1 + Foundation.exp(-$0)) }, logq: { logBeta($0, a, b) })
        case .bernoulli:
            let l = params[0][0] + shift
            let p1 = 1 / (1 + Foundation.exp(-l))
            return ([0, 1], [1 - p1, p1], { logBernoulli($0, l) })
        case .categorical:
            let logits = params[0]
            let probs = (0..<3).map { Foundation.exp(logCategorical($0, logits)) }
            return ([0, 1, 2], probs, { logCategorical(Int($0), logits) })
        }
    }

    static func trapezoid(from a: Double, to b: Double, count n: Int, logDensityOfU: (Double) -> Double,
                          toZ: (Double) -> Double, logq: @escaping (Double) -> Double) -> ([Double], [Double], (Double) -> Double) {
        let h = (b - a) / Double(n - 1)
        var nodes: [Double] = [], weights: [Double] = []
        for k in 0..<n {
            let u = a + h * Double(k)
            let w = Foundation.exp(logDensityOfU(u)) * h
            guard w > 0, w.isFinite else { continue }
            nodes.append(toZ(u)); weights.append(w)
        }
        let total = weights.reduce(0, +)
        return (nodes, weights.map { $0 / total }, logq)
    }

    // MARK: The expected ELBO

    /// A latent's guide params for one element (per-element or shared).
    func guideParams(_ l: SweepLatent, _ at: [Int: Int]) -> [[Double]] {
        let e = l.family.event
        let k = l.shared ? 0 : flatIndex(l.plates, at)
        return l.guide.map { Array($0[(k * e)..<(k * e + e)]) }
    }

    /// E_q[log p(x, z) − log q(z)] in closed form by quadrature and enumeration.
    func expectedELBO() -> Double {
        var total = 0.0
        for (i, l) in latents.enumerated() {
            for at in elements(l.plates) {
                // log p(z_i | parent) − log q(z_i): over z_i, its parent's element and their guide parents.
                total += expectation(of: [(i, at)] + (l.parent.map { [($0, at)] } ?? [])) { z, logq in
                    let parent = l.parent.map { Self.feature(latents[$0].family, z[1]) }
                    return Self.logPrior(l.family, z[0], parent: parent) - logq[0](z[0])
                }
            }
        }
        for o in observations {
            for at in elements(o.plates) {
                let x = o.data[flatIndex(o.plates, at)]
                total += expectation(of: o.parents.map { ($0, at) }) { z, _ in
                    let loc = zip(o.parents, z).map { Self.feature(latents[$0].family, $1) }.reduce(0, +)
                    return Self.logNormal(x, loc, Self.obsScale)
                }
            }
        }
        return total
    }

    /// E_q[f(z)] over the listed latent elements (each `(latent, coordinates)`; the coordinates
    /// are projected onto the latent's plates). A guide parent is integrated first; the listed
    /// elements are independent given it. `f` sees the values in the listed order and each
    /// one's guide log-density (given the guide parent's value).
    func expectation(of vars: [(Int, [Int: Int])], _ f: (_ z: [Double], _ logq: [(Double) -> Double]) -> Double) -> Double {
        let guideParents = Array(Set(vars.compactMap { latents[$0.0].guideParent }))
        var outer: [(z: Double, w: Double, logq: (Double) -> Double)] = [(0, 1, { _ in 0 })]
        if let g = guideParents.first {
            let r = Self.rule(latents[g].family, guideParams(latents[g], [:]), shift: 0)
            outer = zip(r.nodes, r.weights).map { ($0, $1, r.logq) }
        }
        var sum = 0.0
        for (zg, wg, logqG) in outer {
            var rules: [(nodes: [Double], weights: [Double])] = []
            var logqs: [(Double) -> Double] = []
            for (i, at) in vars {
                let l = latents[i]
                if let g = guideParents.first, i == g {
                    rules.append(([zg], [1])); logqs.append(logqG); continue
                }
                let shift = l.guideParent.map { 0.5 * Self.feature(latents[$0].family, zg) } ?? 0
                let r = Self.rule(l.family, guideParams(l, at), shift: shift)
                rules.append((r.nodes, r.weights)); logqs.append(r.logq)
            }
            sum += wg * nested(rules, 0, []) { f($0, logqs) }
        }
        return sum
    }

    private func nested(_ rules: [(nodes: [Double], weights: [Double])], _ k: Int, _ z: [Double], _ f: ([Double]) -> Double) -> Double {
        guard k < rules.count else { return f(z) }
        var s = 0.0
        for (x, w) in zip(rules[k].nodes, rules[k].weights) where w > 0 {
            s += w * nested(rules, k + 1, z + [x], f)
        }
        return s
    }

    // MARK: Gradient

    /// d(−ELBO)/d(unconstrained guide param element) by central differences of the exact
    /// expectation, per guide param in program order (name `\(latent)_\(suffix)`).
    func exactLossGradient(step h: Double = 1e-5) -> [(name: String, gradient: [Double])] {
        var out: [(String, [Double])] = []
        for (i, l) in latents.enumerated() {
            for (j, p) in l.family.guideParams.enumerated() {
                var g: [Double] = []
                for k in l.guide[j].indices {
                    var plus = self, minus = self
                    let u = p.positive ? Foundation.log(l.guide[j][k]) : l.guide[j][k]
                    plus.latents[i].guide[j][k] = p.positive ? Foundation.exp(u + h) : u + h
                    minus.latents[i].guide[j][k] = p.positive ? Foundation.exp(u - h) : u - h
                    g.append(-(plus.expectedELBO() - minus.expectedELBO()) / (2 * h))
                }
                out.append(("\(l.name)_\(p.suffix)", g))
            }
        }
        return out
    }
}

/// Gauss–Hermite quadrature for the standard normal (probabilists' weight), 32 nodes, by the
/// Golub–Welsch eigenvalue method.
enum GaussHermite {
    static let (nodes, weights): ([Double], [Double]) = {
        let n = 32
        var j = Tensor.zeros([n, n])
        for k in 1..<n {
            let b = Double(k).squareRoot()
            j.scalars[k * n + k - 1] = b
            j.scalars[(k - 1) * n + k] = b
        }
        let (values, vectors) = LinearAlgebra.symmetricEigen(j)
        let w = (0..<n).map { c in vectors.scalars[c] * vectors.scalars[c] }
        let total = w.reduce(0, +)
        return (values, w.map { $0 / total })
    }()
}
