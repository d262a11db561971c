@testable import Numerics
import TestSupport

/// Deterministic test matrices and naive reference computations for the linear-algebra and
/// Gaussian-transport tests. Self-contained (SplitMix64) so these tests do not depend on the
/// engine's random number generator.
struct LinalgFixtures {
    private var random: SplitMix64

    /// A generator whose sequence is fixed by `seed`.
    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// The next 64 random bits.
    mutating func nextBits() -> UInt64 { random.next() }

    /// Uniform on [-1, 1).
    mutating func uniform() -> Double {
        Double(nextBits() >> 11) * 0x1p-53 * 2 - 1
    }

    /// `count` uniform values on [-1, 1).
    mutating func values(_ count: Int) -> [Double] {
        (0..<count).map { _ in uniform() }
    }

    /// An m×n matrix of uniform entries.
    mutating func matrix(_ m: Int, _ n: Int) -> Tensor {
        Tensor(shape: [m, n], scalars: values(m * n))
    }

    /// A random symmetric positive-definite n×n matrix B Bᵀ + `ridge`·I.
    mutating func spd(_ n: Int, ridge: Double = 0.5) -> Tensor {
        let b = matrix(n, n)
        var s = naiveProduct(b, naiveTranspose(b))
        for i in 0..<n { s[i, i] += ridge }
        return LinearAlgebra.symmetrised(s)
    }

    /// A random orthogonal n×n matrix (eigenvectors of a random symmetric matrix).
    mutating func orthogonal(_ n: Int) -> Tensor {
        let b = matrix(n, n)
        let sym = LinearAlgebra.symmetrised(naiveSum(b, naiveTranspose(b)))
        return LinearAlgebra.symmetricEigen(sym).vectors
    }
}

/// a·b by the triple loop.
func naiveProduct(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    var c = Tensor.zeros([m, n])
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += a[i, p] * b[p, j] }
            c[i, j] = s
        }
    }
    return c
}

/// aᵀ by loops.
func naiveTranspose(_ a: Tensor) -> Tensor {
    var t = Tensor.zeros([a.shape[1], a.shape[0]])
    for i in 0..<a.shape[0] {
        for j in 0..<a.shape[1] { t[j, i] = a[i, j] }
    }
    return t
}

/// a + b element-wise.
func naiveSum(_ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })
}

/// a − b element-wise.
func naiveDifference(_ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 - $1 })
}

/// The diagonal matrix with `d` on its diagonal.
func diagonal(_ d: [Double]) -> Tensor {
    var t = Tensor.zeros([d.count, d.count])
    for (i, v) in d.enumerated() { t[i, i] = v }
    return t
}

/// Trace of a square matrix.
func trace(_ a: Tensor) -> Double {
    (0..<a.shape[0]).reduce(0) { $0 + a[$1, $1] }
}

/// max |a − b| / max(1, max |b|): the error of `a` relative to the reference `b`.
func scaledError(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
    return scaledError(a.scalars, b.scalars)
}

/// max |a − b| / max(1, max |b|) over paired elements.
func scaledError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    let scale = max(1, b.map(abs).max() ?? 0)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// |a − b| / max(1, |b|).
func scaledError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(1, abs(b)) }
