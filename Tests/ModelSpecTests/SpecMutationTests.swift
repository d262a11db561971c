import Testing
import Inference
@testable import ModelSpec
import TestSupport

/// Random mutations of valid specs — dropped keys, wrong types, huge and tiny numbers,
/// garbage expressions, deep nesting — must each be answered (refused with diagnostics, or
/// compiled and run) without a crash.
@Suite struct SpecMutationTests {
    /// A fixed-seed generator for the mutations.
    struct Mutator {
        var random: SplitMix64
        init(state: UInt64) { random = SplitMix64(seed: state) }
        mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(n, 1))) }

        static let replacements: [JSONValue] = [
            .null, .bool(true), .number(0), .number(-1), .number(1e308), .number(-1e308), .number(1e9), .number(0.5),
            .number(4097), .string(""), .string("x"), .string("exp(exp(exp(1e3)))"), .string("zeros(100000, 100000)"),
            .string("((((((((((1))))))))))"), .string("x[9]"), .string("z @ z"), .string("-"), .string("log(-1)"),
            .array([]), .array([.number(1), .string("a")]), .object(JSONObject()),
            .string("NaN"), .string("sum(x, 7)"), .string("len(z)"), .string("softmax(x, -3)"),
        ]

        /// Every pointer in the document.
        func paths(_ v: JSONValue, _ prefix: [String] = []) -> [[String]] {
            var out = [prefix]
            switch v {
            case let .object(o): for (k, x) in o.members { out += paths(x, prefix + [k]) }
            case let .array(a): for (i, x) in a.enumerated() { out += paths(x, prefix + [String(i)]) }
            default: break
            }
            return out
        }

        mutating func mutate(_ doc: JSONValue) -> JSONValue {
            let all = paths(doc).filter { !$0.isEmpty }
            let path = all[below(all.count)]
            switch below(4) {
            case 0: return replace(doc, path[...], nil)
            case 1:
                var deep = JSONValue.number(1)
                for _ in 0..<(20 + below(200)) { deep = .array([deep]) }
                return replace(doc, path[...], deep)
            default:
                return replace(doc, path[...], Self.replacements[below(Self.replacements.count)])
            }
        }
    }

    @Test func mutatedSpecsAreAnsweredWithoutACrash() throws {
        var m = Mutator(state: 2026)
        let base = try JSONParser.parse(baseSpec)
        var refused = 0, ran = 0
        for _ in 0..<1500 {
            var doc = base
            for _ in 0..<(1 + m.below(3)) { doc = m.mutate(doc) }
            let text = doc.serialized()
            do {
                let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))
                var spec = job.inference
                spec.steps = min(spec.steps, 3)
                let small = CompiledJob(name: job.name, program: job.program, inference: spec, sites: job.sites, warnings: job.warnings)
                _ = try? JobRunner.run(small)
                ran += 1
            } catch let e as SpecErrors {
                #expect(!e.diagnostics.isEmpty)
                #expect(e.diagnostics.allSatisfy { !$0.message.isEmpty })
                refused += 1
            } catch is JSONParseError {
                refused += 1
            }
        }
        #expect(refused > 0 && ran > 0, "refused \(refused), ran \(ran)")
    }
}
