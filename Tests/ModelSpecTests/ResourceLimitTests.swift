import Foundation
import JSON
import Testing
@testable import ModelSpec

/// Issue 15's validation reproductions: sizes that overflow, constants and plates past the
/// limits, costly constant folding — each refused with the pointer of the part at fault and
/// what to change, before anything of it is evaluated or allocated.
@Suite struct ResourceLimitTests {
    /// A job with one observed site and the given guide statements, plates and particles.
    static func spec(guide: String, plates: String = "{}", model: String? = nil, particles: Int = 1) -> String {
        """
        {"plates": \(plates),
         "model": \(model ?? #"[{"sample": "y", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "obs": 0.5}]"#),
         "guide": \(guide), "inference": {"steps": 3, "particles": \(particles)}}
        """
    }

    /// A spec whose site `z` lies in `plates` in guide and model.
    static func platedSpec(_ sizes: [Int], particles: Int = 1) -> String {
        let names = sizes.indices.map { "p\($0)" }
        let plates = "{" + zip(names, sizes).map { "\"\($0)\": {\"size\": \($1)}" }.joined(separator: ", ") + "}"
        let list = "[" + names.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        let site = #"{"sample": "z", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "plates": \#(list)}"#
        return spec(guide: "[\(site)]", plates: plates, model: "[\(site)]", particles: particles)
    }

