import Testing
import Foundation
import Numerics
@testable import Autodiff

/// The one-instruction `lower_cholesky` map at the shapes the five-op form handled without
/// thought: a batch of 1×1 factors, a d that leaves a tail past the vector width, an empty
/// batch of 0×0 matrices — values against the closed form, gradients against central
/// differences.
@Suite struct LowerCholeskyFactorTests {
    /// y = strict lower triangle of x, exp on the diagonal, 0 above.
    static func expected(_ x: Tensor) -> [Double] {
        let d = x.shape.last!
        return x.scalars.indices.map { k in
            let i = (k / d) % d, j = k % d
            return j < i ? x.scalars[k] : (j == i ? Foundation.exp(x.scalars[k]) : 0)
        }
    }

    @Test(arguments: [[3, 1, 1], [2, 9, 9], [1, 17, 17], [2, 0, 0]])
    func theMapIsTheClosedFormAndItsGradientTheFiniteDifference(_ shape: [Int]) throws {
        var r = TestValues(seed: 31)
        let x = r.tensor(shape, -2, 2)
        let g = Graph()
        let y = g.lowerCholeskyFactor(g.constant(x))
        let tape = try g.compile(outputs: [y])
        tape.forward()
        let out = tape.value(of: y).scalars
        #expect(out.count == x.count)
        // exp is faithful to a couple of ulp; the copied entries are exact.
        for (k, e) in Self.expected(x).enumerated() {
            #expect(Swift.abs(out[k] - e) <= 4 * Double.ulpOfOne * Swift.abs(e), "\(shape) entry \(k): \(out[k]) vs \(e)")
        }
        if x.count > 0 {
            #expect(try gradientMismatch([x]) { g, p in g.lowerCholeskyFactor(p[0]) } < 1e-6, "\(shape)")
        }
    }
}
