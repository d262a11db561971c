import Autodiff
import Foundation
import Inference
import JSON
import ModelSpec
import Testing
import Workloads

/// `sviserve-bench` builds each row of ``BenchmarkRow/all`` with the `ProgramBuilder`;
/// `sviserve bench` (no files) compiles the same rows from their JSON specs, and
/// `sviserve-bench --write-specs` writes those specs. Both reports have the same rows only if
/// every row's spec is the builder's model: these tests hold the two lists together.
@Suite struct BenchmarkRowsTests {
    @Test func theRowsAreTheBenchmarksRowsOnceEach() {
        let names = BenchmarkRow.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names == ["normal_normal_replay", "normal_normal_reparam",
                          "logreg_N1000_D10_reparam_p1", "logreg_N1000_D10_omt_p1", "logreg_N1000_D10_avf_p1",
                          "logreg_N10000_D50_reparam_p1", "logreg_N10000_D50_omt_p1", "logreg_N1000_D10_reparam_p16",
                          "gmm_N500_K3_relaxed_st", "gmm_N500_K3_score"])
    }

    /// The spec compiles to a job of the row's name with the builder's parameters (names,
    /// shapes, constraints), latent sites and estimators, and particles.
    @Test(arguments: BenchmarkRow.all.indices)
    func everyRowsSpecIsTheBuildersModel(_ index: Int) throws {
        let row = BenchmarkRow.all[index]
        let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(row.spec())))
        let built = try row.program()
        #expect(job.name == row.name)
        #expect(job.program.particles == built.particles)
        func parameters(_ p: CompiledProgram) -> [String] {
            p.parameters.filter { $0.role == .program }.map { "\($0.name) \($0.raw.shape) \($0.transform)" }.sorted()
        }
        #expect(parameters(job.program) == parameters(built))
        #expect(job.program.sites.map(\.name) == built.sites.map(\.name))
        #expect(job.program.sites.map(\.estimator) == built.sites.map(\.estimator))
    }

    /// The score-function mixture's spec (`mu[z]`, Categorical logits, decaying-average
    /// baseline) compiles to the fused categorical draw, as its builder program does.
    @Test func theScoreMixtureRowFusesItsCategoricalDrawFromTheSpecAndTheBuilder() throws {
        let row = try #require(BenchmarkRow.all.first { $0.name == "gmm_N500_K3_score" })
        let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(row.spec())))
        for program in [job.program, try row.program()] {
            #expect(program.tape.appliedFusions.filter { $0.fusion == .categoricalDrawPlate }.count == 1)
        }
    }

    @Test func writeSpecsWritesEveryRowIncludingTheLargeOMTRow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-specs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BenchmarkRow.writeSpecs(to: dir)
        let written = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(written == BenchmarkRow.all.map { "\($0.name).json" }.sorted())
        #expect(written.contains("logreg_N10000_D50_omt_p1.json"))
    }
}
