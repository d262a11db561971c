import JSON
import Testing
import Inference
@testable import ModelSpec
import SpecFuzzing

/// Random mutations of valid specs — dropped keys, wrong types, huge and tiny numbers,
/// garbage expressions, deep nesting — must each be answered (refused with diagnostics, or
/// compiled and run) without a crash.
@Suite struct SpecMutationTests {
    @Test func mutatedSpecsAreAnsweredWithoutACrash() throws {
        var m = SpecMutator(seed: 2026, replacements: SpecMutator.classic)
        let base = try JSONParser.parse(baseSpec)
        var refused = 0, ran = 0
        for _ in 0..<1500 {
            let text = m.mutated(base).serialized()
            do {
                let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))
                var spec = job.inference
                spec.steps = min(spec.steps, 3)
                let small = CompiledJob(name: job.name, program: job.program, inference: spec, sites: job.sites, warnings: job.warnings)
                _ = try? JobRun(small).run()
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
