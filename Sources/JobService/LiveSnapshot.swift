import Foundation
import Inference
import ModelSpec
import Numerics

/// What a running job shows besides its ELBO (the `params` event): each latent site's
/// estimator with a running mean and sd of its first elements, from the draws of the steps it
/// has seen, and the current constrained params (their first values). Read from the job's tape
/// between steps, so it costs a few element reads per report and nothing on the hot path.
final class LiveSnapshot {
    /// Elements reported per site or param.
    static let elements = 8
    /// Weight of the newest report in the running moments.
    static let weight = 0.2

    private let job: CompiledJob
    private var first: [Double]?
    private var moments: [(mean: [Double], square: [Double])?]

    init(_ job: CompiledJob) {
        self.job = job
        moments = Array(repeating: nil, count: job.sites.count)
    }

    /// Folds the draws of the step just taken into each site's running moments.
    func observe() {
        for (k, site) in job.sites.enumerated() where site.estimator != .enumerate {
            guard let values = job.program.values(of: site.value) else { continue }
            let perDraw = max(Shape.count(site.shape), 1)
            let draws = values.count / perDraw
            let n = min(perDraw, Self.elements)
            guard draws > 0, n > 0 else { continue }
            var mean = [Double](repeating: 0, count: n), square = mean
            for d in 0..<draws {
                for j in 0..<n {
                    let x = values[d * perDraw + j]
                    mean[j] += x / Double(draws); square[j] += x * x / Double(draws)
                }
            }
            guard mean.allSatisfy(\.isFinite), square.allSatisfy(\.isFinite) else { continue }
            if let old = moments[k] {
                let w = Self.weight
                moments[k] = (zip(old.mean, mean).map { (1 - w) * $0 + w * $1 }, zip(old.square, square).map { (1 - w) * $0 + w * $1 })
            } else {
                moments[k] = (mean, square)
            }
        }
    }

    /// The `params` event's snapshot at `step`.
    func event(step: Int) -> JobSnapshot {
        let sites = job.sites.enumerated().map { k, site in
            let m = moments[k]
            return JobSnapshot.Site(site: site.name, estimator: site.estimator.label, shape: site.shape, mean: m?.mean ?? [],
                        sd: m.map { zip($0.square, $0.mean).map { max($0 - $1 * $1, 0).squareRoot() } } ?? [])
        }
        let params = job.program.parameters.filter { $0.role == .program }.compactMap { p -> JobSnapshot.Param? in
            guard let raw = job.program.value(of: p.raw) else { return nil }
            let value = p.transform.forward(raw)
            return JobSnapshot.Param(name: p.name, shape: value.shape, values: Array(value.scalars.prefix(Self.elements)))
        }
        return JobSnapshot(step: step, sites: sites, params: params)
    }
}

/// What a running job shows besides its ELBO, at one step (the `params` event): each latent
/// site's estimator with a running mean and sd of its first elements, and the first values of
/// the current constrained params.
public struct JobSnapshot: Codable, Equatable, Sendable {
    /// One latent site's running moments.
    public struct Site: Codable, Equatable, Sendable {
        public let site: String, estimator: String, shape: [Int]
        public var mean: [Double], sd: [Double]
    }

    /// One param's first values.
    public struct Param: Codable, Equatable, Sendable {
        public let name: String, shape: [Int], values: [Double]
    }

    public let step: Int
    public let sites: [Site]
    public let params: [Param]
}
