import Autodiff
import CVecMath
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - Configuration

/// An update rule and its hyperparameters, with torch's and Pyro's defaults
/// (estimators.md §8). Encodes with Swift's synthesized enum coding, e.g.
/// `{"adam":{"lr":0.01,"beta1":0.9,"beta2":0.999,"eps":1e-8}}`; decoding needs every field.
public enum OptimizerConfig: Codable, Equatable, Sendable {
    /// torch.optim.SGD (no dampening, no weight decay). With `momentum` μ > 0 the buffer is
    /// b ← g on a parameter's first update and b ← μb + g after; the step direction is b, or
    /// g + μb when `nesterov` (which requires μ > 0).
    case sgd(lr: Double, momentum: Double = 0, nesterov: Bool = false)
    /// torch.optim.Adam (no weight decay, no AMSGrad): m ← β₁m + (1−β₁)g,
    /// v ← β₂v + (1−β₂)g², p ← p − (lr/(1−β₁ᵗ)) · m/(√v/√(1−β₂ᵗ) + eps).
    case adam(lr: Double, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8)
    /// Pyro's ClippedAdam (no weight decay): lr ← lr·lrDecay before every step (the first
    /// included); g clamped element-wise to [−clipNorm, clipNorm]; m, v as Adam;
    /// p ← p − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + eps).
    case clippedAdam(lr: Double, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                     clipNorm: Double = 10, lrDecay: Double = 1)

    /// The configured (initial, undecayed) learning rate.
    public var lr: Double {
        switch self {
        case let .sgd(lr, _, _), let .adam(lr, _, _, _), let .clippedAdam(lr, _, _, _, _, _): lr
        }
    }

    /// Checks the hyperparameters as torch and Pyro do: lr ≥ 0 (> 0 for ClippedAdam, as Pyro
    /// asserts), betas in [0, 1), eps ≥ 0, momentum ≥ 0, Nesterov only with momentum > 0,
    /// clipNorm > 0, lrDecay > 0, everything finite. Throws ``OptimizerError/invalidConfig(_:)``.
    public func validate() throws(OptimizerError) {
        func require(_ ok: Bool, _ message: @autoclosure () -> String) throws(OptimizerError) {
            if !ok { throw .invalidConfig(message()) }
        }
        func checkLR(_ lr: Double, positive: Bool) throws(OptimizerError) {
            try require(lr.isFinite && (positive ? lr > 0 : lr >= 0), "invalid learning rate \(lr)")
        }
        func checkAdam(_ b1: Double, _ b2: Double, _ eps: Double) throws(OptimizerError) {
            try require(b1 >= 0 && b1 < 1, "invalid beta1 \(b1) (must be in [0, 1))")
            try require(b2 >= 0 && b2 < 1, "invalid beta2 \(b2) (must be in [0, 1))")
            try require(eps.isFinite && eps >= 0, "invalid eps \(eps)")
        }
        switch self {
        case let .sgd(lr, momentum, nesterov):
            try checkLR(lr, positive: false)
            try require(momentum.isFinite && momentum >= 0, "invalid momentum \(momentum)")
            try require(!nesterov || momentum > 0, "Nesterov momentum requires momentum > 0")
        case let .adam(lr, b1, b2, eps):
            try checkLR(lr, positive: false)
            try checkAdam(b1, b2, eps)
        case let .clippedAdam(lr, b1, b2, eps, clipNorm, lrDecay):
            try checkLR(lr, positive: true)
            try checkAdam(b1, b2, eps)
            try require(clipNorm.isFinite && clipNorm > 0, "invalid clipNorm \(clipNorm)")
            try require(lrDecay.isFinite && lrDecay > 0, "invalid lrDecay \(lrDecay)")
        }
    }
}

