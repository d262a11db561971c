import Foundation
import JSON
import Testing
@testable import Inference
@testable import ModelSpec
import Numerics

/// Values align by plate name (issue 21): a group latent broadcasts along the units' plate by
/// itself, any plate can be subsampled (inner ones included), sites may list their plates in any
/// order, and the expected ELBO gradient matches its closed form in every such combination.
@Suite struct NestedPlateTests {
    static let x: [[Double]] = [[0.3, -1.2, 0.8, 2.1], [1.5, 0.4, -0.6, 0.9], [-0.2, 2.4, 1.1, 0.0]]
    static let m = [0.4, -0.3, 1.2], s = [0.8, 1.3, 0.6]

    /// The hierarchical model: `mu_g ~ Normal(0, 1)`, `x_gi ~ Normal(mu_g, 1)`, with a
    /// per-group Normal guide whose params declare the plate `g`.
    static func hierarchical(subsampleG: Int? = nil, subsampleI: Int? = nil, particles: Int = 1, elbo: String = "tracegraph",
                             dataPlates: Bool = true) -> String {
        let sub = { (b: Int?) in b.map { ", \"subsample\": \($0)" } ?? "" }
        let data = dataPlates ? "{\"value\": \(x), \"plates\": [\"g\", \"i\"]}" : "\(x)"
        return """
        {"data": {"x": \(data)},
         "plates": {"g": {"size": 3\(sub(subsampleG))}, "i": {"size": 4\(sub(subsampleI))}},
         "model": [
           {"sample": "mu",  "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["g"]},
           {"sample": "obs", "dist": "Normal", "args": {"loc": "mu", "scale": 1.0}, "plates": ["g", "i"], "obs": "x"}
         ],
         "guide": [
           {"param": "m", "init": \(m), "plates": ["g"]},
           {"param": "s", "init": \(s), "constraint": "positive", "plates": ["g"]},
           {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "plates": ["g"]}
         ],
         "inference": {"elbo": "\(elbo)", "particles": \(particles), "seed": 3}}
        """
    }

