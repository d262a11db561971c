import Autodiff
import Numerics

/// Lays the ELBO's terms out on one grid, `[K|1, P|1] + one axis per declared plate`, and
/// answers which guide draws a node depends on. The node's engine axes come first (`[K, P|1]`
/// when it depends on an enumerated site, `[P]` when it depends on a draw); its plate axes
/// follow in the site's listed order and are right-aligned, so a term constant along some of
/// the site's plates (a KL of guide parameters shared across a plate, an enumerated value) is
/// broadcast there and a sum still counts every element. Plate axes are then put in
/// declaration order.
struct TermLayout {
    let graph: Graph
    let guideSites: [GuideSite]
    /// Indices of the enumerated guide sites.
    let enumerated: [Int]
    /// Every plate, in declaration order.
    let plates: [Plate]
    let particles: Int
    /// Dependence of every node on every guide draw, recomputed when asked about a node built
    /// after it (the closed-form KL and entropy terms are built while terms are laid out).
    private var dependence: [[Bool]]

    init(graph: Graph, guideSites: [GuideSite], plates: [Plate], particles: Int) {
        self.graph = graph; self.guideSites = guideSites; self.plates = plates; self.particles = particles
        enumerated = guideSites.indices.filter { guideSites[$0].estimator == .enumerate }
        dependence = guideSites.map { graph.dependence(on: $0.drawSources) }
    }

    mutating func depends(_ node: Node, on site: Int) -> Bool {
        if node.id >= dependence[site].count { dependence = guideSites.map { graph.dependence(on: $0.drawSources) } }
        return dependence[site][node.id]
    }

    /// Whether any of `nodes` depends on a guide draw (enumerated or not).
    mutating func dependsOnAnyDraw(_ nodes: [Node]) -> Bool {
        for n in nodes {
            for s in guideSites.indices where depends(n, on: s) { return true }
        }
        return false
    }

    /// A site's log-density (or closed form) as a signed, scaled ``Term``.
    mutating func term(_ node: Node, site: String, sign: Double, plates sitePlates: [Plate], kind: Term.Kind) throws(ProgramError) -> Term {
        let (laid, hasP, e, deps) = try layout(node, site: site, plates: sitePlates)
        return Term(site: site, sign: sign, scale: Self.scale(sitePlates), node: laid, hasParticles: hasP,
                    plates: sitePlates, enumerated: e, dependsOn: deps, kind: kind)
    }

    /// The node on the grid, whether it carries the particles, the enumerated site it depends
    /// on, and which guide draws it depends on.
    mutating func layout(_ node: Node, site: String, plates sitePlates: [Plate]) throws(ProgramError) -> (Node, Bool, String?, [Bool]) {
        var enumSites: [Int] = []
        for e in enumerated where depends(node, on: e) { enumSites.append(e) }
        guard enumSites.count <= 1 else {
            throw .estimatorMismatch(site: site, "depends on two enumerated sites (\(enumSites.map { "'\(guideSites[$0].name)'" }.joined(separator: ", "))); enumerate at most one of them")
        }
        var drawn = false
        for s in guideSites.indices where !enumerated.contains(s) && depends(node, on: s) { drawn = true; break }
        let sizes = sitePlates.map(\.batchSize)
        let lead: [Int]
        if !enumSites.isEmpty {
            guard node.rank >= 2 else {
                throw .plateMismatch(site: site, "its log-density has shape \(node.shape), but a term of an enumerated site needs [values, particles] + plates")
            }
            lead = [node.shape[0], drawn ? particles : 1]
        } else {
            lead = drawn ? [particles] : []
        }
        let body = Array(node.shape.dropFirst(lead.count))
        let expected = lead + sizes
        let aligned = Array(node.shape.prefix(lead.count)) + Array(repeating: 1, count: max(0, sizes.count - body.count)) + body
        guard body.count <= sizes.count, node.shape.prefix(lead.count).elementsEqual(lead) || !enumSites.isEmpty,
              (try? Shape.broadcast(aligned, expected)) == expected else {
            throw .plateMismatch(site: site, Self.plateMismatchMessage(node.shape, lead: lead, plates: sitePlates))
        }
        var full = node.shape == expected ? node : graph.broadcast(aligned == node.shape ? node : graph.reshape(node, aligned), to: expected)
        // Plate axes from the site's listed order to declaration order.
        let declared = sitePlates.indices.sorted { sitePlates[$0].position < sitePlates[$1].position }
        if declared != Array(sitePlates.indices) {
            full = graph.permute(full, Array(lead.indices) + declared.map { lead.count + $0 })
        }
        var shape = lead.count == 2 ? lead : [1] + (lead.isEmpty ? [1] : lead)
        for plate in plates { shape.append(sitePlates.contains(plate) ? plate.batchSize : 1) }
        var deps: [Bool] = []
        for s in guideSites.indices { deps.append(depends(node, on: s)) }
        return (graph.reshape(full, shape), drawn, enumSites.first.map { guideSites[$0].name }, deps)
    }

    /// The shape of one value per element of `sitePlates` on the grid: `[1, 1] + plates`.
    func siteShape(_ sitePlates: [Plate]) -> [Int] {
        [1, 1] + plates.map { sitePlates.contains($0) ? $0.batchSize : 1 }
    }

    /// The product of the plates' subsample scales.
    static func scale(_ ps: [Plate]) -> Double { ps.reduce(1) { $0 * $1.scale } }

    /// A term summed over every axis, signed, scaled and averaged over particles.
    func total(_ t: Term) -> Node { graph.sum(t.node) * (t.sign * t.scale / Double(t.hasParticles ? particles : 1)) }

    /// A term summed down to `sitePlates` (layout kept), signed and scaled.
    func reduced(_ t: Term, to sitePlates: [Plate]) -> Node {
        let axes = plates.filter { !sitePlates.contains($0) && t.plates.contains($0) }.map { 2 + $0.position }
        let r = axes.isEmpty ? t.node : graph.sum(t.node, axes: axes, keepDims: true)
        return r * (t.sign * t.scale)
    }

    /// Why a site's log-density does not fit its plates, in the user's terms (per particle).
    static func plateMismatchMessage(_ shape: [Int], lead: [Int], plates sitePlates: [Plate]) -> String {
        let body = Array(shape.dropFirst(lead.count))
        let listed = sitePlates.map { "'\($0.name)' (\($0.batchSize))" }.joined(separator: ", ")
        if body.count > sitePlates.count {
            return "its log-density has shape \(body) per particle, more axes than its plates \(sitePlates.isEmpty ? "(none)" : listed): list every plate the site lies in, or mark trailing axes as event axes with event_dims"
        }
        let subsampled = sitePlates.contains { $0.subsample != nil }
            ? "; data along a subsampled plate is cut to the step's rows along its first axis, or along any axis of data and params that declare their plates ({\"value\": …, \"plates\": […]})" : ""
        return "its log-density has shape \(body) per particle, which does not fit its plates \(sitePlates.isEmpty ? "(none)" : listed): an argument or the observation has a length that differs from its plate's size\(subsampled)"
    }
}