/// Why an optimiser could not be built or restored.
public enum OptimizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A hyperparameter is out of range (message names it).
    case invalidConfig(String)
    /// The parameter list is malformed: duplicate names, negative counts, bad lr overrides.
    case invalidParameters(String)
    /// A state does not fit this optimiser (other config, parameters or buffer sizes), or is
    /// internally inconsistent.
    case stateMismatch(String)

    /// The message.
    public var description: String {
        switch self {
        case let .invalidConfig(m): "invalid optimizer config: \(m)"
        case let .invalidParameters(m): "invalid optimizer parameters: \(m)"
        case let .stateMismatch(m): "optimizer state mismatch: \(m)"
        }
    }
}

// MARK: - State

/// The complete state of a ``ParameterOptimizer``: restoring it into an optimiser with the
/// same config and parameters (or building one from it with ``ParameterOptimizer/init(state:)``)
/// continues bit for bit. Doubles round-trip exactly through the JSON module's
/// `JSONValueEncoder`/`JSONValueDecoder` (shortest round-trip decimal; non-finite moments as
/// strings).
public struct OptimizerState: Codable, Equatable, Sendable {
    /// One parameter's share of the state.
    public struct Parameter: Codable, Equatable, Sendable {
        /// The parameter's name, as given at construction.
        public var name: String
        /// Element count.
        public var count: Int
        /// The learning rate given for this parameter at construction, nil for the config's.
        public var lrOverride: Double?
        /// The current learning rate (after ClippedAdam's decays so far).
        public var lr: Double
        /// Updates applied to this parameter (torch's per-parameter `step`); a step in which
        /// the parameter had no gradient does not count.
        public var step: Int
        /// Adam's m (`exp_avg`); empty for SGD.
        public var firstMoment: [Double]
        /// Adam's v (`exp_avg_sq`); empty for SGD.
        public var secondMoment: [Double]
        /// SGD's momentum buffer (meaningful once `step` > 0); empty for Adam and plain SGD.
        public var momentumBuffer: [Double]

        /// Memberwise.
        public init(name: String, count: Int, lrOverride: Double?, lr: Double, step: Int,
                    firstMoment: [Double], secondMoment: [Double], momentumBuffer: [Double]) {
            self.name = name; self.count = count; self.lrOverride = lrOverride; self.lr = lr
            self.step = step; self.firstMoment = firstMoment; self.secondMoment = secondMoment
            self.momentumBuffer = momentumBuffer
        }
    }

    /// The update rule.
    public var config: OptimizerConfig
    /// Calls of `step` so far.
    public var steps: Int
    /// Per parameter, in construction order.
    public var parameters: [Parameter]

    /// Memberwise.
    public init(config: OptimizerConfig, steps: Int, parameters: [Parameter]) {
        self.config = config; self.steps = steps; self.parameters = parameters
    }
}

// MARK: - Optimizer

/// Updates a fixed list of parameter buffers in place from their gradients with one of the
/// rules of ``OptimizerConfig``, exactly as estimators.md §8 writes them.
///
/// Each parameter has a name, an element count and optionally its own learning rate (as a
/// torch param group of its own). Moments, momentum buffers, per-parameter step counts and
/// current learning rates live in buffers allocated once in `init`; `step` allocates nothing,
/// calls no closures and dispatches on the rule once per parameter, not per element. A
/// parameter whose gradient is nil in a step is left alone (its moments and step count too),
/// as torch skips `p.grad is None`; ClippedAdam's lr decay still applies to it, as Pyro decays
/// each group's lr before looking at gradients. Gradients are read, never written (Pyro clamps
/// `p.grad` in place; the clamp here is applied to a copy of each element).
///
/// Arithmetic follows the formulas with torch's evaluation order where it is observable,
/// except for βᵗ: bias corrections are 1 − βᵗ with βᵗ the running product of ``BiasPower``
/// (βᵗ⁻¹·β rounded, kept per parameter; torch evaluates `beta ** step`, one correctly rounded
/// power, so the two differ by about (t + 1)·2⁻⁵³ relative in βᵗ at most: rounding), Adam's step is
/// p − (lr/bc₁)·(m/(√v/√bc₂ + eps)), ClippedAdam's p − ((lr·√bc₂)/bc₁)·(m/(√v + eps)),
/// v ← β₂v + ((1−β₂)·g)·g (torch's `addcmul`). torch 2's CPU kernels compute m with `lerp`
/// and may fuse multiply-adds, so agreement with torch itself is to rounding, not to the bit.
///
/// Not thread-safe: one owner at a time, like ``Tape``.
public final class ParameterOptimizer {
    /// The update rule.
    public let config: OptimizerConfig
    /// Parameter names, in construction order (the order `step` expects buffers in).
    public let names: [String]
    /// Element count of each parameter.
    public let counts: [Int]
    /// Per-parameter learning-rate overrides given at construction (nil: the config's lr).
    public let lrOverrides: [Double?]
    /// Calls of `step` so far.
    public private(set) var steps: Int {
        get { stepCounter.pointee }
        set { stepCounter.pointee = newValue }
    }
    /// Backs ``steps`` (raw memory: no dynamic exclusivity check per step).
    private let stepCounter: UnsafeMutablePointer<Int>

