import Autodiff
import Distributions
import Numerics

extension ProgramBuilder {
    /// The MVN draw with the OMT or AVF backward rule; AVF's control variate (B, C) are
    /// parameters with their own optimiser.
    func mvnDraw(_ name: String, _ mvn: MultivariateNormal, _ est: Estimator, _ prefix: [Int], _ s: Int) throws -> (Node, (Node, Node)?) {
        switch est {
        case .omt:
            return (try mvn.rsampleOMT(prefix, stream: s), nil)
        case let .avf(rank):
            guard rank >= 1 else { throw ProgramError.estimatorMismatch(site: name, "avf rank must be at least 1") }
            let d = mvn.dimension
            let b = graph.parameter("\(name).avf_B", Tensor(repeating: 0.1, shape: [rank, d]))
            let c = graph.parameter("\(name).avf_C", Tensor(repeating: 0.1, shape: [rank, d]))
            for (n, node) in [("B", b), ("C", c)] {
                params.append(ParameterRecord(name: "\(name).avf_\(n)", raw: node, value: node, transform: .identity,
                                              learningRate: nil, role: .controlVariate))
            }
            return (try mvn.rsampleAVF(prefix, stream: s, controlB: b, controlC: c), (b, c))
        default:
            preconditionFailure("mvnDraw is only for omt and avf")
        }
    }
}