    static func compile(_ text: String) throws -> CompiledJob {
        try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))
    }

    /// ∂ELBO/∂m_g = Σᵢ x_gi − (I + 1) m_g and ∂ELBO/∂log s_g = 1 − (I + 1) s_g² (the loss is −ELBO).
    static let exactLossGradient: (m: [Double], logS: [Double]) = (
        (0..<3).map { g in -(x[g].reduce(0, +) - 5 * m[g]) },
        (0..<3).map { g in -(1 - 5 * s[g] * s[g]) })

    static let cases: [(Int?, Int?, Int, String)] = [
        (nil, nil, 1, "tracegraph"), (2, nil, 1, "tracegraph"), (nil, 2, 1, "tracegraph"), (2, 3, 1, "tracegraph"),
        (1, 2, 2, "trace"), (2, 2, 1, "meanfield"),
    ]

    @Test(arguments: cases)
    func expectedGradientMatchesTheClosedForm(_ c: (Int?, Int?, Int, String)) throws {
        let job = try Self.compile(Self.hierarchical(subsampleG: c.0, subsampleI: c.1, particles: c.2, elbo: c.3))
        let svi = try SVI(program: job.program, optimizer: .sgd(lr: 0), seed: 11)
        let estimate = try svi.gradientEstimate(draws: 40_000)
        let gm = try #require(estimate.parameters.first { $0.name == "m" })
        let gs = try #require(estimate.parameters.first { $0.name == "s" })
        for g in 0..<3 {
            #expect(abs(gm.mean[g] - Self.exactLossGradient.m[g]) <= 4 * gm.standardError[g] + 1e-9, "m[\(g)] \(c)")
            #expect(abs(gs.mean[g] - Self.exactLossGradient.logS[g]) <= 4 * gs.standardError[g] + 1e-9, "log s[\(g)] \(c)")
            // The check can tell a plate counted once from a plate counted I times.
            #expect(4 * gm.standardError[g] < 0.5 * abs(Self.exactLossGradient.m[g]) || abs(Self.exactLossGradient.m[g]) < 1)
        }
    }

    @Test func theGroupLatentBroadcastsAlongTheUnitsPlate() throws {
        let job = try Self.compile(Self.hierarchical(dataPlates: false))
        #expect(job.sites.map(\.shape) == [[3]])
    }

    /// Pyro's Normal–Normal test declares `p` (2) then `d` (4) and observes `x` of shape (4, 2)
    /// in `["d", "p"]`: a site's plate axes follow its own listing.
    @Test func platesListedInAnotherOrderThanDeclared() throws {
        let text = """
        {"data": {"x": [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]]},
         "plates": {"p": {"size": 2}, "d": {"size": 4}},
         "guide": [{"param": "loc_q", "init": [0.3, -0.2]}, {"param": "scale_q", "init": [0.7, 1.1], "constraint": "positive"},
                   {"sample": "z", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"}, "plates": ["p"]}],
         "model": [{"sample": "z", "dist": "Normal", "args": {"loc": [0.0, 0.5], "scale": 3.0}, "plates": ["p"]},
                   {"sample": "x_obs", "dist": "Normal", "args": {"loc": "z", "scale": [0.4, 0.5]}, "plates": ["d", "p"], "obs": "x"}],
         "inference": {"seed": 1}}
        """
        let job = try Self.compile(text)
        let svi = try SVI(program: job.program, optimizer: .sgd(lr: 0), seed: 2)
        let estimate = try svi.gradientEstimate(draws: 20_000)
        let loc = try #require(estimate.parameters.first { $0.name == "loc_q" })
        // ∂ELBO/∂loc_p = Σ_d (x_dp − loc_p)/σ_p² − (loc_p − μ0_p)/9.
        let xs: [[Double]] = [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]]
        let locs = [0.3, -0.2], sigma = [0.4, 0.5], mu0 = [0.0, 0.5]
        for p in 0..<2 {
            let exact = xs.map { ($0[p] - locs[p]) / (sigma[p] * sigma[p]) }.reduce(0, +) - (locs[p] - mu0[p]) / 9
            #expect(abs(loc.mean[p] + exact) <= 4 * loc.standardError[p] + 1e-9)
        }
    }

    @Test func aLetOfTwoPlatesIsLaidOutForEachSiteThatUsesIt() throws {
        // `c` lies in g and i (declaration order); the site lists i before g.
        let text = """
        {"data": {"x": {"value": \(Self.x), "plates": ["g", "i"]}, "b": {"value": [1.0, 2.0, 3.0, 4.0], "plates": ["i"]}},
         "plates": {"g": {"size": 3}, "i": {"size": 4}},
         "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["g"]},
                   {"let": "c", "value": "mu + b"},
                   {"sample": "obs", "dist": "Normal", "args": {"loc": "c", "scale": 1.0}, "plates": ["i", "g"], "obs": "x"}],
         "guide": [{"sample": "mu", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["g"]}]}
        """
        let job = try Self.compile(text)
        #expect(job.sites.count == 1)
    }

    @Test func shapeErrorsNameThePlates() {
        let wrongLength = Self.hierarchical(dataPlates: false).replacingOccurrences(of: "\"g\": {\"size\": 3}", with: "\"g\": {\"size\": 3}, \"h\": {\"size\": 5}")
            .replacingOccurrences(of: "\"plates\": [\"g\", \"i\"], \"obs\"", with: "\"plates\": [\"h\", \"i\"], \"obs\"")
        let found = problems(wrongLength)
        #expect(found.contains { $0.message.contains("varies along plate 'g'") && $0.message.contains("list 'g' in the site's plates") }, "\(found)")

        let declared = Self.hierarchical().replacingOccurrences(of: "\"plates\": [\"g\", \"i\"]}", with: "\"plates\": [\"i\", \"g\"]}")
        let mismatch = problems(declared)
        #expect(mismatch.contains { $0.pointer == "/data/x/plates/0" && $0.message == "data 'x' has 3 entries along axis 0, but plate 'i' has size 4" }, "\(mismatch)")
    }

    @Test func shapeFunctionsWorkOnAValuesOwnAxes() throws {
        let text = """
        {"data": {"t": [1.0, 2.0, 3.0]},
         "plates": {"g": {"size": 2}},
         "model": [{"sample": "a", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["g"]},
                   {"sample": "k", "dist": "Categorical", "args": {"logits": "unsqueeze(a, -1) * t"}, "plates": ["g"]},
                   {"let": "r", "value": "reshape(ones(6), 2, len(t))"},
                   {"let": "e", "value": "expand(t, g, -1)"},
                   {"sample": "y", "dist": "Normal", "args": {"loc": "sum(r) + sum(e, 0)[0] + sum(a, g)", "scale": 1.0}, "obs": 0.5}],
         "guide": [{"sample": "a", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["g"]},
                   {"sample": "k", "dist": "Categorical", "args": {"logits": "zeros(3)"}, "plates": ["g"], "estimator": "enum"}]}
        """
        #expect(problems(text) == [])
    }
}