    private enum Rule { case sgd, adam, clippedAdam }
    private let rule: Rule
    private let beta1: Double, beta2: Double, eps: Double
    private let clipNorm: Double, lrDecay: Double
    private let momentum: Double, nesterov: Bool
    /// Element offset of each parameter in the moment buffers.
    private let offsets: [Int]
    /// Adam's m, or SGD's momentum buffer.
    private let first: UnsafeMutablePointer<Double>
    /// Adam's v (unused by SGD).
    private let second: UnsafeMutablePointer<Double>
    /// Current learning rate per parameter.
    private let lrs: UnsafeMutablePointer<Double>
    /// Updates applied per parameter.
    private let updates: UnsafeMutablePointer<Int>
    /// Adam's running powers per parameter (``BiasPower``): [2k] = β₁ᵗ and [2k + 1] = β₂ᵗ at
    /// t = `updates[k]` (a `pow` per correction per step was 5.7 % of a small model's step).
    private let powers: UnsafeMutablePointer<Double>

    /// An optimiser for `parameters` (name, element count, optional own learning rate), with
    /// zero moments and step 0. Throws when the config is invalid (see
    /// ``OptimizerConfig/validate()``), a name repeats, a count is negative, or an override
    /// is not a valid learning rate for the rule.
    public init(config: OptimizerConfig, parameters: [(name: String, count: Int, lr: Double?)]) throws(OptimizerError) {
        try config.validate()
        var seen = Set<String>()
        for p in parameters {
            guard seen.insert(p.name).inserted else { throw .invalidParameters("duplicate name \(p.name)") }
            guard p.count >= 0 else { throw .invalidParameters("negative count \(p.count) for \(p.name)") }
            if let lr = p.lr {
                do { try config.withLR(lr).validate() } catch {
                    throw .invalidParameters("learning rate \(lr) for \(p.name) is invalid")
                }
            }
        }
        self.config = config
        names = parameters.map(\.name)
        counts = parameters.map(\.count)
        lrOverrides = parameters.map(\.lr)
        switch config {
        case let .sgd(_, m, n):
            rule = .sgd; momentum = m; nesterov = n
            beta1 = 0; beta2 = 0; eps = 0; clipNorm = .infinity; lrDecay = 1
        case let .adam(_, b1, b2, e):
            rule = .adam; beta1 = b1; beta2 = b2; eps = e
            clipNorm = .infinity; lrDecay = 1; momentum = 0; nesterov = false
        case let .clippedAdam(_, b1, b2, e, c, d):
            rule = .clippedAdam; beta1 = b1; beta2 = b2; eps = e
            clipNorm = c; lrDecay = d; momentum = 0; nesterov = false
        }
        var offs: [Int] = [], n = 0
        for c in counts { offs.append(n); n += c }
        offsets = offs
        first = .allocate(capacity: max(n, 1)); first.initialize(repeating: 0, count: max(n, 1))
        second = .allocate(capacity: max(n, 1)); second.initialize(repeating: 0, count: max(n, 1))
        let k = max(parameters.count, 1)
        lrs = .allocate(capacity: k); lrs.initialize(repeating: config.lr, count: k)
        for (i, o) in lrOverrides.enumerated() { if let o { lrs[i] = o } }
        updates = .allocate(capacity: k); updates.initialize(repeating: 0, count: k)
        powers = .allocate(capacity: 2 * k); powers.initialize(repeating: 1, count: 2 * k)
        stepCounter = .allocate(capacity: 1); stepCounter.initialize(to: 0)
    }

