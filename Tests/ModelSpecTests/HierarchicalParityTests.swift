import Foundation
import JSON
import Testing
@testable import ModelSpec

/// The nested-plate examples (issue 21) against Pyro: examples/pyro/hierarchical.py runs the
/// same programs (data, guide, ClippedAdam settings and steps read from the job files) on
/// seeds 0–4 and records the fitted locs in examples/pyro/hierarchical.pyro.json. sviserve's
/// seeds 0–4 must land where Pyro's do: per element, the mean over seeds within twice Pyro's
/// own spread (max − min over its seeds) of Pyro's mean, plus the floor of the Monte Carlo noise
/// of a mean of 5 seeds (our own seeds' standard error, twice).
@Suite struct HierarchicalParityTests {
    /// Pyro's fitted locs of an example, one dictionary per seed.
    static func pyroRuns(_ name: String) -> [[String: [Double]]]? {
        let url = ExampleTests.directory.appendingPathComponent("pyro/hierarchical.pyro.json")
        guard let data = try? Data(contentsOf: url), let all = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return all[name] as? [[String: [Double]]]
    }
    static let seeds = [0, 1, 2, 3, 4]

    @Test(arguments: ["hierarchical_regression", "eight_schools_nested"])
    func nestedPlateExampleLandsWherePyrosDoes(_ name: String) throws {
        let runs = try #require(Self.pyroRuns(name), "no Pyro results for \(name) in examples/pyro/hierarchical.pyro.json")
        #expect(runs.count == Self.seeds.count)
        let data = try Data(contentsOf: ExampleTests.directory.appendingPathComponent("\(name).json"))
        var ours: [[String: [Double]]] = []
        for seed in Self.seeds {
            var spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            var inference = try #require(spec["inference"] as? [String: Any])
            inference["seed"] = seed
            spec["inference"] = inference
            let text = try JSONSerialization.data(withJSONObject: spec)
            let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(Array(text))))
            let result = try JobRun(job).run()
            ours.append(Dictionary(uniqueKeysWithValues: result.params.map { ($0.name, $0.values) }))
        }
        for param in runs[0].keys.sorted() {
            let count = runs[0][param]!.count
            for k in 0..<count {
                let p = runs.map { $0[param]![k] }, o = try ours.map { try #require($0[param])[k] }
                let pMean = p.reduce(0, +) / Double(p.count), oMean = o.reduce(0, +) / Double(o.count)
                let spread = p.max()! - p.min()!
                let oSE = (o.map { ($0 - oMean) * ($0 - oMean) }.reduce(0, +) / Double(o.count - 1) / Double(o.count)).squareRoot()
                #expect(abs(oMean - pMean) <= 2 * spread + 2 * oSE,
                        "\(name) \(param)[\(k)]: sviserve's seeds \(o) (mean \(oMean)), Pyro's \(p) (mean \(pMean), spread \(spread))")
            }
        }
    }
}
