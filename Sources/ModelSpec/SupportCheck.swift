import Autodiff
import Distributions
import Inference

/// Whether a guide's draws stay in its model site's support — Pyro's "Expected value … within
/// the support" check. Statically, where both supports are known, a guide whose support is
/// not within the model site's is refused when the spec is validated; the draws of every
/// other guide are checked at each step (``DrawSupportCheck``).
enum SupportFit {
    /// The support a guide law's draws are known to stay in, or nil when its declared support
    /// is only an outer bound (a Delta at any value, a Uniform or Binomial whose bounds are
    /// computed).
    static func exactSupport(_ dist: any Distribution) -> Constraint? {
        switch dist {
        case let d as Independent: return exactSupport(d.base)
        case is Delta: return nil
        case let d as Uniform: if case .interval = d.support { return d.support } else { return nil }
        case let d as Binomial: if case .integerInterval = d.support { return d.support } else { return nil }
        default: return dist.support
        }
    }

    /// Why the guide law of site `site` cannot serve the model law (its support is not within
    /// the model's), or nil.
    static func problem(site: String, guide: any Distribution, guideName: String, model: any Distribution, modelName: String) -> String? {
        guard let g = exactSupport(guide), g.isWithin(model.support) == false else { return nil }
        return "the guide's site '\(site)' draws from \(guideName) (support \(g)), but the model's site '\(site)' is \(modelName) with support \(model.support): "
            + "its draws would leave the support (Pyro: \"Expected value argument … to be within the support\"). "
            + "Use a guide law with draws in \(model.support) — e.g. \(model.support.suggestedGuides) — or an autoguide ({\"auto\": \"normal\"}), which maps the site through biject_to"
    }
}

/// The per-step check of guide draws against their model site's support, for the sites
/// whose guide support is not known statically to lie within it. Reads the tape's values in
/// place after a replay: no allocation, one comparison per drawn number.
struct DrawSupportCheck {
    struct Site {
        let name: String
        let value: Node
        let support: Constraint
        let eventSize: Int
        let guideName: String
        let modelName: String
    }
    let sites: [Site]

    init(_ job: CompiledJob) {
        sites = job.sites.compactMap { s in
            guard let guide = s.guide, let prior = s.prior else { return nil }
            switch s.estimator {
            case .relaxed, .straightThrough, .enumerate: return nil
            default: break
            }
            let support = prior.support
            if support == .real || support == .realVector || support == .lowerCholesky || support == .positiveDefinite { return nil }
            if let g = SupportFit.exactSupport(guide), g.isWithin(support) == true { return nil }
            return Site(name: s.name, value: s.value, support: support, eventSize: prior.eventShape.last ?? 1,
                        guideName: s.distribution, modelName: prior.name)
        }
    }

    /// The first draw of the program's last replay outside its site's support, described, or nil.
    func violation(in program: CompiledProgram, step: Int) -> String? {
        for s in sites {
            guard let values = program.values(of: s.value), let i = s.support.firstViolation(in: values, eventSize: s.eventSize) else { continue }
            return "the guide's site '\(s.name)' (\(s.guideName)) drew \(values[i]) (element \(i) of the step's draws), "
                + "outside the support of the model's site '\(s.name)' (\(s.modelName): \(s.support)) at step \(step). "
                + "Use a guide law with draws in \(s.support) — e.g. \(s.support.suggestedGuides) — or an autoguide ({\"auto\": \"normal\"})"
        }
        return nil
    }
}