    /// An optimiser in exactly the given state (config, parameters and buffers from it).
    /// Throws what ``init(config:parameters:)`` and ``restore(_:)`` throw.
    public convenience init(state: OptimizerState) throws(OptimizerError) {
        try self.init(config: state.config,
                      parameters: state.parameters.map { ($0.name, $0.count, $0.lrOverride) })
        try restore(state)
    }

    deinit {
        first.deallocate(); second.deallocate(); lrs.deallocate(); updates.deallocate(); powers.deallocate(); stepCounter.deallocate()
    }

    /// Number of parameters.
    public var parameterCount: Int { names.count }

    /// The current learning rate of parameter `index` (ClippedAdam decays it every step).
    public func learningRate(ofParameter index: Int) -> Double {
        precondition(index >= 0 && index < names.count, "parameter index \(index) out of range")
        return lrs[index]
    }

    // MARK: Stepping

    /// One step over a tape's parameters after `backward()`: `parameters[k]` is the node of
    /// the k-th parameter given at construction (typically `tape.parameters`, when the
    /// optimiser was built in that order). Values are updated in the tape's own buffers; a
    /// node no gradient reaches is skipped. Allocates nothing. Traps when the counts differ
    /// or a node is not on the tape.
    public func step(_ tape: Tape, parameters: [Node]) {
        precondition(parameters.count == names.count,
                     "expected \(names.count) parameter nodes, got \(parameters.count)")
        beginStep()
        for k in 0..<parameters.count {
            let x = tape.unsafeValues(of: parameters[k])
            guard let g = tape.unsafeGradient(of: parameters[k]) else { continue }
            update(k, x, UnsafeBufferPointer(g))
        }
    }

    /// One step over raw buffers: `values[k]` and `gradients[k]` belong to the k-th parameter
    /// given at construction (nil gradient: skipped) and must hold its count of elements.
    /// Updates `values` in place; allocates nothing itself. Traps on mismatched shapes.
    public func step(values: [UnsafeMutableBufferPointer<Double>], gradients: [UnsafeBufferPointer<Double>?]) {
        precondition(values.count == names.count && gradients.count == names.count,
                     "expected \(names.count) value and gradient buffers, got \(values.count) and \(gradients.count)")
        beginStep()
        for k in 0..<values.count {
            guard let g = gradients[k] else { continue }
            update(k, values[k], g)
        }
    }

    /// One step over the buffers of a bound tape (``ParameterBuffers``, in construction
    /// order): the SVI loop's path, which looks nothing up per step. Allocates nothing.
    public func step(_ buffers: UnsafeBufferPointer<ParameterBuffers>) {
        precondition(buffers.count == names.count, "expected \(names.count) parameter buffers, got \(buffers.count)")
        beginStep()
        for k in 0..<buffers.count {
            let b = buffers[k]
            guard let g = b.gradient else { continue }
            update(k, UnsafeMutableBufferPointer(start: b.values, count: b.count), UnsafeBufferPointer(start: g, count: b.count))
        }
    }

    /// Advances parameter `k`'s running powers by one update and returns 1 − β₁ᵗ and 1 − β₂ᵗ.
    @inline(__always) private func biasCorrections(advancing k: Int) -> (Double, Double) {
        let p1 = BiasPower.next(powers[2 * k], beta1), p2 = BiasPower.next(powers[2 * k + 1], beta2)
        powers[2 * k] = p1
        powers[2 * k + 1] = p2
        return (1 - p1, 1 - p2)
    }

