import JSON
import Testing
import Foundation
import Numerics
@testable import ModelSpec

/// Every job in examples/ runs end to end (JSON → compile → SVI → result) and reaches the
/// answer examples/README.md states for it, with the tolerances of examples/expected.json
/// (computed by examples/make_examples.py: exact posteriors where conjugate, quadrature,
/// Laplace or Pyro's own run otherwise).
@Suite struct ExampleTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples").standardized
    static let expected: JSONObject = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try! JSONParser.parse(Array(data)).asObject!
    }()
    static let names = expected.keys

    /// Runs an example with its own settings.
    static func run(_ name: String) throws -> JobResult {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
        let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(Array(data))))
        return try JobRun(job).run()
    }

    static func numbers(_ v: JSONValue?) -> [Double] {
        switch v {
        case let .number(x)?: [x]
        case let .array(a)?: a.flatMap { numbers($0) }
        default: []
        }
    }

    @Test(arguments: names)
    func exampleReachesItsStatedAnswer(_ name: String) throws {
        let result = try Self.run(name)
        let e = Self.expected[name]!.asObject!
        let tol = e["tolerance"]?.asObject ?? JSONObject()
        let params = Dictionary(uniqueKeysWithValues: result.params.map { ($0.name, $0.values) })
        func param(_ n: String) -> [Double] { params[n] ?? [] }

        // Params with an absolute or relative tolerance of their own.
        for (key, value) in (e["params"]?.asObject ?? JSONObject()).members {
            guard let t = tol[key]?.asObject else { continue }
            let want = Self.numbers(value), got = param(key)
            #expect(got.count == want.count, "\(name): \(key) has \(got.count) values")
            for (g, w) in zip(got, want) {
                if let a = t["abs"]?.asNumber { #expect(Swift.abs(g - w) < a, "\(name): \(key) = \(got), expected \(want) ± \(a)") }
                if let r = t["rel"]?.asNumber { #expect(Swift.abs(g - w) < r * Swift.abs(w), "\(name): \(key) = \(got), expected \(want) within \(r)") }
            }
        }
        // Scale params of regressions ("loc"/"scale" groups).
        for (suffix, key) in [("_loc", "loc"), ("_scale", "scale")] {
            guard let t = tol[key]?.asObject else { continue }
            for (pname, value) in (e["params"]?.asObject ?? JSONObject()).members where pname.hasSuffix(suffix) {
                for (g, w) in zip(param(pname), Self.numbers(value)) {
                    if let a = t["abs"]?.asNumber { #expect(Swift.abs(g - w) < a, "\(name): \(pname) = \(param(pname)), expected \(w) ± \(a)") }
                    if let r = t["rel"]?.asNumber { #expect(Swift.abs(g - w) < r * Swift.abs(w), "\(name): \(pname) within \(r) of \(w)") }
                }
            }
        }
        // The ELBO of an exact guide family is the log evidence.
        if let a = tol["elbo_abs"]?.asNumber, let evidence = e["log_evidence"]?.asNumber {
            #expect(Swift.abs(result.finalELBO - evidence) < a, "\(name): final ELBO \(result.finalELBO), log evidence \(evidence)")
        }
        // Posterior sd of an MVN guide: sqrt(diag(L Lᵀ)).
        if let r = tol["posterior_sd"]?.asObject?["rel"]?.asNumber, let sdWant = e["posterior_sd"]?.asObject?["w"] {
            let l = param("w_scale_tril"), want = Self.numbers(sdWant), d = want.count
            for i in 0..<d {
                let sd = (0..<d).reduce(0.0) { $0 + l[i * d + $1] * l[i * d + $1] }.squareRoot()
                #expect(Swift.abs(sd - want[i]) < r * want[i], "\(name): sd[\(i)] = \(sd), expected \(want[i]) within \(r)")
                if let k = tol["truth"]?.asObject?["sd"]?.asNumber, let truth = e["truth"]?.asObject?["w"] {
                    let w = Self.numbers(truth)[i]
                    #expect(Swift.abs(param("w_loc")[i] - w) < k * sd, "\(name): true weight \(i) = \(w) outside \(k) sd")
                }
            }
        }
        // Mixture labels: argmax of the guide's logits against the true assignments.
        if let accuracy = tol["z_accuracy"]?.asNumber, let truth = e["truth"]?.asObject?["z"] {
            let labels = Self.numbers(truth).map(Int.init), logits = param("z_logits"), k = logits.count / labels.count
            let right = labels.indices.filter { i in (0..<k).max { logits[i * k + $0] < logits[i * k + $1] } == labels[i] }.count
            #expect(Double(right) >= accuracy * Double(labels.count), "\(name): \(right) of \(labels.count) labels right")
        }
        // Per-point Bernoulli switches against the exact posterior probabilities.
        if let probs = e["posterior_probs"]?.asObject?["s"] {
            let exact = Self.numbers(probs), fitted = param("s_logits").map { 1 / (1 + Foundation.exp(-$0)) }
            let mae = zip(exact, fitted).map { Swift.abs($0 - $1) }.reduce(0, +) / Double(exact.count)
            if let bound = tol["posterior_probs_mae"]?.asNumber {
                #expect(mae < bound, "\(name): mean absolute error \(mae)")
            } else if case let .array(range)? = tol["posterior_probs_mae"] {
                #expect(mae >= range[0].asNumber! && mae <= range[1].asNumber!, "\(name): mean absolute error \(mae)")
                // The biased estimator keeps the order and the clear cases' side of ½.
                let sides = Self.numbers(tol["side_agreement"])
                for (x, f) in zip(exact, fitted) where x < sides[0] || x > sides[1] { #expect((x > 0.5) == (f > 0.5), "\(name): exact \(x), fitted \(f)") }
                #expect(spearman(exact, fitted) > tol["rank_correlation"]!.asNumber!)
            }
        }
        // Eight schools: mu near the exact posterior mean, tau's guide scale sensible.
        if name.hasPrefix("eight_schools"), let post = e["posterior"]?.asObject {
            let mean = post["mu"]!.asObject!["mean"]!.asNumber!
            #expect(Swift.abs(param("mu_loc")[0] - mean) < tol["mu_loc"]!.asObject!["abs"]!.asNumber!)
            let between = Self.numbers(tol["exp(tau_loc)"]?.asObject?["between"])
            let tau = Foundation.exp(param("tau_loc")[0])
            #expect(tau > between[0] && tau < between[1], "exp(tau_loc) = \(tau)")
        }
        // Beta–Bernoulli: the Beta guide's mean and sd against Beta(32, 18).
        if name == "beta_bernoulli_coin", let post = e["posterior"]?.asObject?["p"]?.asObject {
            let a = param("alpha_q")[0], b = param("beta_q")[0]
            let mean = a / (a + b), sd = (a * b / ((a + b) * (a + b) * (a + b + 1))).squareRoot()
            #expect(Swift.abs(mean - post["mean"]!.asNumber!) < tol["mean_abs"]!.asNumber!, "mean \(mean)")
            #expect(Swift.abs(sd - post["sd"]!.asNumber!) < tol["sd_rel"]!.asNumber! * post["sd"]!.asNumber!, "sd \(sd)")
        }
    }

    @Test func everyExampleHasAnExpectedAnswer() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".json") && $0 != "expected.json" }
        #expect(Set(files.map { String($0.dropLast(5)) }) == Set(Self.names))
    }
}

/// Spearman's rank correlation.
func spearman(_ a: [Double], _ b: [Double]) -> Double {
    func ranks(_ x: [Double]) -> [Double] {
        var r = Array(repeating: 0.0, count: x.count)
        for (rank, i) in x.indices.sorted(by: { x[$0] < x[$1] }).enumerated() { r[i] = Double(rank) }
        return r
    }
    let ra = ranks(a), rb = ranks(b), n = Double(a.count)
    let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
    var num = 0.0, da = 0.0, db = 0.0
    for i in 0..<a.count { num += (ra[i] - ma) * (rb[i] - mb); da += (ra[i] - ma) * (ra[i] - ma); db += (rb[i] - mb) * (rb[i] - mb) }
    return num / (da * db).squareRoot()
}
