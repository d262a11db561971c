#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Testing
@testable import Numerics

/// Sample mean and variance checked against closed forms: each within 4 standard errors,
/// s.e.(mean) = √(s²/n) and s.e.(variance) = √((m₄ − s⁴)/n), m₄ the fourth central moment.
struct MomentCheck {
    let mean: Double
    let variance: Double
    let meanError: Double
    let varianceError: Double

    init(_ xs: [Double]) {
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        var m2 = 0.0
        var m4 = 0.0
        for x in xs {
            let d = (x - mean) * (x - mean)
            m2 += d
            m4 += d * d
        }
        m2 /= n
        m4 /= n
        self.mean = mean
        self.variance = m2
        self.meanError = (m2 / n).squareRoot()
        self.varianceError = (max(m4 - m2 * m2, 0) / n).squareRoot()
    }

    func matches(mean expectedMean: Double, variance expectedVariance: Double) -> Bool {
        abs(mean - expectedMean) <= 4 * meanError && abs(variance - expectedVariance) <= 4 * varianceError
    }
}

let sampleCount = 100_000

func draws(seed: UInt64, _ draw: (inout RandomStream) -> Double) -> [Double] {
    var rng = RandomStream(seed: seed, stream: 7)
    return (0..<sampleCount).map { _ in draw(&rng) }
}

