import Numerics

/// Element-wise functions, products and linear algebra recorded on the graph.
public extension Graph {
    func exp(_ x: Node) -> Node { unary(.exp, x) }
    func log(_ x: Node) -> Node { unary(.log, x) }
    func log1p(_ x: Node) -> Node { unary(.log1p, x) }
    func expm1(_ x: Node) -> Node { unary(.expm1, x) }
    func sqrt(_ x: Node) -> Node { unary(.sqrt, x) }
    func abs(_ x: Node) -> Node { unary(.abs, x) }
    func sigmoid(_ x: Node) -> Node { unary(.sigmoid, x) }
    /// log(1 + eˣ), stable for every x.
    func softplus(_ x: Node) -> Node { unary(.softplus, x) }
    /// log σ(x) = −softplus(−x).
    func logSigmoid(_ x: Node) -> Node { unary(.logSigmoid, x) }
    func tanh(_ x: Node) -> Node { unary(.tanh, x) }
    func square(_ x: Node) -> Node { unary(.square, x) }
    func reciprocal(_ x: Node) -> Node { unary(.reciprocal, x) }
    func sin(_ x: Node) -> Node { unary(.sin, x) }
    func cos(_ x: Node) -> Node { unary(.cos, x) }
    /// log(x / (1 − x)).
    func logit(_ x: Node) -> Node { unary(.logit, x) }
    /// log |Γ(x)|.
    func lgamma(_ x: Node) -> Node { unary(.lgamma, x) }
    /// ψ(x) = d/dx log Γ(x).
    func digamma(_ x: Node) -> Node { unary(.digamma, x) }
    /// Clamps into `[lower, upper]`; the gradient is zero outside.
    func clamp(_ x: Node, lower: Double = -.infinity, upper: Double = .infinity) -> Node {
        unary(.clamp, x, scalar: lower, scalar2: upper)
    }
    /// Element-wise maximum (the gradient goes to the larger; ties to the first).
    func maximum(_ x: Node, _ y: Node) -> Node { binary(.maximum, x, y) }
    /// Element-wise minimum.
    func minimum(_ x: Node, _ y: Node) -> Node { binary(.minimum, x, y) }

    /// x · log y, with 0 where x == 0 (torch.xlogy).
    func xlogy(_ x: Node, _ y: Node) -> Node { binary(.xlogy, x, y) }
    /// 1 where x < y, else 0 (no gradient).
    func less(_ x: Node, _ y: Node) -> Node { binary(.less, x, y) }
    /// The entry of each row of `x` `[..., k]` chosen by integer-valued `index` `[...]`
    /// (torch's `x.gather(-1, index[..., None])[..., 0]`); `x` broadcasts to `index`'s rows.
    /// No gradient flows to `index`; an index outside `0..<k` makes the replay report a fault.
    func pick(_ x: Node, index: Node) -> Node {
        check(x); check(index)
        guard let k = x.shape.last else { fail("pick: needs at least one axis"); return x }
        let rowsShape: [Int]
        do { rowsShape = try Shape.broadcast(Array(x.shape.dropLast()), index.shape) } catch {
            fail("pick: rows \(x.shape.dropLast()) and index \(index.shape) do not broadcast"); return index
        }
        let xb = broadcast(x, to: rowsShape + [k]), ib = broadcast(index, to: rowsShape)
        return append(NodeRecord(op: .pick, inputs: [xb.id, ib.id], shape: rowsShape, ints: [k]))
    }
    /// Index of the maximum along the last axis (no gradient); the axis is removed.
    func argmax(_ x: Node) -> Node {
        check(x)
        guard let k = x.shape.last else { fail("argmax: needs at least one axis"); return x }
        return append(NodeRecord(op: .argmax, inputs: [x.id], shape: Array(x.shape.dropLast()), ints: [k]))
    }
    /// One-hot encoding of integer-valued `x` over `classes` (a new last axis; no gradient).
    func oneHot(_ x: Node, classes: Int) -> Node {
        check(x)
        return append(NodeRecord(op: .oneHot, inputs: [x.id], shape: x.shape + [classes], ints: [classes]))
    }
    /// torch's StickBreakingTransform: `[..., k−1]` unconstrained → `[..., k]` on the simplex.
    func stickBreaking(_ x: Node) -> Node {
        check(x)
        guard let k1 = x.shape.last, k1 >= 1 else { fail("stickBreaking: needs a last axis of at least 1"); return x }
        return append(NodeRecord(op: .stickBreaking, inputs: [x.id], shape: Array(x.shape.dropLast()) + [k1 + 1], ints: [k1]))
    }
    /// Gamma(concentration, 1) draws of `concentration`'s shape with implicit reparameterisation
    /// gradients, from noise stream `stream`.
    func standardGammaSample(_ concentration: Node, stream: Int) -> Node {
        check(concentration)
        return append(NodeRecord(op: .gammaSample, inputs: [concentration.id], shape: concentration.shape, ints: [stream]))
    }
    /// `size` distinct indices drawn uniformly at every replay from `0..<population`, from
    /// noise stream `stream` (a plate's subsample; no gradient).
    func subsampleIndices(size: Int, population: Int, stream: Int) -> Node {
        if size > population || size < 1 { fail("subsample: cannot draw \(size) of \(population)") }
        return append(NodeRecord(op: .subsample, inputs: [], shape: [size], ints: [stream, population]))
    }
    /// Poisson(rate) draws of `rate`'s shape (no gradient).
    func poissonSample(_ rate: Node, stream: Int) -> Node {
        check(rate)
        return append(NodeRecord(op: .poissonSample, inputs: [rate.id], shape: rate.shape, ints: [stream]))
    }
    /// Binomial(count, probability) draws, broadcasting (no gradient).
    func binomialSample(count: Node, probability: Node, stream: Int) -> Node {
        let b = binary(.binomialSample, count, probability)
        records[b.id].ints = [stream] + records[b.id].ints
        return b
    }

