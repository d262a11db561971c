import Autodiff
import Numerics

/// A decaying-average baseline's state: `state` (an input node, the old average, per plate
/// element) is what the step uses; after it, `state ← β·state + (1−β)·costMean`.
struct DecayingBaseline {
    let site: String
    let state: Node
    let costMean: Node
    let beta: Double
}

extension ProgramBuilder {
    /// The baseline of a score site, one value per plate element and particle where it varies
    /// (`shape` is `[1, 1] + plates` on the term grid): none, a decaying average of the cost
    /// (whose state is appended to `decaying`), the mean of the other particles' costs, or a
    /// learned regression.
    func baseline(_ kind: Baseline, for g: GuideSite, cost c: Node, shape siteShape: [Int],
                  into decaying: inout [DecayingBaseline]) throws(ProgramError) -> Node {
        let P = particles
        switch kind {
        case .none:
            return graph.constant(0)
        case let .decayingAverage(beta):
            guard beta >= 0 && beta < 1 else { throw .estimatorMismatch(site: g.name, "decaying_avg β must lie in [0, 1), got \(beta)") }
            let state = graph.input("\(g.name).baseline", shape: siteShape)
            let costs = graph.broadcast(c, to: [1, P] + Array(siteShape.dropFirst(2)))
            let mean = graph.sum(costs, axes: [1], keepDims: true) * (1 / Double(P))
            decaying.append(DecayingBaseline(site: g.name, state: state, costMean: mean, beta: beta))
            return state
        case .leaveOneOut:
            guard P >= 2 else { throw .estimatorMismatch(site: g.name, "the leave-one-out baseline needs at least 2 particles") }
            let full = graph.broadcast(c, to: [1, P] + Array(siteShape.dropFirst(2)))
            return (graph.sum(full, axes: [1], keepDims: true) - full) * (1 / Double(P - 1))
        case let .learned(inputs, hidden):
            return try learnedBaseline(g, inputs: inputs, hidden: hidden, shape: siteShape)
        }
    }

    /// Pyro's `nn_baseline`: a linear map (hidden = 0) or one tanh layer of the named features,
    /// each `plates + [features]`, giving one baseline value per plate element.
    func learnedBaseline(_ g: GuideSite, inputs: [String], hidden: Int, shape: [Int]) throws(ProgramError) -> Node {
        guard !inputs.isEmpty else { throw .estimatorMismatch(site: g.name, "a learned baseline needs at least one input") }
        let sizes = g.plates.map(\.batchSize)
        var rng = RandomStream(seed: 0, stream: UInt64(1000 + guideSites.count))
        func weights(_ name: String, _ rows: Int, _ cols: Int, zero: Bool) -> Node {
            let bound = 1 / Double(rows).squareRoot()
            let t = Tensor(shape: [rows, cols], scalars: (0..<(rows * cols)).map { _ in zero ? 0 : (2 * rng.uniform() - 1) * bound })
            let node = graph.parameter(name, t)
            params.append(ParameterRecord(name: name, raw: node, value: node, transform: .identity, learningRate: nil, role: .baseline))
            return node
        }
        let width = hidden > 0 ? hidden : 1
        var pre = graph.constant(0)
        for name in inputs {
            guard let f = features[name] else {
                throw .estimatorMismatch(site: g.name, "unknown baseline input '\(name)' (known: \(features.keys.sorted().joined(separator: ", ")))")
            }
            guard f.rank == sizes.count + 1, Array(f.shape.dropLast()) == sizes else {
                throw .estimatorMismatch(site: g.name, "baseline input '\(name)' must have shape \(sizes) + [features], got \(f.shape)")
            }
            // The regressor's squared error trains its own weights only, never what its inputs are computed from.
            pre = pre + graph.matmul(graph.stopGradient(f), weights("\(g.name).baseline.\(name).w", f.shape.last!, width, zero: hidden == 0))
        }
        var out = pre + weights("\(g.name).baseline.bias", 1, width, zero: true)
        if hidden > 0 {
            out = graph.matmul(graph.tanh(out), weights("\(g.name).baseline.out", hidden, 1, zero: true))
        }
        // One value per plate element, plate axes from the site's listed order to declaration order.
        out = graph.reshape(out, sizes)
        let declared = g.plates.indices.sorted { g.plates[$0].position < g.plates[$1].position }
        if declared != Array(g.plates.indices) { out = graph.permute(out, declared) }
        return graph.reshape(out, shape)
    }
}