@Suite struct PhiloxTests {
    /// Random123 tests/kat_vectors, lines "philox4x32 10 …" and "philox4x32 7 …":
    /// counter (4 words), key (2 words), expected output (4 words).
    static let vectors: [(rounds: Int, counter: SIMD4<UInt32>, key: (UInt32, UInt32), output: SIMD4<UInt32>)] = [
        (10, SIMD4(0, 0, 0, 0), (0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
        (10, SIMD4(repeating: 0xffff_ffff), (0xffff_ffff, 0xffff_ffff),
         SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
        (10, SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0),
         SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        (7, SIMD4(0, 0, 0, 0), (0, 0), SIMD4(0x5f6f_b709, 0x0d89_3f64, 0x4f12_1f81, 0x4f73_0a48)),
        (7, SIMD4(repeating: 0xffff_ffff), (0xffff_ffff, 0xffff_ffff),
         SIMD4(0x5207_ddc2, 0x4516_5e59, 0x4d8e_e751, 0x8c52_f662)),
        (7, SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0),
         SIMD4(0x4dfc_caba, 0x190a_87f0, 0xc473_62ba, 0xb6b5_242a)),
    ]

    @Test func philoxMatchesTheRandom123KnownAnswerVectors() {
        for v in Self.vectors {
            let out = Philox4x32.rounds(v.rounds, counter: v.counter, key0: v.key.0, key1: v.key.1)
            #expect(out == v.output, "rounds \(v.rounds), counter \(v.counter)")
            if v.rounds == 10 {
                #expect(Philox4x32(key0: v.key.0, key1: v.key.1).block(v.counter) == v.output)
            }
        }
        let key: UInt64 = 0x299f_31d0_a409_3822
        #expect(Philox4x32(key: key) == Philox4x32(key0: 0xa409_3822, key1: 0x299f_31d0))
    }
}

@Suite struct RandomStreamTests {
    @Test func wordsAreThePhiloxBlockHalvesAtTheDocumentedCounter() {
        var zero = RandomStream(seed: 0, stream: 0, counter: 0)
        #expect(zero.nextUInt64() == 0xe169_c58d_6627_e8d5)
        #expect(zero.nextUInt64() == 0x9b00_dbd8_bc57_ac4c)
        #expect(zero.counter == 2)
        let block: UInt64 = 0x0123_4567_89ab_cdef
        var rng = RandomStream(seed: 0x299f_31d0_a409_3822, stream: 0x0370_7344_1319_8a2e, counter: 2 * block + 1)
        let out = Philox4x32(key: 0x299f_31d0_a409_3822)
            .block(SIMD4(0x89ab_cdef, 0x0123_4567, 0x1319_8a2e, 0x0370_7344))
        #expect(rng.nextUInt64() == UInt64(out[2]) | UInt64(out[3]) << 32)
        #expect(rng.counter == 2 * block + 2)
    }

    @Test func theSameTripleGivesTheSameDraws() {
        func mixed(_ rng: inout RandomStream) -> [Double] {
            var out: [Double] = []
            for _ in 0..<200 {
                out.append(rng.uniform())
                out.append(rng.normal())
                out.append(rng.gamma(shape: 0.7))
                out.append(Double(rng.poisson(rate: 40)))
                out.append(Double(rng.binomial(count: 300, probability: 0.6)))
                out.append(rng.beta(0.3, 2))
            }
            return out
        }
        var a = RandomStream(seed: 42, stream: 3, counter: 17)
        var b = RandomStream(seed: 42, stream: 3, counter: 17)
        #expect(mixed(&a) == mixed(&b))
        #expect(a == b)
        var otherStream = RandomStream(seed: 42, stream: 4, counter: 17)
        var otherSeed = RandomStream(seed: 43, stream: 3, counter: 17)
        var c = RandomStream(seed: 42, stream: 3, counter: 17)
        let reference = mixed(&c)
        #expect(mixed(&otherStream) != reference)
        #expect(mixed(&otherSeed) != reference)
    }

    @Test func savingAndRestoringMidStreamContinuesExactly() throws {
        for k in [0, 1, 2, 5, 10] {
            var uninterrupted = RandomStream(seed: 9, stream: 1)
            var interrupted = RandomStream(seed: 9, stream: 1)
            for _ in 0..<k {
                _ = uninterrupted.normal()
                _ = uninterrupted.uniform()
                _ = interrupted.normal()
                _ = interrupted.uniform()
            }
            let saved = try JSONEncoder().encode(interrupted)
            var restored = try JSONDecoder().decode(RandomStream.self, from: saved)
            #expect(restored == interrupted)
            for _ in 0..<50 {
                #expect(restored.normal() == uninterrupted.normal())
                #expect(restored.gamma(shape: 2.5) == uninterrupted.gamma(shape: 2.5))
                #expect(restored.nextUInt64() == uninterrupted.nextUInt64())
            }
        }
        // Without a pending spare normal the triple alone is the state.
        var original = RandomStream(seed: 5, stream: 2)
        for _ in 0..<13 { _ = original.uniform() }
        var fromTriple = RandomStream(seed: original.seed, stream: original.stream, counter: original.counter)
        for _ in 0..<100 { #expect(fromTriple.exponential() == original.exponential()) }
    }

    @Test func theCounterAdvancesOneWordPerUniformAndTwoPerNormalPair() {
        var rng = RandomStream(seed: 1)
        _ = rng.uniform()
        #expect(rng.counter == 1)
        _ = rng.normal()
        #expect(rng.counter == 3)
        _ = rng.normal()
        #expect(rng.counter == 3)
        #expect(rng.spareNormal == nil)
        _ = rng.normal()
        #expect(rng.spareNormal != nil)
        var buffer = [Double](repeating: 0, count: 11)
        let before = rng.counter
        buffer.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: 11) }
        #expect(rng.counter == before + 11)
    }

    @Test func bulkFillsEqualRepeatedScalarDraws() {
        for (start, count) in [(0, 0), (0, 1), (0, 10), (1, 10), (3, 7), (4, 1001)] {
            var bulk = RandomStream(seed: 77, stream: 5, counter: UInt64(start))
            var scalar = bulk
            var out = [Double](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { bulk.fillUniform($0.baseAddress!, count: count) }
            #expect(out == (0..<count).map { _ in scalar.uniform() })
            out.withUnsafeMutableBufferPointer { bulk.fillNormal($0.baseAddress!, count: count) }
            #expect(out == (0..<count).map { _ in scalar.normal() })
            out.withUnsafeMutableBufferPointer { bulk.fillGumbel($0.baseAddress!, count: count) }
            #expect(out == (0..<count).map { _ in scalar.gumbel() })
            #expect(bulk == scalar)
        }
    }

    @Test func uniformNeverReturnsZeroOrOne() {
        #expect(RandomStream.openUnit(0) == 0x1p-54)
        #expect(RandomStream.openUnit(.max) == 1 - 0x1p-53)
        #expect(RandomStream.openUnit(.max) < 1)
        var rng = RandomStream(seed: 123)
        var buffer = [Double](repeating: 0, count: 1_000_000)
        buffer.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: $0.count) }
        #expect(buffer.allSatisfy { $0 > 0 && $0 < 1 })
        let check = MomentCheck(buffer)
        #expect(check.matches(mean: 0.5, variance: 1.0 / 12))
    }

