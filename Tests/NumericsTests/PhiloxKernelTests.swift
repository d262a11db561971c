import Testing
import CVecMath
@testable import Numerics

/// CVecMath's Philox uniforms (the fused relaxed one-hot kernel's noise) against
/// `RandomStream.fillUniform`, the engine's generator: bit for bit, from even and odd words.
@Suite struct PhiloxKernelTests {
    @Test(arguments: [(UInt64(0), UInt64(0), UInt64(0)), (0x299f_31d0_a409_3822, 0x0370_7344_1319_8a2e, 7),
                      (42, 12, 5 << 32), (42, 12, (5 << 32) + 193), (.max, .max, .max - 2000), (3, 1 << 40, 0xFFFF_FFFF)])
    func theKernelWritesTheStreamsUniformsBitForBit(seed: UInt64, stream: UInt64, first: UInt64) {
        for count in [0, 1, 2, 3, 17, 192, 1001] {
            var rng = RandomStream(seed: seed, stream: stream, counter: first)
            var expected = [Double](repeating: 0, count: count + 1), got = expected
            expected.withUnsafeMutableBufferPointer { rng.fillUniform($0.baseAddress!, count: count) }
            got.withUnsafeMutableBufferPointer { svm_philox_uniform(seed, stream, first, $0.baseAddress!, count) }
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "seed \(seed) stream \(stream) first \(first) count \(count)")
        }
    }
}
