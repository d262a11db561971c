import Autodiff

/// One log-density term of the ELBO, laid out as `[K | 1, P | 1] + one axis per plate`.
struct Term {
    let site: String
    /// +1 for model terms, −1 for guide terms.
    let sign: Double
    /// Product of the site's plates' subsample scales.
    let scale: Double
    /// The term in the canonical layout.
    let node: Node
    let hasParticles: Bool
    let plates: [Plate]
    /// The enumerated guide site the term depends on, if any.
    let enumerated: String?
    /// For each guide site (program order), whether the term depends on its draw.
    let dependsOn: [Bool]
    /// What the term is.
    let kind: Kind

    /// A model log-density, a guide log-density, or a closed form standing in for a pair.
    enum Kind { case model, guide, kl, entropy }

    /// How a divergence report names the term.
    var label: String {
        switch kind {
        case .model: "model site '\(site)'"
        case .guide: "guide site '\(site)'"
        case .kl: "the KL of site '\(site)'"
        case .entropy: "the entropy of site '\(site)'"
        }
    }
}
