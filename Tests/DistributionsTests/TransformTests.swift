import Testing
import Numerics
import Autodiff
@testable import Distributions

/// torch's constraint transforms: the right map per constraint, exact inverses, and
/// log-det-Jacobians equal to finite-difference Jacobians.
@Suite struct TransformTests {
    @Test func constraintsMapToTorchsTransforms() throws {
        #expect(try Transform.transformTo(.positive) == .exp)
        #expect(try Transform.transformTo(.unitInterval) == .sigmoid)
        #expect(try Transform.transformTo(.interval(-1, 3)) == .affineSigmoid(lower: -1, upper: 3))
        #expect(try Transform.transformTo(.simplex) == .softmax)
        #expect(try Transform.bijectTo(.simplex) == .stickBreaking)
        #expect(try Transform.transformTo(.lowerCholesky) == .lowerCholesky)
        #expect(throws: DistributionError.self) { try Transform.transformTo(.boolean) }
    }

    static let cases: [(Transform, Tensor)] = [
        (.exp, Tensor([0.5, 2, 1e-3])),
        (.sigmoid, Tensor([0.1, 0.5, 0.97])),
        (.affineSigmoid(lower: -1, upper: 3), Tensor([-0.5, 0, 2.9])),
        (.softmax, Tensor([0.1, 0.2, 0.3, 0.4])),
        (.stickBreaking, Tensor([0.1, 0.2, 0.3, 0.4])),
        (.lowerCholesky, Tensor(rows: [[1.5, 0, 0], [0.3, 0.2, 0], [-0.4, 0.1, 2]])),
    ]

    @Test(arguments: cases.indices)
    func inverseRecoversTheConstrainedValue(_ i: Int) {
        let (t, y) = Self.cases[i]
        let x = t.inverse(y)
        #expect(x.shape == t.unconstrainedShape(y.shape))
        let back = t.forward(x)
        for (a, b) in zip(back.scalars, y.scalars) { #expect(Swift.abs(a - b) < 1e-12, "\(t): \(back.scalars) vs \(y.scalars)") }
    }

    @Test func simplexParamInitIsTheLogOfTheProbabilities() {
        // Pyro's param store: an unconstrained simplex param starts at log p.
        let x = Transform.softmax.inverse(Tensor([0.1, 0.2, 0.3, 0.4]))
        #expect(x.scalars == [0.1, 0.2, 0.3, 0.4].map { logarithm($0) })
    }

    /// log|det J| against a central-difference Jacobian of the first k − 1 outputs.
    @Test(arguments: [Transform.exp, .sigmoid, .affineSigmoid(lower: -2, upper: 5), .stickBreaking])
    func logDetJacobianMatchesFiniteDifferences(_ t: Transform) throws {
        let x = t == .stickBreaking ? Tensor([0.3, -0.8, 1.2]) : Tensor([0.3, -0.8, 1.2])
        let g = Graph()
        let xn = g.constant(x)
        let ldj = try t.logAbsDetJacobian(xn, t(xn))
        let tape = try g.compile(outputs: [ldj])
        tape.forward()
        let h = 1e-6
        if t.eventDims == 0 {
            let got = tape.value(of: ldj).scalars
            for i in 0..<x.count {
                var xp = x, xm = x
                xp.scalars[i] += h; xm.scalars[i] -= h
                let d = (t.forward(xp).scalars[i] - t.forward(xm).scalars[i]) / (2 * h)
                #expect(Swift.abs(got[i] - logarithm(Swift.abs(d))) < 1e-7)
            }
        } else {
            let k1 = x.count
            var jac = Array(repeating: 0.0, count: k1 * k1)
            for j in 0..<k1 {
                var xp = x, xm = x
                xp.scalars[j] += h; xm.scalars[j] -= h
                let yp = t.forward(xp).scalars, ym = t.forward(xm).scalars
                for i in 0..<k1 { jac[i * k1 + j] = (yp[i] - ym[i]) / (2 * h) }
            }
            #expect(Swift.abs(tape.scalar(of: ldj) - logarithm(Swift.abs(determinant(jac, k1)))) < 1e-7)
        }
    }

    func determinant(_ a: [Double], _ n: Int) -> Double {
        var m = a, det = 1.0
        for c in 0..<n {
            let p = (c..<n).max { Swift.abs(m[$0 * n + c]) < Swift.abs(m[$1 * n + c]) }!
            if p != c { for k in 0..<n { m.swapAt(p * n + k, c * n + k) }; det = -det }
            det *= m[c * n + c]
            for r in (c + 1)..<n {
                let f = m[r * n + c] / m[c * n + c]
                for k in c..<n { m[r * n + k] -= f * m[c * n + k] }
            }
        }
        return det
    }

    @Test func paramsWithoutJacobianSaySo() {
        let g = Graph()
        let x = g.constant(Tensor([0.1, 0.2]))
        #expect(throws: DistributionError.self) { try Transform.softmax.logAbsDetJacobian(x, Transform.softmax(x)) }
    }
}

/// The `lower_cholesky` transform's inverse and forward (now one graph instruction) as a round
/// trip over batches of factors, a 1×1 factor and a d past the vector width.
@Suite struct LowerCholeskyRoundTripTests {
    @Test(arguments: [[4, 1, 1], [2, 3, 3], [9, 9]])
    func aBatchOfFactorsSurvivesTheRoundTrip(_ shape: [Int]) {
        let d = shape.last!
        let y = Tensor(shape: shape, scalars: (0..<Shape.count(shape)).map { k in
            let i = (k / d) % d, j = k % d
            return j > i ? 0 : (j == i ? 0.3 + 0.1 * Double(k % 7) : 0.2 * Double(k % 5) - 0.4)
        })
        let x = Transform.lowerCholesky.inverse(y)
        #expect(x.shape == shape)
        let back = Transform.lowerCholesky.forward(x)
        #expect(back.shape == shape)
        for (a, b) in zip(back.scalars, y.scalars) { #expect(Swift.abs(a - b) <= 4 * Double.ulpOfOne * Swift.max(Swift.abs(b), 1), "\(shape)") }
    }
}