    /// torch.matmul: 1-d operands are promoted (and the promoted axis dropped), leading batch
    /// axes broadcast when one side has none or they are equal.
    func matmul(_ x: Node, _ y: Node) -> Node {
        check(x); check(y)
        guard x.rank >= 1, y.rank >= 1 else { fail("matmul: scalars \(x.shape) @ \(y.shape)"); return x * y }
        let xs = x.rank == 1 ? [1] + x.shape : x.shape
        let ys = y.rank == 1 ? y.shape + [1] : y.shape
        let m = xs[xs.count - 2], k = xs[xs.count - 1], k2 = ys[ys.count - 2], n = ys[ys.count - 1]
        guard k == k2 else {
            fail("matmul: inner extents differ: \(x.shape) @ \(y.shape)"); return x
        }
        let bx = Array(xs.dropLast(2)), by = Array(ys.dropLast(2))
        let batchShape: [Int]
        var xn = x, yn = y
        if bx == by || by.isEmpty || bx.isEmpty {
            batchShape = bx.count >= by.count ? bx : by
        } else {
            guard let b = try? Shape.broadcast(bx, by) else {
                fail("matmul: batch axes \(bx) and \(by) do not broadcast"); return x
            }
            batchShape = b
            xn = broadcast(x, to: b + [m, k]); yn = broadcast(y, to: b + [k, n])
        }
        let batch = Shape.count(batchShape)
        let broadcasted = xn != x || yn != y
        let sx = broadcasted || !bx.isEmpty ? m * k : 0
        let sy = broadcasted || !by.isEmpty ? k * n : 0
        var shape = batchShape + [m, n]
        if y.rank == 1 { shape.removeLast() }
        if x.rank == 1 { shape.remove(at: shape.count - (y.rank == 1 ? 1 : 2)) }
        return append(NodeRecord(op: .matmul, inputs: [xn.id, yn.id], shape: shape, ints: [batch, m, k, n, sx, sy]))
    }

    /// Lower Cholesky factor of symmetric positive-definite matrices `[..., d, d]` (reads the
    /// lower triangle). A matrix that is not positive definite makes the replay report a fault.
    func cholesky(_ x: Node) -> Node {
        check(x)
        guard x.rank >= 2, x.shape[x.rank - 1] == x.shape[x.rank - 2] else {
            fail("cholesky: needs square matrices, got \(x.shape)"); return x
        }
        let d = x.shape[x.rank - 1]
        return append(NodeRecord(op: .cholesky, inputs: [x.id], shape: x.shape, ints: [x.count / max(d * d, 1), d]))
    }

