import Foundation
import JSON
import Testing
@testable import Inference
@testable import ModelSpec

/// The positional subsampling rule (data and params that declare no plates are read at a
/// step's rows when their first axis is a subsampled plate's) applies only where that axis
/// lands on the plate's: arrays that merely have the plate's length are read whole. Found by
/// the combination sweep; checked against closed-form gradients (exact enumeration).
@Suite struct PositionalSubsampleTests {
    static let p = [0.2, 0.5, 0.3]
    static let tab = [-1.0, 0.5, 2.0]
    static let x = [0.3, 1.9, -0.8]
    static let logits: [[Double]] = [[0.4, -0.2, 0.1], [-0.5, 0.3, 0.6], [0.2, 0.2, -0.7]]

    static func compile(_ text: String) throws -> CompiledJob {
        try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))
    }

    static func softmax(_ l: [Double]) -> [Double] {
        let m = l.max()!, e = l.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Class log-probabilities `[3]` shared by every element of a plate of 3 subsampled 2 at a
    /// time: the three classes stay three. With the guide's logits shared too, every element
    /// contributes −KL(q‖p), so the loss is 3·KL(q‖p) and its gradient in the logits is
    /// 3 q_j (log(q_j/p_j) − KL) whichever rows a step draws.
    @Test func sharedClassLogitsOfThePlatesLengthAreReadWhole() throws {
        let l = Self.logits[0]
        let job = try Self.compile("""
        {"data": {"prior_logits": \(Self.p.map { Foundation.log($0) })},
         "plates": {"q": {"size": 3, "subsample": 2}},
         "model": [{"sample": "z", "dist": "Categorical", "args": {"logits": "prior_logits"}, "plates": ["q"]}],
         "guide": [{"param": "zl", "init": \(l)},
                   {"sample": "z", "dist": "Categorical", "args": {"logits": "zl"}, "plates": ["q"], "estimator": "enum"}],
         "inference": {"elbo": "tracegraph", "seed": 1}}
        """)
        let q = Self.softmax(l)
        let kl = zip(q, Self.p).reduce(0) { $0 + $1.0 * Foundation.log($1.0 / $1.1) }
        let exact = q.indices.map { 3 * q[$0] * (Foundation.log(q[$0] / Self.p[$0]) - kl) }
        let svi = try SVI(program: job.program, optimizer: .sgd(lr: 0), seed: 5)
        let g = try #require(try svi.gradientEstimate(draws: 50).parameters.first { $0.name == "zl" })
        #expect(g.mean.count == 3)
        for j in exact.indices {
            #expect(abs(g.mean[j] - exact[j]) < 1e-9, "zl[\(j)]: \(g.mean[j]), exact \(exact[j])")
        }
    }

    /// `tab[b]` with a table `[3]` in a plate of 3 subsampled 2: the table is indexed by class,
    /// so it is read whole. With exact enumeration the only noise is the step's rows; the mean
    /// gradient is the whole plate's: ∂(−ELBO)/∂l_ij = −q_ij (f_ij − Σ_k q_ik f_ik), with
    /// f_ik = log p_k + log N(x_i; tab_k, 0.8) − log q_ik.
    @Test func aGatherTableOfThePlatesLengthIsReadWhole() throws {
        let job = try Self.compile("""
        {"data": {"tab": \(Self.tab), "x": {"value": \(Self.x), "plates": ["q"]}},
         "plates": {"q": {"size": 3, "subsample": 2}},
         "model": [{"sample": "b", "dist": "Categorical", "args": {"probs": \(Self.p)}, "plates": ["q"]},
                   {"sample": "x_obs", "dist": "Normal", "args": {"loc": "tab[b]", "scale": 0.8}, "plates": ["q"], "obs": "x"}],
         "guide": [{"param": "bl", "init": \(Self.logits), "plates": ["q"]},
                   {"sample": "b", "dist": "Categorical", "args": {"logits": "bl"}, "plates": ["q"], "estimator": "enum"}],
         "inference": {"elbo": "tracegraph", "seed": 2}}
        """)
        var exact: [Double] = []
        for i in 0..<3 {
            let q = Self.softmax(Self.logits[i])
            let f = (0..<3).map { k in
                Foundation.log(Self.p[k]) - 0.5 * Foundation.log(2 * Double.pi * 0.64)
                    - (Self.x[i] - Self.tab[k]) * (Self.x[i] - Self.tab[k]) / (2 * 0.64) - Foundation.log(q[k])
            }
            let elbo = zip(q, f).reduce(0) { $0 + $1.0 * $1.1 }
            exact += (0..<3).map { -q[$0] * (f[$0] - elbo) }
        }
        let svi = try SVI(program: job.program, optimizer: .sgd(lr: 0), seed: 7)
        let g = try #require(try svi.gradientEstimate(draws: 4000).parameters.first { $0.name == "bl" })
        #expect(g.mean.count == 9)
        for j in exact.indices {
            #expect(abs(g.mean[j] - exact[j]) <= 4 * g.standardError[j] + 1e-9, "bl[\(j)]: \(g.mean[j]) ± \(g.standardError[j]), exact \(exact[j])")
        }
        // A factor of 2 (the subsample's scale) on the largest element would be seen.
        let largest = exact.indices.max { abs(exact[$0]) < abs(exact[$1]) }!
        #expect(4 * g.standardError[largest] < 0.5 * abs(exact[largest]))
    }

    /// Data whose first axis is the plate's is still read at the step's rows (the rule itself).
    @Test func dataAlongThePlateIsStillReadAtTheStepsRows() throws {
        let job = try Self.compile("""
        {"data": {"x": \(Self.x)},
         "plates": {"q": {"size": 3, "subsample": 2}},
         "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": 0, "scale": 1}},
                   {"sample": "x_obs", "dist": "Normal", "args": {"loc": "mu", "scale": 1}, "plates": ["q"], "obs": "x"}],
         "guide": [{"param": "m", "init": 0.2}, {"param": "s", "init": 0.5, "constraint": "positive"},
                   {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}}],
         "inference": {"elbo": "meanfield", "seed": 3}}
        """)
        // ∂(−ELBO)/∂m = (1 + 3) m − Σ x over the whole plate, in expectation over the rows.
        let svi = try SVI(program: job.program, optimizer: .sgd(lr: 0), seed: 9)
        let g = try #require(try svi.gradientEstimate(draws: 4000).parameters.first { $0.name == "m" })
        let exact = 4 * 0.2 - Self.x.reduce(0, +)
        #expect(abs(g.mean[0] - exact) <= 4 * g.standardError[0] + 1e-9, "m: \(g.mean[0]) ± \(g.standardError[0]), exact \(exact)")
    }

    /// An enumerated site whose model law depends on another enumerated site is refused at
    /// validation with both names, not left to fail inside the graph.
    @Test func twoEnumeratedSitesChainedInTheModelAreRefusedByName() throws {
        let spec = """
        {"data": {"c3": [1, 0, -1], "tab": \(Self.tab), "x": [0.1, 1.2]},
         "plates": {"p": {"size": 2}},
         "model": [{"sample": "a", "dist": "Bernoulli", "args": {"logits": -0.6}, "plates": ["p"]},
                   {"sample": "b", "dist": "Categorical", "args": {"logits": "unsqueeze(a, -1) * c3"}, "plates": ["p"]},
                   {"sample": "x_obs", "dist": "Normal", "args": {"loc": "tab[b]", "scale": 0.8}, "plates": ["p"], "obs": "x"}],
         "guide": [{"param": "al", "init": [0.1, -0.2], "plates": ["p"]},
                   {"sample": "a", "dist": "Bernoulli", "args": {"logits": "al"}, "plates": ["p"], "estimator": "enum"},
                   {"param": "bl", "init": [[0.1, 0.2, 0.3], [0.0, -0.1, 0.4]], "plates": ["p"]},
                   {"sample": "b", "dist": "Categorical", "args": {"logits": "bl"}, "plates": ["p"], "estimator": "enum"}],
         "inference": {"elbo": "tracegraph"}}
        """
        let error = try #require(throws: SpecErrors.self) { try Self.compile(spec) }
        let messages = error.diagnostics.map(\.message).joined(separator: "; ")
        #expect(messages.contains("enumerated site 'b' depends on the enumerated site 'a'"), "\(messages)")
    }
}
