import Testing
import Foundation
import CVecMath
import Numerics
@testable import Autodiff

/// The OMT backward rule (estimators.md §2.2) is invariant under L → cL with ε and the output
/// adjoint fixed: z₀ scales by c, Σ⁻¹ by c⁻², L⁻¹ by c⁻¹, and every term of ∂L is unchanged. With
/// c a power of two the scaled inputs are exact, so each path (the fixed-width routine, the
/// own-product routine, the OpenBLAS sequence, LAPACK above 64) must give the unscaled gradient
/// to its own rounding. Before the commutator weights took the ratio (λᵢ − λⱼ)/(λᵢ + λⱼ) first,
/// Ĉ/(λᵢ + λⱼ) (of size |c|³) underflowed to 0 below |c| ≈ 2⁻³⁴⁰ (the commutator term lost: ∂L
/// off by O(1)) and overflowed above 2³⁴⁰ (∂L NaN). c = 2²⁰⁰ (|L| ≈ 10⁶⁰, Σ⁻¹ ≈ 2⁻⁴⁰⁰) gave a NaN ∂L
/// on every path that runs the project's eigensolver until it scaled matrices beyond 2^±100
/// (it returned zero eigenvalues at 2^−404…2^−348).
@Suite struct OMTScaleInvarianceTests {
    @Test(arguments: [3, 8, 16, 17, 50, 64, 70])
    func theOMTGradientIsUnchangedWhenLIsScaledByAPowerOfTwo(_ d: Int) throws {
        var rng = TestValues(seed: UInt64(700 + d))
        let lT = MVNGradientEstimatorTests.randomScaleTril(d, &rng), epsT = rng.tensor([2, d]), wT = rng.tensor([2, d])
        func gradient(_ c: Double, own: Bool) throws -> [Double] {
            let g = Graph()
            let loc = g.parameter("loc", Tensor(shape: [d], scalars: [Double](repeating: 0.1, count: d)))
            let scale = g.parameter("scale_tril", Tensor(shape: [d, d], scalars: lT.scalars.map { $0 * c }))
            let eps = g.input("eps", shape: [2, d])
            let z = g.mvnSampleOMT(loc: loc, scaleTril: scale, noise: eps)
            let tape = try g.compile(loss: g.sum(z * g.constant(wT)))
            tape.setValue(eps, epsT)
            tape.omtUsesOwnProducts = own
            tape.forward(); tape.backward()
            #expect(tape.fault == nil)
            return tape.gradient(of: scale).scalars
        }
        let paths = d > Int(SME_FIXED_WIDTH) && d <= Int(SMP_OMT_MAX) && smp_available() != 0 ? [true, false] : [smp_available() != 0]
        for own in paths {
            let want = try gradient(1, own: own)
            let size = want.map(Swift.abs).max()!
            for c in [0x1p-400, 0x1p-200, 0x1p200, 0x1p400] {
                let got = try gradient(c, own: own)
                let error = zip(got, want).map { Swift.abs($0 - $1) }.max()!
                // The eigensolver scales by powers of two itself: the same rounding, up to its
                // threshold choices; the existing loop-reference bound (1e-10 of the largest entry) holds.
                #expect(got.allSatisfy(\.isFinite) && error <= 1e-10 * size, "d = \(d), own \(own), c = \(c): error \(error) of \(size), non-finite \(got.filter { !$0.isFinite }.count)")
            }
        }
    }
}
