import Foundation
import TestSupport

/// Small random models for the combination sweep (1–2 latent sites of any sweep family, in no,
/// one or two nested plates listed in either order, subsampled or not, with shared or
/// per-element guide params, prior and guide dependencies), and their job specs with a chosen
/// estimator per site and ELBO.
enum SweepGenerator {
    static let plates = [SweepPlate(name: "p", size: 2, subsample: nil), SweepPlate(name: "q", size: 3, subsample: nil)]

    /// Estimators a site of each family admits, as the spec writes them.
    static func estimators(_ f: SweepFamily) -> [String] {
        switch f {
        case .normal: ["reparam", "score_none", "score_decaying", "score_loo", "score_learned"]
        case .gamma, .beta: ["reparam", "score_decaying", "score_loo"]
        case .bernoulli: ["enum", "score_none", "score_decaying", "score_loo", "score_learned"]
        case .categorical: ["enum", "score_decaying", "score_loo", "score_none"]
        }
    }

    /// ELBO choices: (elbo, analytic entropy).
    static let elbos: [(String, Bool)] = [("trace", false), ("tracegraph", false), ("meanfield", false), ("tracegraph", true), ("trace", true)]

    static func models(count: Int, seed: UInt64) -> [SweepModel] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { k in model(template: k % 4, &rng) }
    }

    static func uniform(_ rng: inout SplitMix64, _ a: Double, _ b: Double) -> Double {
        a + (b - a) * Double(rng.next() >> 11) / Double(1 << 53)
    }

    static func guideValues(_ f: SweepFamily, _ count: Int, _ rng: inout SplitMix64) -> [[Double]] {
        func draw(_ a: Double, _ b: Double, _ n: Int) -> [Double] { (0..<n).map { _ in uniform(&rng, a, b) } }
        switch f {
        case .normal: return [draw(-0.5, 0.5, count), draw(0.6, 1.2, count)]
        // Concentrations of exactly 1 now and then: the (α − 1) log z term's gradient at α − 1 = 0.
        case .gamma: return [draw(2, 4, count).map { rng.next() % 4 == 0 ? 1 : $0 }, draw(1, 2, count)]
        case .beta: return [draw(1.5, 3.5, count).map { rng.next() % 4 == 0 ? 1 : $0 }, draw(1.5, 3.5, count)]
        case .bernoulli: return [draw(-1, 1, count)]
        case .categorical: return [draw(-1, 1, 3 * count)]
        }
    }

    static func model(template: Int, _ rng: inout SplitMix64) -> SweepModel {
        let families = SweepFamily.allCases
        func family() -> SweepFamily { families[Int(rng.next() % UInt64(families.count))] }
        func coin() -> Bool { rng.next() % 2 == 0 }
        // Plates, one of them subsampled half of the time.
        var ps = plates
        switch rng.next() % 4 {
        case 0: ps[0] = SweepPlate(name: "p", size: 2, subsample: 1)
        case 1: ps[1] = SweepPlate(name: "q", size: 3, subsample: 2)
        default: break
        }
        func elementCount(_ sitePlates: [Int]) -> Int { sitePlates.reduce(1) { $0 * ps[$1].size } }
        func latent(_ name: String, _ f: SweepFamily, _ sitePlates: [Int], parent: Int?, guideParent: Int?) -> SweepLatent {
            let shared = sitePlates.isEmpty || coin()
            return SweepLatent(name: name, family: f, plates: sitePlates, parent: parent,
                               guideParent: (f == .normal || f == .bernoulli) ? guideParent : nil, shared: shared,
                               guide: guideValues(f, shared ? 1 : elementCount(sitePlates), &rng))
        }
        func observation(_ sitePlates: [Int], _ parents: [Int]) -> SweepObservation {
            SweepObservation(name: "x", plates: sitePlates, parents: parents,
                             data: (0..<elementCount(sitePlates)).map { _ in uniform(&rng, -1.5, 2.5) })
        }
        let nested = coin() ? [0, 1] : [1, 0]
        switch template {
        case 0:
            // One latent, in no plate, one plate or two, observed in its plates (or a deeper nest).
            let sitePlates = [[], [0], nested][Int(rng.next() % 3)]
            let obsPlates = sitePlates == [0] && coin() ? nested : sitePlates
            return SweepModel(plates: ps, latents: [latent("a", family(), sitePlates, parent: nil, guideParent: nil)],
                              observations: [observation(obsPlates, [0])])
        case 1:
            // A global latent feeding a local one's prior (and maybe its guide).
            let local = coin() ? [0] : nested
            return SweepModel(plates: ps, latents: [latent("a", family(), [], parent: nil, guideParent: nil),
                                                    latent("b", family(), local, parent: 0, guideParent: coin() ? 0 : nil)],
                              observations: [observation(local, [1])])
        case 2:
            // A per-group latent feeding a per-unit one in nested plates.
            return SweepModel(plates: ps, latents: [latent("a", family(), [0], parent: nil, guideParent: nil),
                                                    latent("b", family(), nested, parent: 0, guideParent: nil)],
                              observations: [observation(nested, [1])])
        default:
            // A global and a local latent, independent a priori, both in the likelihood.
            let local = coin() ? [0] : [1]
            return SweepModel(plates: ps, latents: [latent("a", family(), [], parent: nil, guideParent: nil),
                                                    latent("b", family(), local, parent: nil, guideParent: coin() ? 0 : nil)],
                              observations: [observation(local, [0, 1])])
        }
    }

    // MARK: Specs

    /// The values of `flat` nested by `shape` (row-major).
    static func nest(_ flat: [Double], _ shape: [Int]) -> Any {
        guard let first = shape.first else { return flat[0] }
        let inner = shape.dropFirst().reduce(1, *)
        return (0..<first).map { i in nest(Array(flat[(i * inner)..<((i + 1) * inner)]), Array(shape.dropFirst())) }
    }

    static func feature(_ m: SweepModel, _ i: Int) -> String {
        m.latents[i].family == .categorical ? "tab[\(m.latents[i].name)]" : m.latents[i].name
    }

    static func estimatorJSON(_ e: String) -> Any {
        switch e {
        case "score_none": "score"
        case "score_decaying": ["name": "score", "baseline": ["decaying_avg": 0.9]] as [String: Any]
        case "score_loo": ["name": "score", "baseline": "loo"] as [String: Any]
        case "score_learned": ["name": "score", "baseline": ["learned": ["inputs": ["bf"], "hidden": 0]]] as [String: Any]
        default: e
        }
    }

    /// The job spec of `m` with estimator `estimators[i]` on latent `i`, and an ELBO.
    static func spec(_ m: SweepModel, estimators: [String], elbo: (String, Bool), seed: Int) -> [String: Any] {
        let names = m.plates.map(\.name)
        var data: [String: Any] = ["tab": SweepModel.table, "c3": [1.0, 0.0, -1.0]]
        var plates: [String: Any] = [:]
        for p in m.plates { plates[p.name] = p.subsample.map { ["size": p.size, "subsample": $0] } ?? ["size": p.size] }
        var model: [[String: Any]] = [], guide: [[String: Any]] = []
        for (i, l) in m.latents.enumerated() {
            let sitePlates = l.plates.map { names[$0] }
            let fp = l.parent.map { feature(m, $0) }
            let prior: [String: Any]
            switch l.family {
            case .normal: prior = fp.map { ["loc": $0, "scale": 1.0] } ?? ["loc": 0.3, "scale": 1.2]
            case .gamma: prior = ["concentration": 2.0, "rate": fp.map { "softplus(\($0)) + 0.5" } ?? 1.5]
            case .beta: prior = fp.map { ["concentration1": "softplus(\($0)) + 1", "concentration0": 2.0] } ?? ["concentration1": 2.0, "concentration0": 3.0]
            case .bernoulli: prior = ["logits": fp ?? Foundation.log(0.35 / 0.65)]
            case .categorical: prior = fp.map { ["logits": "unsqueeze(\($0), -1) * c3"] } ?? ["probs": [0.2, 0.5, 0.3]]
            }
            model.append(["sample": l.name, "dist": distName(l.family), "args": prior, "plates": sitePlates])
            // Guide params, then the guide site.
            let shape = l.shared ? [] : l.plates.map { m.plates[$0].size }
            for (j, p) in l.family.guideParams.enumerated() {
                var param: [String: Any] = ["param": "\(l.name)_\(p.suffix)", "init": nest(l.guide[j], shape + (l.family == .categorical ? [3] : []))]
                if p.positive { param["constraint"] = "positive" }
                if !l.shared { param["plates"] = sitePlates }
                guide.append(param)
            }
            let shift = l.guideParent.map { " + 0.5 * \(feature(m, $0))" } ?? ""
            let args: [String: Any]
            switch l.family {
            case .normal: args = ["loc": "\(l.name)_loc\(shift)", "scale": "\(l.name)_scale"]
            case .gamma: args = ["concentration": "\(l.name)_concentration", "rate": "\(l.name)_rate"]
            case .beta: args = ["concentration1": "\(l.name)_c1", "concentration0": "\(l.name)_c0"]
            case .bernoulli: args = ["logits": "\(l.name)_logits\(shift)"]
            case .categorical: args = ["logits": "\(l.name)_logits"]
            }
            guide.append(["sample": l.name, "dist": distName(l.family), "args": args, "plates": sitePlates,
                          "estimator": estimatorJSON(estimators[i])])
            if estimators[i] == "score_learned" {
                // The learned baseline's input: one feature per element of the site's plates.
                let count = l.plates.reduce(1) { $0 * m.plates[$1].size }
                let values = nest((0..<count).map { Double($0 % 3) - 0.5 }, l.plates.map { m.plates[$0].size } + [1])
                data["bf"] = l.plates.isEmpty ? [0.5] as Any : ["value": values, "plates": sitePlates] as Any
            }
        }
        for o in m.observations {
            let shape = o.plates.map { m.plates[$0].size }
            data[o.name] = o.plates.isEmpty ? o.data[0] as Any : ["value": nest(o.data, shape), "plates": o.plates.map { names[$0] }] as Any
            model.append(["sample": "\(o.name)_obs", "dist": "Normal",
                          "args": ["loc": o.parents.map { feature(m, $0) }.joined(separator: " + "), "scale": SweepModel.obsScale],
                          "plates": o.plates.map { names[$0] }, "obs": o.name])
        }
        let particles = estimators.contains("score_loo") ? 3 : 1
        return ["data": data, "plates": plates, "model": model, "guide": guide,
                "inference": ["elbo": elbo.0, "entropy": elbo.1 ? "analytic" : "monte_carlo", "particles": particles, "seed": seed]]
    }

    static func distName(_ f: SweepFamily) -> String {
        switch f {
        case .normal: "Normal"
        case .gamma: "Gamma"
        case .beta: "Beta"
        case .bernoulli: "Bernoulli"
        case .categorical: "Categorical"
        }
    }
}
