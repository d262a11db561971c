import Testing
import CVecMath
@testable import Numerics

/// CVecMath's Adam step (the optimiser's hot loop) in every variant this CPU has, against the
/// formula written out here as Swift rounds it: bit for bit, for lengths around the 8-lane
/// vector width and gradients from 0 through 1e±150 (where a fused multiply-add would differ).
@Suite struct AdamKernelTests {
    /// The scalar update exactly as `ParameterOptimizer` wrote it before the kernel.
    static func reference(_ x: inout [Double], _ m: inout [Double], _ v: inout [Double], _ g: [Double],
                          b1: Double, b2: Double, step: Double, bc2s: Double, eps: Double) {
        let a1 = 1 - b1, a2 = 1 - b2
        for i in x.indices {
            let gi = g[i]
            let mi = b1 * m[i] + a1 * gi
            let vi = b2 * v[i] + a2 * gi * gi
            m[i] = mi; v[i] = vi
            x[i] = x[i] - step * (mi / (vi.squareRoot() / bc2s + eps))
        }
    }

    @Test(arguments: [0, 1, 7, 8, 9, 15, 16, 33, 1506])
    func everyVariantStepsAsTheScalarFormulaBitForBit(count: Int) {
        var rng = RandomStream(seed: 19, stream: UInt64(count))
        let scales = [0.0, 1e-150, 1e-8, 1, 3.7, 1e8, 1e150]
        func draw() -> Double { (rng.uniform() * 2 - 1) * scales[Int(rng.nextUInt64() % UInt64(scales.count))] }
        let x0 = (0..<count).map { _ in draw() }, m0 = (0..<count).map { _ in draw() }
        let v0 = (0..<count).map { _ in abs(draw()) }, g = (0..<count).map { _ in draw() }
        for (b1, b2, step, bc2s, eps) in [(0.9, 0.999, 0.05, 0.0316, 1e-8), (0.5, 0.75, 1e-3 / 0.19, 1, 0.0)] {
            var x = x0, m = m0, v = v0
            Self.reference(&x, &m, &v, g, b1: b1, b2: b2, step: step, bc2s: bc2s, eps: eps)
            for level in 0...Int(svm_cpu_level()) {
                var xk = x0, mk = m0, vk = v0
                xk.withUnsafeMutableBufferPointer { xp in mk.withUnsafeMutableBufferPointer { mp in vk.withUnsafeMutableBufferPointer { vp in
                    svm_adam_at(Int32(level), xp.baseAddress, mp.baseAddress, vp.baseAddress, g, count, b1, 1 - b1, b2, 1 - b2, step, bc2s, eps)
                } } }
                #expect(xk.map(\.bitPattern) == x.map(\.bitPattern), "x, level \(level)")
                #expect(mk.map(\.bitPattern) == m.map(\.bitPattern), "m, level \(level)")
                #expect(vk.map(\.bitPattern) == v.map(\.bitPattern), "v, level \(level)")
            }
        }
    }
}