    /// Parameter `index`'s running powers β₁ᵗ and β₂ᵗ at its update count t (1 before the first
    /// update; unused by SGD).
    func biasPowers(ofParameter index: Int) -> (Double, Double) {
        precondition(index >= 0 && index < names.count, "parameter index \(index) out of range")
        return (powers[2 * index], powers[2 * index + 1])
    }

    /// Counts the step and applies ClippedAdam's lr decay to every parameter.
    @inline(__always) private func beginStep() {
        steps += 1
        if rule == .clippedAdam {
            for k in 0..<names.count { lrs[k] *= lrDecay }
        }
    }

    /// Updates parameter `k` from gradient `g`.
    @inline(__always) private func update(_ k: Int, _ x: UnsafeMutableBufferPointer<Double>, _ g: UnsafeBufferPointer<Double>) {
        let n = counts[k]
        precondition(x.count == n && g.count == n,
                     "parameter \(names[k]) has \(n) elements; got \(x.count) values and \(g.count) gradients")
        let t = updates[k] + 1
        updates[k] = t
        let lr = lrs[k]
        let m = first + offsets[k], v = second + offsets[k]
        guard let xp = x.baseAddress, let gp = g.baseAddress else { return }
        switch rule {
        case .adam:
            let (bc1, bc2) = biasCorrections(advancing: k)
            let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot(), a1 = 1 - beta1, a2 = 1 - beta2
            // The vector kernel rounds each operation as the scalar loop
            // x ← x − step·(m / (√v / √bc2 + ε)) would, in the same order (bit for bit,
            // AdamKernelTests). Below one 4-lane vector it runs that scalar loop, which here
            // saves a small model two calls a parameter.
            if n < 4 {
                let b1 = beta1, b2 = beta2, e = eps
                for i in 0..<n {
                    let gi = gp[i], mi = b1 * m[i] + a1 * gi, vi = b2 * v[i] + a2 * gi * gi
                    m[i] = mi; v[i] = vi
                    xp[i] = xp[i] - stepSize * (mi / (vi.squareRoot() / bc2Sqrt + e))
                }
            } else {
                svm_adam(xp, m, v, gp, n, beta1, a1, beta2, a2, stepSize, bc2Sqrt, eps)
            }
        case .clippedAdam:
            let (bc1, bc2) = biasCorrections(advancing: k)
            let stepSize = lr * bc2.squareRoot() / bc1
            let a1 = 1 - beta1, a2 = 1 - beta2, b1 = beta1, b2 = beta2, e = eps, c = clipNorm
            for i in 0..<n {
                let raw = gp[i]
                let gi = raw < -c ? -c : (raw > c ? c : raw)
                let mi = b1 * m[i] + a1 * gi
                let vi = b2 * v[i] + a2 * gi * gi
                m[i] = mi; v[i] = vi
                xp[i] = xp[i] - stepSize * (mi / (vi.squareRoot() + e))
            }
        case .sgd:
            let mu = momentum
            if mu == 0 {
                for i in 0..<n { xp[i] = xp[i] - lr * gp[i] }
            } else if t == 1 {
                for i in 0..<n {
                    let gi = gp[i]
                    m[i] = gi
                    xp[i] = xp[i] - lr * (nesterov ? gi + mu * gi : gi)
                }
            } else {
                for i in 0..<n {
                    let gi = gp[i]
                    let bi = mu * m[i] + gi
                    m[i] = bi
                    xp[i] = xp[i] - lr * (nesterov ? gi + mu * bi : bi)
                }
            }
        }
    }

    // MARK: State