    /// Normal log-density of `value` given `loc` and `scale`, element-wise with broadcasting.
    func normalLogProb(_ value: Node, loc: Node, scale: Node) -> Node { ternary(.normalLogProb, value, loc, scale) }

    /// Bernoulli log-mass of `value` ∈ {0, 1} given `logits`, element-wise with broadcasting.
    func bernoulliLogProb(_ value: Node, logits: Node) -> Node { binary(.bernoulliLogitsLogProb, value, logits) }

    /// Multivariate normal log-density of rows `value` `[..., d]` with `loc` (`[..., d]` or `[d]`)
    /// and a shared lower-triangular `scaleTril` `[d, d]`; the result drops the last axis.
    func mvnLogProb(_ value: Node, loc: Node, scaleTril: Node) -> Node {
        check(value); check(loc); check(scaleTril)
        guard let d = value.shape.last, scaleTril.shape == [d, d], loc.shape.last == d else {
            fail("mvnLogProb: value \(value.shape), loc \(loc.shape), scale_tril \(scaleTril.shape) do not fit")
            return sum(value, axes: [-1])
        }
        var v = value, l = loc
        if loc.rank > 1 && loc.shape != value.shape {
            guard let b = try? Shape.broadcast(value.shape, loc.shape) else {
                fail("mvnLogProb: value \(value.shape) and loc \(loc.shape) do not broadcast"); return sum(value, axes: [-1])
            }
            v = broadcast(value, to: b); l = broadcast(loc, to: b)
        } else if loc.rank > 1 || value.rank == 1 {
            if loc.count != value.count { v = broadcast(value, to: loc.shape) }
        }
        let rows = v.count / max(d, 1)
        let locStride = l.count == d ? 0 : d
        return append(NodeRecord(op: .mvnTrilLogProb, inputs: [v.id, l.id, scaleTril.id], shape: Array(v.shape.dropLast()),
                                 ints: [rows, d, locStride]))
    }

    /// Checks the operands of an MVN draw with a custom backward rule; nil when they fit.
    internal func mvnSampleProblem(_ op: String, loc: Node, scaleTril: Node, noise: Node) -> String? {
        check(loc); check(scaleTril); check(noise)
        guard loc.rank == 1, let d = loc.shape.last, d >= 1, scaleTril.shape == [d, d], noise.shape.last == d else {
            return "\(op): loc \(loc.shape) must be [d] with scale_tril [d, d] and noise [..., d], got scale_tril \(scaleTril.shape), noise \(noise.shape)"
        }
        switch noise.op {
        case .normalNoise, .input, .constant, .stopGradient: return nil
        default: return "\(op): noise must be a normal noise node (or an input, constant or stop-gradient); got \(noise.op), through which no gradient would flow"
        }
    }

    /// A pathwise draw z = loc + ε Lᵀ from MultivariateNormal(loc, scale_tril) whose backward
    /// rule is the optimal-mass-transport gradient (estimators.md §2.2; Pyro's
    /// `OMTMultivariateNormal`). The forward value is exactly that of the reparameterised
    /// draw `loc + matmul(noise, transpose(scaleTril))` for the same noise; the gradient has
    /// the same mean and, on smooth costs, a lower variance, for O(d³) + O(S d²) per step.
    ///
    /// - loc: `[d]` (no batch axes).
    /// - scaleTril: `[d, d]`, lower triangular with a positive diagonal (the upper triangle
    ///   must be zero: the forward reads the whole matrix, the backward the lower triangle).
    /// - noise: standard normal rows `[..., d]` (a ``NoiseKind/normal`` noise node), flattened
    ///   to S rows; it gets no gradient. The result has the noise's shape.
    ///
    /// Gradients: ∂loc = Σ_s g_s; ∂scaleTril is lower triangular. The rule diagonalises Σ⁻¹
    /// with a symmetric eigensolver (no jitter, unlike Pyro's SVD of Σ⁻¹ + 1e-8); a failure to
    /// converge is reported as a ``TapeFault`` after `backward`.
    func mvnSampleOMT(loc: Node, scaleTril: Node, noise: Node) -> Node {
        if let problem = mvnSampleProblem("mvnSampleOMT", loc: loc, scaleTril: scaleTril, noise: noise) {
            fail(problem)
            return append(NodeRecord(op: .mvnSampleOMT, inputs: [loc.id, scaleTril.id, noise.id], shape: noise.shape, ints: [0, 0]))
        }
        let d = loc.count
        return append(NodeRecord(op: .mvnSampleOMT, inputs: [loc.id, scaleTril.id, noise.id], shape: noise.shape,
                                 ints: [noise.count / d, d]))
    }

