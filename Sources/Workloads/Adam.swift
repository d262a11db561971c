import Autodiff

/// torch.optim.Adam over a tape's parameters (estimators.md §8), updating the tape's own
/// buffers in place: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε).
/// Moments live in buffers allocated once; a step allocates nothing. The Inference module's
/// optimisers supersede this one; the demo and the benchmark use it until then.
public final class Adam {
    public let lr: Double, beta1: Double, beta2: Double, eps: Double
    /// Steps taken.
    public private(set) var t = 0
    /// β₁ᵗ and β₂ᵗ, kept as running products.
    var beta1Power = 1.0, beta2Power = 1.0
    let params: [Node]
    let moments: UnsafeMutablePointer<Double>
    let offsets: [Int]
    let total: Int

    public init(parameters: [Node], lr: Double, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8) {
        self.lr = lr; beta1 = betas.0; beta2 = betas.1; self.eps = eps
        params = parameters
        var offs: [Int] = [], n = 0
        for p in parameters { offs.append(n); n += p.count }
        offsets = offs; total = n
        moments = .allocate(capacity: max(2 * n, 1))
        moments.initialize(repeating: 0, count: max(2 * n, 1))
    }

    deinit { moments.deallocate() }

    /// One update from the gradients the tape holds after `backward()`.
    public func step(_ tape: Tape) {
        t += 1
        beta1Power *= beta1; beta2Power *= beta2
        let c1 = 1 - beta1Power, c2 = (1 - beta2Power).squareRoot()
        let stepSize = lr / c1
        for k in 0..<params.count {
            guard let grad = tape.unsafeGradient(of: params[k]) else { continue }
            let x = tape.unsafeValues(of: params[k])
            let m = moments + offsets[k], v = moments + total + offsets[k]
            for i in 0..<x.count {
                let gi = grad[i]
                m[i] = beta1 * m[i] + (1 - beta1) * gi
                v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
                x[i] -= stepSize * m[i] / (v[i].squareRoot() / c2 + eps)
            }
        }
    }
}


import CVecMath
/// 1 when the vectorised transcendental kernels use AVX2 on this CPU.
public func svmUsesAVX2() -> Int { Int(svm_uses_avx2()) }