    /// The complete state (see ``OptimizerState``). Allocates; not for the hot path.
    public var state: OptimizerState {
        let params = names.indices.map { k -> OptimizerState.Parameter in
            let buffer = { (p: UnsafeMutablePointer<Double>) in
                Array(UnsafeBufferPointer(start: p + self.offsets[k], count: self.counts[k]))
            }
            let adam = rule != .sgd, sgdMomentum = rule == .sgd && momentum > 0
            return OptimizerState.Parameter(
                name: names[k], count: counts[k], lrOverride: lrOverrides[k], lr: lrs[k], step: updates[k],
                firstMoment: adam ? buffer(first) : [], secondMoment: adam ? buffer(second) : [],
                momentumBuffer: sgdMomentum ? buffer(first) : [])
        }
        return OptimizerState(config: config, steps: steps, parameters: params)
    }

    /// Replaces the whole state with `state`, after which steps continue exactly as they
    /// would have from where `state` was taken. Throws ``OptimizerError/stateMismatch(_:)``,
    /// changing nothing, when the config, the parameter names, counts or lr overrides differ
    /// from this optimiser's, a buffer has the wrong length, or counters are inconsistent.
    ///
    /// The running powers βᵗ are not in the state (its format predates them): they are
    /// recomputed from the update counts by the same sequential products the run made, one
    /// pass up to the largest count (each power stops at the first 0, ``BiasPower``), so a
    /// restore costs up to that many multiplications: the callers bound the counts (every
    /// parameter's by `state.steps`, and ``SVIRunner`` that by the run's own steps, at most
    /// 10⁷ in a job spec).
    public func restore(_ state: OptimizerState) throws(OptimizerError) {
        guard state.config == config else { throw .stateMismatch("config \(state.config) differs from \(config)") }
        guard state.parameters.count == names.count else {
            throw .stateMismatch("\(state.parameters.count) parameters, expected \(names.count)")
        }
        guard state.steps >= 0 else { throw .stateMismatch("negative step count \(state.steps)") }
        let adam = rule != .sgd, sgdMomentum = rule == .sgd && momentum > 0
        for (k, p) in state.parameters.enumerated() {
            guard p.name == names[k], p.count == counts[k] else {
                throw .stateMismatch("parameter \(k) is \(p.name) (\(p.count)), expected \(names[k]) (\(counts[k]))")
            }
            guard p.lrOverride == lrOverrides[k] else { throw .stateMismatch("lr override of \(p.name) differs") }
            guard p.step >= 0, p.step <= state.steps else {
                throw .stateMismatch("step \(p.step) of \(p.name) is outside 0...\(state.steps)")
            }
            guard p.lr.isFinite, p.lr >= 0 else { throw .stateMismatch("learning rate \(p.lr) of \(p.name)") }
            let expected = (first: adam ? p.count : 0, second: adam ? p.count : 0, momentum: sgdMomentum ? p.count : 0)
            guard p.firstMoment.count == expected.first, p.secondMoment.count == expected.second,
                  p.momentumBuffer.count == expected.momentum else {
                throw .stateMismatch("buffer lengths of \(p.name) do not fit \(config)")
            }
        }
        if rule != .sgd, let largest = state.parameters.map(\.step).max() {
            let products = Swift.max(BiasPower.productsToRestore(largest, beta1), BiasPower.productsToRestore(largest, beta2))
            guard products <= BiasPower.maxRestoreProducts else {
                throw .stateMismatch("restoring \(largest) updates with betas (\(beta1), \(beta2)) takes \(products) products before the bias corrections settle; at most \(BiasPower.maxRestoreProducts) are made")
            }
        }
        steps = state.steps
        if rule != .sgd { restorePowers(state.parameters.map(\.step)) }
        for (k, p) in state.parameters.enumerated() {
            lrs[k] = p.lr
            updates[k] = p.step
            let dst1 = first + offsets[k], dst2 = second + offsets[k]
            let src1 = adam ? p.firstMoment : (sgdMomentum ? p.momentumBuffer : [Double](repeating: 0, count: p.count))
            let src2 = adam ? p.secondMoment : [Double](repeating: 0, count: p.count)
            for i in 0..<p.count { dst1[i] = src1[i]; dst2[i] = src2[i] }
        }
    }