    @Test func normalExponentialAndGumbelHaveTheirClosedFormMoments() {
        let normal = MomentCheck(draws(seed: 1) { $0.normal() })
        #expect(normal.matches(mean: 0, variance: 1), "normal \(normal)")
        let exponential = MomentCheck(draws(seed: 2) { $0.exponential() })
        #expect(exponential.matches(mean: 1, variance: 1), "exponential \(exponential)")
        let gumbel = MomentCheck(draws(seed: 3) { $0.gumbel() })
        #expect(gumbel.matches(mean: Special.eulerGamma, variance: Double.pi * Double.pi / 6), "gumbel \(gumbel)")
    }

    @Test(arguments: [0.01, 0.1, 0.5, 1.0, 2.5, 30.0, 1e4])
    func gammaHasMeanAndVarianceEqualToItsShape(shape: Double) {
        let check = MomentCheck(draws(seed: 10) { $0.gamma(shape: shape) })
        #expect(check.matches(mean: shape, variance: shape), "gamma(\(shape)) \(check)")
    }

    @Test(arguments: [(0.5, 0.5), (2.0, 5.0), (0.1, 3.0), (40.0, 15.0)])
    func betaHasItsClosedFormMoments(a: Double, b: Double) {
        let check = MomentCheck(draws(seed: 11) { $0.beta(a, b) })
        let s = a + b
        #expect(check.matches(mean: a / s, variance: a * b / (s * s * (s + 1))), "beta(\(a), \(b)) \(check)")
    }

    @Test(arguments: [0.05, 0.5, 3.0, 9.99, 10.0, 25.0, 1000.0, 1e7])
    func poissonHasMeanAndVarianceEqualToItsRate(rate: Double) {
        let check = MomentCheck(draws(seed: 12) { Double($0.poisson(rate: rate)) })
        #expect(check.matches(mean: rate, variance: rate), "poisson(\(rate)) \(check)")
    }

    @Test(arguments: [(20, 0.1), (1000, 0.005), (7, 0.5), (100, 0.3), (1000, 0.5), (50, 0.9),
                      (5000, 0.8), (1_000_000, 0.37)])
    func binomialHasItsClosedFormMomentsForSmallAndLargeMeansAndBothSidesOfOneHalf(count: Int, probability: Double) {
        let check = MomentCheck(draws(seed: 13) { Double($0.binomial(count: count, probability: probability)) })
        let n = Double(count)
        #expect(check.matches(mean: n * probability, variance: n * probability * (1 - probability)),
                "binomial(\(count), \(probability)) \(check)")
    }

    @Test func degenerateDiscreteParametersAreExact() {
        var rng = RandomStream(seed: 3)
        #expect(rng.poisson(rate: 0) == 0)
        #expect(rng.binomial(count: 10, probability: 0) == 0)
        #expect(rng.binomial(count: 10, probability: 1) == 10)
        #expect(rng.binomial(count: 0, probability: 0.4) == 0)
        for _ in 0..<1000 {
            let k = rng.binomial(count: 30, probability: 0.97)
            #expect(k >= 0 && k <= 30)
        }
    }
}
