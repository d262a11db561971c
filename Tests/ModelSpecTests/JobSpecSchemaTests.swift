import JSON
import Testing
import SpecFuzzing
import Foundation
@testable import ModelSpec
import TestSupport

/// The JSON Schema of `GET /v1/schema` against the decoder: the same verdict (accepted on form,
/// or refused) on every example, every snippet of docs/job-spec.md and thousands of mutations of
/// them. The schema is judged by a real validator (Python's jsonschema, draft 2020-12, from the
/// virtual environment `make deps` creates). The only refusals the schema may miss are the two
/// it cannot express: rows of unequal length, and an interval whose lower bound is not below
/// its upper bound.
@Suite struct JobSpecSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// What the decoder says about a document: nil when it accepts it on form, else its problems.
    static func decoderVerdict(_ text: String) -> [SpecDiagnostic]? {
        do {
            _ = try SpecDecoder.decode(try JSONParser.parse(text))
            return nil
        } catch let e as SpecErrors {
            return e.diagnostics
        } catch {
            return [SpecDiagnostic(pointer: "", message: "\(error)")]
        }
    }

    /// The schema validator's verdicts, one per document ("accept" or "reject …").
    static func schemaVerdicts(_ documents: [String]) throws -> [String] {
        let python = root.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("no \(python): run `make deps`, which creates the Python tools' virtual environment")
            return []
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let schema = dir.appendingPathComponent("schema.json"), docs = dir.appendingPathComponent("docs.jsonl")
        try JobSpecSchema.json.write(to: schema, atomically: true, encoding: .utf8)
        try documents.joined(separator: "\n").appending("\n").write(to: docs, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root.appendingPathComponent("tools/schema_verdicts.py").path, schema.path, docs.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "schema_verdicts.py: \(errors)")
        return text.split(separator: "\n").map(String.init)
    }

    /// The valid documents: every example and every snippet of the language's page.
    static func validDocuments() throws -> [String] {
        let examples = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("examples").path)
            .filter { $0.hasSuffix(".json") && $0 != "expected.json" }.sorted()
        #expect(examples.count >= 19)
        let texts = try examples.map { try String(contentsOf: root.appendingPathComponent("examples/\($0)"), encoding: .utf8) }
        return (texts + JobSpecDocTests.snippets).map { try! JSONParser.parse($0).serialized() }
    }

    @Test func theSchemaIsServedAsValidJSON() throws {
        let schema = try JSONParser.parse(JobSpecSchema.json)
        #expect(schema.asObject?["$schema"]?.asString == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema.asObject?["$defs"]?.asObject?["JobSpec"] != nil)
    }

    @Test func everyExampleAndSnippetPassesTheSchema() throws {
        let documents = try Self.validDocuments()
        let verdicts = try Self.schemaVerdicts(documents)
        #expect(verdicts.count == documents.count)
        for (document, verdict) in zip(documents, verdicts) {
            #expect(Self.decoderVerdict(document) == nil)
            #expect(verdict == "accept", "\(verdict) in \(document.prefix(120))")
        }
    }

    /// Edits aimed at the form: keys removed, added and renamed, values of every type, numbers
    /// at and past every bound, enumeration values swapped.
    struct FormMutator {
        var random: SplitMix64
        mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(n, 1))) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

        static let keys = [
            "name", "description", "data", "plates", "model", "guide", "estimators", "inference", "size", "subsample",
            "param", "init", "constraint", "lr", "let", "value", "sample", "dist", "args", "event_dims", "estimator", "obs",
            "interval", "auto", "init_scale", "rank", "baseline", "temperature", "decaying_avg", "learned", "inputs", "hidden",
            "elbo", "steps", "particles", "seed", "report_every", "max_seconds", "entropy", "optimizer", "betas", "eps",
            "clip_norm", "lr_decay", "momentum", "nesterov", "bogus", "x", "",
            "tags", "init_from", "transport", "references", "estimates", "draws", "site", "prior", "mean", "cov", "scale",
            "scale_tril", "job", "reference", "f", "params",
        ]
        static let strings = [
            "reparam", "omt", "avf", "score", "relaxed", "straight_through", "enum", "none", "loo", "decaying_avg",
            "real", "positive", "nonnegative", "unit_interval", "simplex", "lower_cholesky", "normal", "mvn", "delta",
            "tracegraph", "trace", "meanfield", "monte_carlo", "analytic", "adam", "clipped_adam", "sgd",
            "Normal", "Categorical", "OMTMultivariateNormal", "RelaxedBernoulliStraightThrough", "RelaxedOneHotCategoricalStraightThrough",
            "bogus", "", " ", "\t", "x", "zeros(2)", "len(x)", "1abc", "a-b", "é", String(repeating: "a", count: 64), String(repeating: "a", count: 65),
        ]
        static let numbers: [Double] = [
            0, -1, 0.5, 1, 1.5, 2, 8, 9, 63, 64, 65, 256, 257, 4096, 4097, 0.999999, 0.9999991, 0.999999999, 0.9999999991,
            1e6, 1000001, 1e7, 10_000_001, 1e8, 100_000_001, 31_536_000, 31_536_001, 2_147_483_647, 2_147_483_648, 1e12, 1.5e12, -0.0, 1e300,
        ]

        mutating func value() -> JSONValue {
            switch below(9) {
            case 0: return .null
            case 1: return .bool(below(2) == 0)
            case 2, 3: return .number(pick(Self.numbers))
            case 4, 5: return .string(pick(Self.strings))
            case 6: return .array((0..<below(3)).map { _ in .number(pick(Self.numbers)) })
            case 7: return pick([.array([.array([.number(1)])]), .array([.number(1), .array([.number(2)])]), .array([.array([]), .array([.number(1)])]),
                                 .array([.number(0.5), .number(0.25)]), .array([.number(2), .number(1)]), .array([.string("x")])])
            default:
                var o = JSONObject()
                for _ in 0..<below(3) { o[pick(Self.keys)] = below(2) == 0 ? .number(pick(Self.numbers)) : .string(pick(Self.strings)) }
                return .object(o)
            }
        }

        /// Every path to a value in the document, with the value.
        func paths(_ v: JSONValue, _ prefix: [String] = []) -> [([String], JSONValue)] {
            var out = [(prefix, v)]
            switch v {
            case let .object(o): for (k, x) in o.members { out += paths(x, prefix + [k]) }
            case let .array(a) where a.count <= 8: for (i, x) in a.enumerated() { out += paths(x, prefix + [String(i)]) }
            default: break
            }
            return out
        }

        mutating func mutate(_ doc: JSONValue) -> JSONValue {
            let all = paths(doc)
            let (path, target) = all[below(all.count)]
            switch (below(5), target) {
            case (0, _) where !path.isEmpty:
                return replace(doc, path[...], nil)
            case (1, .object(var o)):
                o[pick(Self.keys)] = value()
                return replace(doc, path[...], .object(o))
            case (2, .object(let o)) where !o.isEmpty:
                var renamed = JSONObject()
                let victim = o.keys[below(o.count)], to = pick(Self.keys)
                for (k, v) in o.members { renamed[k == victim ? to : k] = v }
                return replace(doc, path[...], .object(renamed))
            case (3, .string):
                return replace(doc, path[...], .string(pick(Self.strings)))
            case (3, .number):
                return replace(doc, path[...], .number(pick(Self.numbers)))
            default:
                return path.isEmpty ? doc : replace(doc, path[...], value())
            }
        }
    }

    /// Refusals the schema cannot express.
    static func inexpressible(_ d: SpecDiagnostic) -> Bool {
        d.message.contains("is ragged") || d.message.contains("interval needs lower < upper")
    }

    @Test func theSchemaAndTheDecoderAgreeOnMutatedSpecs() throws {
        let bases = try Self.validDocuments().filter { $0.utf8.count < 6000 }.map { try JSONParser.parse($0) }
        #expect(bases.count >= 20)
        var m = FormMutator(random: SplitMix64(seed: 18))
        var documents: [String] = []
        for i in 0..<4000 {
            var doc = bases[i % bases.count]
            for _ in 0..<(1 + m.below(2)) { doc = m.mutate(doc) }
            documents.append(doc.serialized())
        }
        let verdicts = try Self.schemaVerdicts(documents)
        #expect(verdicts.count == documents.count)
        var accepted = 0, refused = 0, disagreements: [String] = []
        for (document, verdict) in zip(documents, verdicts) {
            let problems: [SpecDiagnostic] = Self.decoderVerdict(document) ?? []
            let schemaAccepts = verdict == "accept"
            if problems.isEmpty { accepted += 1 } else { refused += 1 }
            if problems.isEmpty && !schemaAccepts {
                disagreements.append("decoder accepts, schema says \(verdict): \(document.prefix(300))")
            } else if !problems.isEmpty && schemaAccepts && !problems.allSatisfy(Self.inexpressible) {
                disagreements.append("decoder refuses (\(problems.map { "\($0.pointer): \($0.message)" }.joined(separator: "; "))), schema accepts: \(document.prefix(300))")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(5).joined(separator: "\n"))")
        // Both verdicts occur often enough for the comparison to mean something.
        #expect(accepted >= 300 && refused >= 1500, "accepted \(accepted), refused \(refused)")
    }
}
