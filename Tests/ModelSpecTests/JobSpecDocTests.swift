import JSON
import Testing
import Foundation
import Distributions
@testable import ModelSpec

/// docs/job-spec.md, the language's reference in the repository: every JSON block on it is a
/// whole job that validates and runs; together they use every function, distribution (and
/// alias), estimator, baseline, ELBO, optimiser, constraint and autoguide the language has.
@Suite struct JobSpecDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    static let text = (try? String(contentsOf: root.appendingPathComponent("docs/job-spec.md"), encoding: .utf8)) ?? ""

    /// The bodies of the page's fenced ```json blocks, in order.
    static let snippets: [String] = {
        var out: [String] = [], current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```json" { current = []; continue }
            if current != nil, line == "```" { out.append(current!.joined(separator: "\n")); current = nil; continue }
            current?.append(line)
        }
        return out
    }()

    static func name(of snippet: String) -> String {
        (try? JSONParser.parse(snippet).asObject?["name"]?.asString) ?? nil ?? "?"
    }

    @Test func thePageHasItsSnippets() {
        #expect(Self.snippets.count >= 20, "found \(Self.snippets.count) json blocks")
        #expect(Set(Self.snippets.map(Self.name)).count == Self.snippets.count, "every snippet has its own name")
    }

    @Test(arguments: snippets.indices)
    func everySnippetValidatesAndRunsAFewSteps(_ index: Int) throws {
        let snippet = Self.snippets[index]
        var spec = try SpecDecoder.decode(try JSONParser.parse(snippet))
        spec.inference.steps = 25
        let job = try SpecCompiler.compile(spec)
        let result = try JobRun(job).run()
        #expect(result.steps == 25, "\(Self.name(of: snippet))")
        #expect(result.finalELBO.isFinite, "\(Self.name(of: snippet)): final ELBO \(result.finalELBO)")
    }

    /// The first job's answer: the conjugate posterior the page states.
    @Test func theFirstJobReachesThePosteriorThePageStates() throws {
        let first = try #require(Self.snippets.first { Self.name(of: $0) == "first-job" })
        let result = try JobRun(try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(first)))).run()
        let params = Dictionary(uniqueKeysWithValues: result.params.map { ($0.name, $0.values[0]) })
        // Exact: precision 4 + 1/100, mean Σx / (4 + 1/100) = 4.2 / 4.01.
        #expect(Swift.abs(params["mu_loc"]! - 4.2 / 4.01) < 0.03)
        #expect(Swift.abs(params["mu_scale"]! - (1 / 4.01).squareRoot()) < 0.05)
    }

    static let all = snippets.joined(separator: "\n")

    /// Whether the snippets contain `text` (a function, not an expression, so a failure prints
    /// the message rather than every snippet).
    static func used(_ text: String) -> Bool { all.contains(text) }
    /// Whether the page's text contains `text`.
    static func written(_ text: String) -> Bool { self.text.contains(text) }

    @Test func theSnippetsUseEveryFunction() {
        for f in BuiltinFunction.allCases {
            #expect(Self.used("\(f.rawValue)("), "no snippet calls \(f.rawValue)")
            #expect(Self.written("`\(f.rawValue)("), "the function table lacks \(f.rawValue)")
        }
    }

    @Test func theSnippetsUseEveryDistributionAndAlias() {
        for name in DistributionCatalog.signatures.keys.sorted() + SpecDecoder.aliases.keys.sorted() {
            #expect(Self.used("\"dist\": \"\(name)\""), "no snippet samples a \(name)")
            #expect(Self.written("`\(name)`"), "the page does not name \(name)")
        }
        for (name, signature) in DistributionCatalog.signatures {
            for argument in signature.required.flatMap({ $0 }) + signature.optional {
                #expect(Self.used("\"\(argument)\":"), "no snippet gives \(name)'s argument \(argument)")
            }
        }
    }

    @Test func theSnippetsUseEveryEstimatorBaselineELBOOptimiserConstraintAndAutoguide() {
        for estimator in Reader.estimatorNames {
            #expect(Self.used("\"\(estimator)\""), "no snippet uses the estimator \(estimator)")
        }
        for baseline in ["\"loo\"", "\"decaying_avg\"", "\"learned\""] {
            #expect(Self.used(baseline), "no snippet uses the baseline \(baseline)")
        }
        #expect(Self.written("`\"none\"`"))
        for elbo in ["tracegraph", "trace", "meanfield"] {
            #expect(Self.used("\"elbo\": \"\(elbo)\""), "no snippet uses the \(elbo) ELBO")
        }
        #expect(Self.used("\"entropy\": \"analytic\"") && Self.used("\"entropy\": \"monte_carlo\""))
        for optimizer in ["adam", "clipped_adam", "sgd"] {
            #expect(Self.used("\"name\": \"\(optimizer)\""), "no snippet uses \(optimizer)")
        }
        for key in ["betas", "eps", "clip_norm", "lr_decay", "momentum", "nesterov", "report_every", "max_seconds", "seed", "particles"] {
            #expect(Self.used("\"\(key)\":"), "no snippet sets \(key)")
        }
        for constraint in ["\"positive\"", "\"simplex\"", "\"lower_cholesky\"", "\"interval\""] {
            #expect(Self.used("\"constraint\": \(constraint)") || Self.used("{\(constraint)"), "no snippet uses the constraint \(constraint)")
        }
        for constraint in ["real", "nonnegative", "unit_interval"] {
            #expect(Self.written("`\(constraint)`"), "the constraint table lacks \(constraint)")
        }
        for auto in ["normal", "mvn", "delta"] {
            #expect(Self.used("\"auto\": \"\(auto)\""), "no snippet uses the \(auto) autoguide")
        }
        for key in ["\"subsample\":", "\"event_dims\":", "\"obs\":", "\"lr\":", "\"estimators\":", "\"init_scale\":", "\"let\":"] {
            #expect(Self.used(key), "no snippet uses \(key)")
        }
    }

    @Test func thePageNamesTheDiscoveryEndpoints() {
        #expect(Self.written("GET /v1/capabilities"))
        #expect(Self.written("GET /v1/schema"))
    }
}