    static func only(_ text: String, limits: ValidationLimits = .standard) -> [SpecDiagnostic] {
        do {
            _ = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)), limits: limits)
            return []
        } catch let e as SpecErrors { return e.diagnostics } catch { return [SpecDiagnostic(pointer: "", message: "\(error)")] }
    }

    @Test func aConstantWhoseSizeOverflowsIsRefusedAtItsInit() {
        let found = Self.only(Self.spec(guide: #"[{"param": "m", "init": "zeros(10000000,10000000,10000000)"}]"#))
        #expect(found.count == 1 && found[0].pointer == "/guide/0/init", "\(found)")
        #expect(found.first?.message.contains("more numbers than a 64-bit count holds") == true, "\(found)")
    }

    @Test(arguments: [([100_000_000, 100_000_000, 100_000_000], 1), ([100_000_000, 100_000_000], 1000)])
    func platesWhoseProductOverflowsAreRefusedAtTheFirstSite(sizes: [Int], particles: Int) {
        let found = Self.only(Self.platedSpec(sizes, particles: particles))
        #expect(found.count == 1 && found[0].pointer == "/guide/0", "\(found)")
        #expect(found.first?.message.contains("Fewer particles, smaller plates") == true, "\(found)")
    }

    @Test(arguments: ["eye(10000000)", "diag(ones(10000000))", "diag(ones(30000))"])
    func squareConstantsAreCountedBySquare(expression: String) {
        let found = Self.only(Self.spec(guide: #"[{"let": "e", "value": "\#(expression)"}]"#))
        #expect(found.count == 1 && found[0].pointer == "/guide/0/value", "\(found)")
        #expect(found.first.map { $0.message.contains("numbers") && ($0.message.contains("at most") || $0.message.contains("limit")) } == true, "\(found)")
    }

    @Test func fortyLargeLetsAreEachRefusedWithoutBeingBuilt() {
        let lets = (0..<40).map { #"{"let": "l\#($0)", "value": "ones(5000, 10000)"}"# }.joined(separator: ", ")
        let start = Date()
        let found = Self.only(Self.spec(guide: "[\(lets)]"))
        #expect(found.count == 40 && found.map(\.pointer) == (0..<40).map { "/guide/\($0)/value" }, "\(found.prefix(2))")
        #expect(found.first?.message.contains("a constant may hold at most 8,388,608 numbers") == true)
        // Nothing of 16 GB was built: answering took far less than allocating it would.
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func lotsOfSmallerLetsStopAtTheGraphBudget() {
        // 8 MB each: eight fit in 64 MiB of graph memory, the ninth and tenth do not.
        let lets = (0..<10).map { #"{"let": "l\#($0)", "value": "ones(1000, 1000)"}"# }.joined(separator: ", ")
        let found = Self.only(Self.spec(guide: "[\(lets)]"), limits: ValidationLimits(maxGraphBytes: 64 << 20))
        #expect(found.map(\.pointer) == ["/guide/8/value", "/guide/9/value"], "\(found)")
        #expect(found.first?.message.contains("constants and index tables") == true, "\(found)")
    }

    @Test func aPlateSizeThatMultipliesHugeMatricesIsRefusedBeforeItIsComputed() {
        let text = #"{"plates": {"p": {"size": "1 + 0*sum(zeros(7000,7000) @ zeros(7000,7000))"}}, "model": [{"sample": "y", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "obs": 0.5}], "guide": []}"#
        let found = Self.only(text)
        #expect(found.count == 1 && found[0].pointer == "/plates/p/size", "\(found)")
    }

    @Test func chainedMatrixProductsAreRefusedByTheirOperationCount() {
        let text = Self.spec(guide: #"[{"let": "c", "value": "sum(ones(2000,2000) @ ones(2000,2000) @ ones(2000,2000))"}]"#)
        let found = Self.only(text)
        #expect(found.count == 1 && found[0].pointer == "/guide/0/value", "\(found)")
        #expect(found.first?.message.contains("operations; an expression may take at most 2e9") == true, "\(found)")
    }

    @Test func aPlateSizeTooCostlyForValidationIsRefusedWithWhatToDo() {
        // 5.4e7 operations: allowed in a job's constants, not while validating.
        let text = #"{"plates": {"p": {"size": "1 + 0*sum(ones(300,300) @ ones(300,300))"}}, "model": [{"sample": "y", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "obs": 0.5}], "guide": []}"#
        let found = Self.only(text)
        #expect(found.count == 1 && found[0].pointer == "/plates/p/size", "\(found)")
        #expect(found.first?.message.contains("pass it as a number or as data") == true, "\(found)")
    }

    @Test func theLimitsAreConfigurable() {
        let text = Self.platedSpec([1_000_000])
        #expect(Self.only(text) == [])
        let tight = ValidationLimits(maxJobBytes: 32 << 20)
        let found = Self.only(text, limits: tight)
        #expect(found.count == 1 && found[0].pointer == "/guide/0" && found[0].message.contains("the limit is 32 MiB"), "\(found)")
    }

    @Test func theEstimateCoversTapeGraphOptimiserCheckpointAndResult() throws {
        let text = """
        {"plates": {"p": {"size": 1000000}},
         "model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "plates": ["p"]}],
         "guide": [{"param": "m", "init": "zeros(1000000)"}, {"param": "s", "init": "ones(1000000)", "constraint": "positive"},
                   {"sample": "z", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "plates": ["p"]}]}
        """
        let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))
        let m = job.memory
        #expect(m.tape >= job.program.tape.arenaBytes)
        #expect(m.optimizer >= 16 * 2_000_000)
        #expect(m.checkpoint >= 3 * 8 * 2_000_000)
        // The summary of a million-element site is bounded (10,000 elements streamed), the
        // params' result text is not.
        #expect(m.result >= 8 * 2_000_000 && m.result < 8 * 2_000_000 + 300 << 20, "\(m)")
        #expect(job.estimatedBytes == m.tape + m.graph + m.optimizer + m.checkpoint + m.result + m.runtime)
    }

    /// A job's `let` summaries replay a second tape at the end of the run: the estimate (from
    /// which a worker's address-space limit is set) counts it, bounded by the training tape.
    @Test func theEstimateCountsTheLetSummariesTape() throws {
        func job(withLet: Bool) throws -> CompiledJob {
            let lets = withLet ? #", {"let": "twice", "value": "2 * z"}"# : ""
            let text = """
            {"plates": {"p": {"size": 100000}},
             "model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "plates": ["p"]}\(lets)],
             "guide": [{"param": "m", "init": "zeros(100000)"}, {"param": "s", "init": "ones(100000)", "constraint": "positive"},
                       {"sample": "z", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "plates": ["p"]}]}
            """
            return try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(text)))
        }
        let plain = try job(withLet: false), derived = try job(withLet: true)
        #expect(derived.summarisesLets && !plain.summarisesLets)
        let lets = try PosteriorDraws(derived, outputs: derived.summarisedLets)
        #expect(derived.memory.result - plain.memory.result >= lets.tape.heldBytes, "\(derived.memory) vs \(plain.memory)")
        #expect(derived.memory.result >= plain.memory.result + derived.program.tape.heldBytes)
    }

    @Test func aNegativeConstantScaleIsTheOnlyProblemReported() {
        let text = """
        {"model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0, "scale": -1}}],
         "guide": [{"param": "m", "init": 0.0}, {"sample": "z", "dist": "Normal", "args": {"loc": "m", "scale": 1}}]}
        """
        let found = Self.only(text)
        #expect(found.map(\.pointer) == ["/model/0/args/scale"], "\(found)")
    }
}
