import Foundation
import Inference
@testable import ModelSpec
import JSON
import Numerics

/// The Pyro conformance fixtures (written by `Conformance/Reference/pyro_conformance.py` with
/// Pyro installed; read here with Foundation's JSON reader, independently of the service's
/// own JSON code), and what the tests need to run their specs.
enum PyroFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Reference")

    /// The cases of one part (`conjugate`, `gradients`, `trajectories`, `straight_through`).
    static func cases(_ part: String) -> [[String: Any]] {
        let url = directory.appendingPathComponent("\(part).json")
        guard let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases
    }

    /// A case's names (for parameterised tests).
    static func names(_ part: String) -> [String] { cases(part).compactMap { $0["name"] as? String } }

    static func named(_ part: String, _ name: String) -> [String: Any]? {
        cases(part).first { $0["name"] as? String == name }
    }

    /// Compiles a fixture's spec (a JSON object) through the public spec path, with overrides
    /// of the `inference` block (seed, elbo, particles, entropy).
    static func compile(_ spec: Any, inference overrides: [String: Any] = [:], estimator: Any? = nil) throws -> CompiledJob {
        guard var object = spec as? [String: Any] else { throw FixtureError("a spec must be an object") }
        var inference = object["inference"] as? [String: Any] ?? [:]
        for (k, v) in overrides { inference[k] = v }
        object["inference"] = inference
        if let estimator, var guide = object["guide"] as? [[String: Any]] {
            for i in guide.indices where guide[i]["sample"] != nil { guide[i]["estimator"] = estimator }
            object["guide"] = guide
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(Array(data))))
    }

    /// Trains a compiled job for its steps and returns its constrained params by name,
    /// calling `checkpoint` after each step count in `at`.
    static func train(_ job: CompiledJob, seed: Int, steps: Int, at: [Int] = [],
                      checkpoint: ([String: [Double]]) -> Void = { _ in }) throws -> [String: [Double]] {
        let svi = try SVI(program: job.program, optimizer: job.inference.optimizer, seed: UInt64(seed))
        func params() -> [String: [Double]] {
            Dictionary(uniqueKeysWithValues: svi.constrainedParameters().map { ($0.name, $0.value.scalars) })
        }
        for step in 1...steps {
            try svi.step()
            if at.contains(step) { checkpoint(params()) }
        }
        return params()
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension Dictionary where Key == String, Value == Any {
    func doubles(_ key: String) -> [Double] {
        if let a = self[key] as? [Any] { return a.flatMap { ($0 as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? [($0 as? NSNumber)?.doubleValue ?? .nan] } }
        if let x = self[key] as? NSNumber { return [x.doubleValue] }
        return []
    }
}