    /// Sets each parameter's running powers to those `counts[k]` updates leave, in one pass
    /// over the counts in increasing order.
    private func restorePowers(_ counts: [Int]) {
        var p1 = 1.0, p2 = 1.0, t = 0
        for k in counts.indices.sorted(by: { counts[$0] < counts[$1] }) {
            p1 = BiasPower.advance(p1, beta1, from: t, to: counts[k])
            p2 = BiasPower.advance(p2, beta2, from: t, to: counts[k])
            t = counts[k]
            powers[2 * k] = p1
            powers[2 * k + 1] = p2
        }
    }
}

/// βᵗ for Adam's bias corrections 1 − βᵗ, as a running product: β⁰ = 1 and βᵗ = βᵗ⁻¹·β rounded,
/// set to 0 once below 2⁻⁶⁰. 1 − βᵗ rounds to 1 for every βᵗ ≤ 2⁻⁵⁴, so the flush changes no
/// correction; it spares the steps subnormal products and ends a restore's recomputation.
/// Each product rounds with a relative error of at most 2⁻⁵³, so βᵗ is within
/// (1 + 2⁻⁵³)ᵗ − 1 ≈ t·2⁻⁵³ relative of the exact power (torch's correctly rounded
/// `beta ** step`: within 2⁻⁵³). Deterministic: t updates give the same bits however they are
/// reached, in one run or across a checkpoint (``ParameterOptimizer/restore(_:)``).
enum BiasPower {
    /// βᵗ⁺¹ from βᵗ.
    @inline(__always) static func next(_ power: Double, _ beta: Double) -> Double {
        let p = power * beta
        return p < 0x1p-60 ? 0 : p
    }

    /// Most products a restore makes (a few tenths of a second): far beyond the 10⁷ steps a
    /// job may run, and a bound for direct callers whose β is so close to 1 that the powers
    /// would take ~10¹⁷ products to flush.
    static let maxRestoreProducts = 100_000_000

    /// The products `advance` makes from β⁰ to βᵗ: t, or fewer where the power flushes
    /// (an upper estimate of that point, by logarithms, plus one).
    static func productsToRestore(_ t: Int, _ beta: Double) -> Int {
        guard t > 0, beta > 0, beta < 1 else { return Swift.min(Swift.max(t, 0), 1) }
        let flush = (-60 * log(2.0) / log(beta)).rounded(.up) + 1
        return flush.isFinite && flush < Double(t) ? Int(flush) : t
    }

    /// βᵗ from the power βˢ at s ≤ t, by t − s products (fewer once it is 0).
    static func advance(_ power: Double, _ beta: Double, from s: Int, to t: Int) -> Double {
        var p = power, i = s
        while i < t && p != 0 {
            p = next(p, beta)
            i += 1
        }
        return p
    }
}

/// A parameter's value and gradient buffers in a compiled tape, looked up once so that an
/// optimiser step reads no tables (``ParameterOptimizer/step(_:)``).
public struct ParameterBuffers {
    /// The parameter's values (updated in place).
    public let values: UnsafeMutablePointer<Double>
    /// Its gradient after `backward`, nil when no gradient reaches it.
    public let gradient: UnsafeMutablePointer<Double>?
    /// Element count.
    public let count: Int

    /// The buffers of `node` in `tape` (valid while the tape lives).
    public init(_ tape: Tape, _ node: Node) {
        let v = tape.unsafeValues(of: node)
        values = v.baseAddress!
        gradient = tape.unsafeGradient(of: node)?.baseAddress
        count = v.count
    }
}

extension OptimizerConfig {
    /// The same rule and hyperparameters with `lr` as the learning rate.
    public func withLR(_ lr: Double) -> OptimizerConfig {
        switch self {
        case let .sgd(_, m, n): .sgd(lr: lr, momentum: m, nesterov: n)
        case let .adam(_, b1, b2, e): .adam(lr: lr, beta1: b1, beta2: b2, eps: e)
        case let .clippedAdam(_, b1, b2, e, c, d): .clippedAdam(lr: lr, beta1: b1, beta2: b2, eps: e, clipNorm: c, lrDecay: d)
        }
    }
}