    /// A pathwise draw z = loc + ε Lᵀ from MultivariateNormal(loc, scale_tril) whose backward
    /// rule is the adaptive-velocity-field gradient (estimators.md §2.3; Pyro's
    /// `AVFMultivariateNormal`) with control variate `controlB`, `controlC` (`[K, d]`, K ≥ 1;
    /// Pyro's docs start them at 0.1). The forward value is exactly that of the
    /// reparameterised draw for the same noise, and so is the mean of ∂scaleTril for any B, C.
    /// Operands as for ``mvnSampleOMT(loc:scaleTril:noise:)``; the upper triangle of
    /// `scaleTril` must be zero.
    ///
    /// What `backward` writes into the adjoints of `controlB` and `controlC` (when they are
    /// parameters) is **not** a gradient of the loss, which does not depend on them: it is
    /// the gradient of this node's estimator's second moment ½‖∂L‖²,
    /// ∂B_ka = Σ_b ∂L_ab C_kb Ξ_ab, ∂C_kb = Σ_a ∂L_ab B_ka Ξ_ab. Give B and C their own
    /// optimiser (Pyro's example: Adam, lr 0.1, betas (0.5, 0.999)), stepped with the guide's,
    /// and do not use them anywhere else in the graph (their adjoints would mix).
    func mvnSampleAVF(loc: Node, scaleTril: Node, noise: Node, controlB: Node, controlC: Node) -> Node {
        check(controlB); check(controlC)
        var problem = mvnSampleProblem("mvnSampleAVF", loc: loc, scaleTril: scaleTril, noise: noise)
        if problem == nil && (controlB.rank != 2 || controlB.shape != controlC.shape || controlB.shape[1] != loc.count || controlB.shape[0] < 1) {
            problem = "mvnSampleAVF: control variate B \(controlB.shape) and C \(controlC.shape) must both be [K, \(loc.count)] with K ≥ 1"
        }
        let inputs = [loc.id, scaleTril.id, noise.id, controlB.id, controlC.id]
        if let problem {
            fail(problem)
            return append(NodeRecord(op: .mvnSampleAVF, inputs: inputs, shape: noise.shape, ints: [0, 0, 0]))
        }
        let d = loc.count
        return append(NodeRecord(op: .mvnSampleAVF, inputs: inputs, shape: noise.shape, ints: [noise.count / d, d, controlB.shape[0]]))
    }
}

/// Method forms for builder code that reads like the maths.
public extension Node {
    func exp() -> Node { graph.exp(self) }
    func log() -> Node { graph.log(self) }
    func sum() -> Node { graph.sum(self) }
    func sum(axes: [Int]) -> Node { graph.sum(self, axes: axes) }
    func square() -> Node { graph.square(self) }
    func matmul(_ y: Node) -> Node { graph.matmul(self, y) }
    func reshaped(_ shape: [Int]) -> Node { graph.reshape(self, shape) }
    func broadcast(to shape: [Int]) -> Node { graph.broadcast(self, to: shape) }
    func detached() -> Node { graph.stopGradient(self) }
}

/// A forward and backward rule written outside the engine, attached to one node with
/// ``Graph/custom(_:inputs:shape:)``. Buffers are the tape's own: read inputs, write the
/// output in `forward`; in `backward`, add into the input adjoints that are non-nil.
public protocol CustomOperation: AnyObject {
    /// Computes the output from the inputs.
    func forward(inputs: [UnsafeBufferPointer<Double>], output: UnsafeMutableBufferPointer<Double>)
    /// Accumulates input adjoints from the output adjoint; `inputAdjoints[i]` is nil when input
    /// `i` needs no gradient.
    func backward(inputs: [UnsafeBufferPointer<Double>], output: UnsafeBufferPointer<Double>,
                  outputAdjoint: UnsafeBufferPointer<Double>, inputAdjoints: [UnsafeMutableBufferPointer<Double>?])
}
