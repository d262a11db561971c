import Autodiff
import Numerics

/// A Gaussian as numbers: `batch` independent normals of dimension `dimension` (a batched
/// MultivariateNormal site has one per batch element; any other site has one), each with its
/// mean and either a diagonal spread or a full covariance.
struct GaussianValue {
    enum Spread {
        /// Standard deviations, `batch × dimension`.
        case diagonal([Double])
        /// One covariance per batch element, or a single one shared by all.
        case full([Tensor])
    }
    let batch: Int
    let dimension: Int
    /// `batch × dimension` means.
    let mean: [Double]
    let spread: Spread

    func mean(_ b: Int) -> [Double] { Array(mean[(b * dimension)..<((b + 1) * dimension)]) }

    /// The covariance of batch element `b` as a D×D matrix.
    func covariance(_ b: Int) -> Tensor {
        switch spread {
        case let .diagonal(sd):
            var c = Tensor.zeros([dimension, dimension])
            for i in 0..<dimension { c.scalars[i * dimension + i] = sd[b * dimension + i] * sd[b * dimension + i] }
            return c
        case let .full(covs):
            return covs.count == 1 ? covs[0] : covs[b]
        }
    }

    /// The lower Cholesky factor of batch element `b`'s covariance (nil for a diagonal spread).
    func choleskyFactor(_ b: Int) -> Tensor? {
        guard case .full = spread else { return nil }
        return try? LinearAlgebra.cholesky(covariance(b))
    }

    var isDiagonal: Bool { if case .diagonal = spread { true } else { false } }
}

/// W₂ and the maps between a fitted guide q and a reference p of the same layout.
struct TransportComparison {
    let parts: W2Parts
    /// Per batch element (more than one only for batched MultivariateNormal sites).
    let batchParts: [W2Parts]
    /// Per batch element: the linear part (D×D, or the diagonal when both are diagonal).
    let maps: [(a: Tensor?, diagonal: [Double]?)]

    init(parts: W2Parts, batchParts: [W2Parts], maps: [(a: Tensor?, diagonal: [Double]?)]) {
        self.parts = parts; self.batchParts = batchParts; self.maps = maps
    }

    /// Compares q with p; throws when a covariance is not positive definite.
    init(_ q: GaussianValue, _ p: GaussianValue, withMaps: Bool) throws(GaussianTransportError) {
        precondition(q.batch == p.batch && q.dimension == p.dimension, "reference layout differs from the site's")
        if case let .diagonal(sq) = q.spread, case let .diagonal(sp) = p.spread, q.batch == 1 {
            let (parts, diagonal) = try GaussianTransport.diagonal(meanQ: q.mean, scaleQ: sq, meanP: p.mean, scaleP: sp)
            self.parts = parts; batchParts = [parts]; maps = withMaps ? [(nil, diagonal)] : []
            return
        }
        var total = W2Parts(meanSquared: 0, covarianceSquared: 0)
        var batchParts: [W2Parts] = [], maps: [(Tensor?, [Double]?)] = []
        for b in 0..<q.batch {
            let meanQ = Tensor(q.mean(b)), meanP = Tensor(p.mean(b))
            if withMaps {
                let (parts, map) = try GaussianTransport.solve(meanQ: meanQ, covQ: q.covariance(b), meanP: meanP, covP: p.covariance(b))
                batchParts.append(parts); maps.append((map.A, nil))
            } else {
                batchParts.append(try GaussianTransport.w2Parts(meanQ: meanQ, covQ: q.covariance(b), meanP: meanP, covP: p.covariance(b)))
            }
            total = total + batchParts[b]
        }
        parts = total; self.batchParts = batchParts; self.maps = maps
    }
}

/// Where a Gaussian's numbers are on a tape: the guide's (or a prior's) parameter nodes.
enum GaussianNodes {
    /// A Normal over every element of a value of `shape` (one diagonal Gaussian).
    case diagonal(loc: Node, scale: Node, shape: [Int])
    /// A MultivariateNormal: `batch` shape + `[dimension]` values, one shared factor.
    case full(loc: Node, scaleTril: Node, batch: [Int], dimension: Int)
    /// AutoNormal as a whole: every site's unconstrained locs and scales, flattened and joined.
    case joined([(loc: Node, scale: Node, count: Int)])

    var nodes: [Node] {
        switch self {
        case let .diagonal(loc, scale, _): [loc, scale]
        case let .full(loc, tril, _, _): [loc, tril]
        case let .joined(parts): parts.flatMap { [$0.loc, $0.scale] }
        }
    }

    /// (batch elements, dimension) of the Gaussian.
    var layout: (batch: Int, dimension: Int) {
        switch self {
        case let .diagonal(_, _, shape): (1, Shape.count(shape))
        case let .full(_, _, batch, d): (Shape.count(batch), d)
        case let .joined(parts): (1, parts.reduce(0) { $0 + $1.count })
        }
    }

    /// The numbers, read from a tape that holds every node of `nodes`; nil when a value does
    /// not broadcast to the layout (which compilation rules out).
    func value(on tape: Tape) -> GaussianValue? {
        switch self {
        case let .diagonal(loc, scale, shape):
            guard let m = try? tape.value(of: loc).broadcast(to: shape), let s = try? tape.value(of: scale).broadcast(to: shape) else { return nil }
            return GaussianValue(batch: 1, dimension: Shape.count(shape), mean: m.scalars, spread: .diagonal(s.scalars))
        case let .full(loc, tril, batch, d):
            guard let m = try? tape.value(of: loc).broadcast(to: batch + [d]) else { return nil }
            let l = tape.value(of: tril)
            return GaussianValue(batch: Shape.count(batch), dimension: d, mean: m.scalars,
                                 spread: .full([LinearAlgebra.matmul(l, LinearAlgebra.transpose(l))]))
        case let .joined(parts):
            var mean: [Double] = [], sd: [Double] = []
            for part in parts {
                let m = tape.value(of: part.loc), s = tape.value(of: part.scale)
                guard m.count == part.count, s.count == part.count else { return nil }
                mean += m.scalars; sd += s.scalars
            }
            return GaussianValue(batch: 1, dimension: mean.count, mean: mean, spread: .diagonal(sd))
        }
    }
}
