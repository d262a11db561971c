import Testing
import Foundation
import Numerics
import Autodiff
import Inference

/// Two raw parameters, "a" (3 elements) and "b" (2), stepped through the buffer API.
final class RawParameters {
    let a: UnsafeMutableBufferPointer<Double>
    let b: UnsafeMutableBufferPointer<Double>
    let ga = UnsafeMutableBufferPointer<Double>.allocate(capacity: 3)
    let gb = UnsafeMutableBufferPointer<Double>.allocate(capacity: 2)

    init(a: [Double], b: [Double]) {
        self.a = .allocate(capacity: a.count); _ = self.a.initialize(from: a)
        self.b = .allocate(capacity: b.count); _ = self.b.initialize(from: b)
    }

    deinit { a.deallocate(); b.deallocate(); ga.deallocate(); gb.deallocate() }

    var values: (a: [Double], b: [Double]) { (Array(a), Array(b)) }

    /// One optimiser step with the given gradients (nil: that parameter has none).
    func step(_ opt: ParameterOptimizer, _ g: (a: [Double]?, b: [Double]?)) {
        if let x = g.a { _ = ga.update(fromContentsOf: x) }
        if let x = g.b { _ = gb.update(fromContentsOf: x) }
        opt.step(values: [a, b], gradients: [g.a == nil ? nil : UnsafeBufferPointer(ga),
                                             g.b == nil ? nil : UnsafeBufferPointer(gb)])
    }

    func copy() -> RawParameters { RawParameters(a: Array(a), b: Array(b)) }
}

func makeOptimizer(_ config: OptimizerConfig, overrides: [String: Double] = [:]) throws -> ParameterOptimizer {
    try ParameterOptimizer(config: config, parameters: [("a", 3, overrides["a"]), ("b", 2, overrides["b"])])
}

/// A single-element optimiser "x" with its buffers, for hand-computed sequences.
func scalarRun(_ config: OptimizerConfig, start: Double, gradients: [Double]) throws -> [Double] {
    let opt = try ParameterOptimizer(config: config, parameters: [("x", 1, nil)])
    var x = [start], g = [0.0], out: [Double] = []
    for gi in gradients {
        g[0] = gi
        x.withUnsafeMutableBufferPointer { xb in
            g.withUnsafeBufferPointer { gb in opt.step(values: [xb], gradients: [gb]) }
        }
        out.append(x[0])
    }
    return out
}

@Suite struct OptimizerTests {
    // MARK: Reference trajectories

    /// Every step of every reference run (NumPy re-implementation of torch's and Pyro's loops,
    /// Reference/make_optimizer_reference.py) to the bit, with the bias corrections' powers as
    /// running products in both: they evaluate the same IEEE operations in the same order.
    @Test(arguments: optimizerReference.indices)
    func matchesNumPyReference(_ index: Int) throws {
        let ref = optimizerReference[index]
        let opt = try makeOptimizer(ref.config, overrides: ref.lrOverrides)
        let p = RawParameters(a: optimizerReferenceInitial.a, b: optimizerReferenceInitial.b)
        for (s, g) in optimizerReferenceGradients.enumerated() {
            p.step(opt, g)
            let (a, b) = p.values, (ea, eb) = ref.runningTrajectory[s]
            for (x, e) in zip(a + b, ea + eb) {
                #expect(x.bitPattern == e.bitPattern, "\(ref.note), step \(s + 1): \(x) vs \(e)")
            }
        }
        #expect(opt.learningRate(ofParameter: 0) == ref.finalLR.a, "\(ref.note)")
        #expect(opt.learningRate(ofParameter: 1) == ref.finalLR.b, "\(ref.note)")
        #expect(opt.steps == optimizerReferenceGradients.count)
        #expect(opt.state.parameters.map(\.step) == [6, 5], "b had no gradient in one step")
    }

    /// The same runs against torch's own bias corrections, 1 − `beta ** step` (glibc's pow):
    /// equal but for the powers' rounding. The running βᵗ is within (t + 1)·2⁻⁵³ relative of
    /// pow's (t roundings, and pow's own half ulp), so 1 − βᵗ moves by κ = βᵗ/(1 − βᵗ) times
    /// that, relatively, and a step's size by at most κ₁δ + ½κ₂δ (√bc₂ halves bc₂'s error; for
    /// Adam, bc₂ enters through √v/√bc₂ + eps, which can only damp it). So parameter x after
    /// step s may differ from torch's by Σ|Δx| over its updates so far, each times its ρ(t) =
    /// κ₁δ + ½κ₂δ (with δ = (t + 1)·2⁻⁵³, doubled for the products' second order), plus one ulp
    /// of x per step for the subtraction's rounding of a value that already differs.
    @Test(arguments: optimizerReference.indices)
    func staysWithinRoundingOfTorchsPowBiasCorrections(_ index: Int) throws {
        let ref = optimizerReference[index]
        let opt = try makeOptimizer(ref.config, overrides: ref.lrOverrides)
        let p = RawParameters(a: optimizerReferenceInitial.a, b: optimizerReferenceInitial.b)
        let betas: (Double, Double)? = switch ref.config {
        case let .adam(_, b1, b2, _), let .clippedAdam(_, b1, b2, _, _, _): (b1, b2)
        case .sgd: nil
        }
        var previous = optimizerReferenceInitial.a + optimizerReferenceInitial.b
        var budget = [Double](repeating: 0, count: previous.count)
        var updates = [0, 0]
        var worst = 0.0
        for (s, g) in optimizerReferenceGradients.enumerated() {
            p.step(opt, g)
            let expected = ref.trajectory[s].a + ref.trajectory[s].b
            for (k, has) in [g.a != nil, g.b != nil].enumerated() where has { updates[k] += 1 }
            for i in expected.indices {
                let t = Double(updates[i < 3 ? 0 : 1])
                var rho = 0.0
                if let (b1, b2) = betas, t > 0 {
                    let delta = 2 * (t + 1) * 0x1p-53
                    let p1 = Foundation.pow(b1, t), p2 = Foundation.pow(b2, t)
                    rho = p1 / (1 - p1) * delta + 0.5 * p2 / (1 - p2) * delta
                }
                budget[i] += Swift.abs(expected[i] - previous[i]) * rho + expected[i].ulp
            }
            let got = p.values.a + p.values.b
            for i in expected.indices {
                let gap = Swift.abs(got[i] - expected[i])
                worst = Swift.max(worst, gap / expected[i].ulp)
                #expect(gap <= budget[i], "\(ref.note), step \(s + 1), element \(i): \(got[i]) vs torch's \(expected[i])")
            }
            previous = expected
        }
        print("optimizer vs torch's pow corrections | \(ref.note) | worst \(worst) ulp")
    }

    // MARK: Hand-computed sequences

    @Test func adamFollowsTorchFormulaByHand() throws {
        let lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8
        let grads = [0.5, -1.0, 2.0, 0.25, -3.0]
        let got = try scalarRun(.adam(lr: lr), start: 1.0, gradients: grads)
        var p = 1.0, m = 0.0, v = 0.0
        for (i, g) in grads.enumerated() {
            let t = Double(i + 1)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p -= (lr / (1 - pow(b1, t))) * (m / (v.squareRoot() / (1 - pow(b2, t)).squareRoot() + eps))
            #expect(abs(got[i] - p) <= 1e-15, "step \(i + 1)")
        }
        // First step is lr·g/(|g| + eps) whatever g: bias correction undoes the moment warm-up.
        #expect(abs((1.0 - got[0]) - lr * 0.5 / (0.5 + eps)) < 1e-15)
    }

    @Test func clippedAdamFollowsPyroFormulaByHand() throws {
        let lr0 = 0.1, decay = 0.8, clip = 1.0, b1 = 0.9, b2 = 0.999, eps = 1e-8
        let grads = [0.5, -4.0, 2.0, 0.25, -0.75]
        let got = try scalarRun(.clippedAdam(lr: lr0, clipNorm: clip, lrDecay: decay), start: 1.0, gradients: grads)
        var p = 1.0, m = 0.0, v = 0.0, lr = lr0
        for (i, raw) in grads.enumerated() {
            let t = Double(i + 1)
            lr *= decay
            let g = min(max(raw, -clip), clip)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p -= lr * (1 - pow(b2, t)).squareRoot() / (1 - pow(b1, t)) * (m / (v.squareRoot() + eps))
            #expect(abs(got[i] - p) <= 1e-15, "step \(i + 1)")
        }
    }

    @Test func sgdFollowsTorchFormulaByHand() throws {
        let grads = [1.0, 2.0, -1.0, 0.5]
        let plain = try scalarRun(.sgd(lr: 0.1), start: 0, gradients: grads)
        #expect(plain.map { ($0 * 1e12).rounded() / 1e12 } == [-0.1, -0.3, -0.2, -0.25])
    }

    @Test func nesterovDiffersFromPlainMomentumAsTorchDefines() throws {
        let lr = 0.1, mu = 0.9, grads = [1.0, 2.0, -1.0, 0.5]
        let heavy = try scalarRun(.sgd(lr: lr, momentum: mu), start: 0, gradients: grads)
        let nesterov = try scalarRun(.sgd(lr: lr, momentum: mu, nesterov: true), start: 0, gradients: grads)
        var ph = 0.0, pn = 0.0, buf = 0.0
        for (i, g) in grads.enumerated() {
            buf = i == 0 ? g : mu * buf + g            // b ← g at t = 1, else μb + g
            ph -= lr * buf
            pn -= lr * (g + mu * buf)                   // Nesterov steps along g + μb
            #expect(abs(heavy[i] - ph) <= 1e-15, "momentum, step \(i + 1)")
            #expect(abs(nesterov[i] - pn) <= 1e-15, "nesterov, step \(i + 1)")
        }
        // The numbers themselves: b = 1, 2.9, 1.61, 1.949.
        #expect(abs(heavy[2] - -(0.1 + 0.29 + 0.161)) < 1e-15)
        #expect(abs(nesterov[2] - -(0.19 + 0.461 + 0.0449)) < 1e-15)
        #expect(heavy[0] != nesterov[0])
    }

    // MARK: ClippedAdam specifics

    @Test func clippedAdamClampsEachElementNotTheNorm() throws {
        let config = OptimizerConfig.clippedAdam(lr: 0.05, clipNorm: 2)
        let huge = try makeOptimizer(config), clamped = try makeOptimizer(config), reference = try makeOptimizer(config)
        let p1 = RawParameters(a: [1, 2, 3], b: [4, 5]), p2 = p1.copy(), p3 = p1.copy()
        for _ in 0..<3 {
            p1.step(huge, ([1e6, -1e6, 1.5], [-2.5, 0.25]))
            p2.step(clamped, ([2, -2, 1.5], [-2, 0.25]))
            // Clamping by the vector norm instead would shrink the in-range elements too.
            p3.step(reference, ([2, -2, 1.5], [-2, 0.25]))
        }
        #expect(p1.values.a.map(\.bitPattern) == p2.values.a.map(\.bitPattern))
        #expect(p1.values.b.map(\.bitPattern) == p2.values.b.map(\.bitPattern))
        #expect(huge.state == clamped.state, "moments see the clamped gradient")
        #expect(Array(p1.ga) == [1e6, -1e6, 1.5], "the caller's gradient is not modified")
    }

    @Test func clippedAdamDecaysLearningRateBeforeEveryStepIncludingTheFirst() throws {
        let opt = try makeOptimizer(.clippedAdam(lr: 0.1, lrDecay: 0.5))
        #expect(opt.learningRate(ofParameter: 0) == 0.1)
        let p = RawParameters(a: [0, 0, 0], b: [0, 0])
        p.step(opt, ([1, 1, 1], [1, 1]))
        #expect(opt.learningRate(ofParameter: 0) == 0.05)
        // The first step moves by lr·√(1−β₂)/(1−β₁)·(1−β₁)/(√(1−β₂) + eps) ≈ the decayed lr.
        let s = (1 - 0.999).squareRoot()
        #expect(abs(p.values.a[0] + 0.05 * s / (s + 1e-8)) < 1e-15)
        p.step(opt, ([1, 1, 1], nil))
        p.step(opt, ([1, 1, 1], [1, 1]))
        #expect(opt.learningRate(ofParameter: 0) == 0.0125)
        #expect(opt.learningRate(ofParameter: 1) == 0.0125, "decays even in a step without gradient")
        #expect(opt.state.parameters[1].step == 2)
    }

    // MARK: Per-parameter learning rate

    @Test(arguments: [
        OptimizerConfig.sgd(lr: 0.1), .sgd(lr: 0.1, momentum: 0.5, nesterov: true),
        .adam(lr: 0.01), .clippedAdam(lr: 0.02, clipNorm: 1, lrDecay: 0.9),
    ])
    func overrideActsAsItsOwnParamGroup(_ config: OptimizerConfig) throws {
        let mixed = try makeOptimizer(config, overrides: ["b": 0.3])
        let global = try makeOptimizer(config)
        let bAlone = try makeOptimizer(config.withLR(0.3))
        let p = RawParameters(a: [1, -2, 3], b: [0.5, -0.5]), q = p.copy(), r = p.copy()
        let grads: [(a: [Double]?, b: [Double]?)] = [([1, 2, 3], [2, -1]), ([-1, 0.5, 2], [1.5, 3]), ([0.2, -0.1, 4], [-2, 0.4])]
        for g in grads { p.step(mixed, g); q.step(global, g); r.step(bAlone, g) }
        #expect(p.values.a.map(\.bitPattern) == q.values.a.map(\.bitPattern), "a keeps the config's lr")
        #expect(p.values.b.map(\.bitPattern) == r.values.b.map(\.bitPattern), "b behaves as with lr 0.3")
        #expect(p.values.b != q.values.b)
        #expect(mixed.lrOverrides == [nil, 0.3])
    }

    // MARK: State

    @Test(arguments: [
        OptimizerConfig.sgd(lr: 0.1, momentum: 0.9, nesterov: true), .sgd(lr: 0.1),
        .adam(lr: 0.05, beta1: 0.8, beta2: 0.99), .clippedAdam(lr: 0.05, clipNorm: 1.5, lrDecay: 0.95),
    ])
    func stateRoundTripContinuesBitForBit(_ config: OptimizerConfig) throws {
        let grads: [(a: [Double]?, b: [Double]?)] = [
            ([0.3, -1.7, 2.9], [0.1, -0.2]), ([1.1, 0.0, -3.3], nil), ([0.123456789, -9.87654321, 1e-7], [5.5, -0.01]),
            ([-0.4, 0.6, 0.8], [0.7, 0.9]), ([2.2, -2.2, 0.05], [-1.25, 3.75]), ([0.3, 0.3, -0.3], nil), ([1, 2, 3], [4, 5]),
        ]
        let original = try makeOptimizer(config, overrides: ["b": 0.07])
        let p = RawParameters(a: [0.1, 0.2, 0.3], b: [-1, 1])
        for g in grads[..<3] { p.step(original, g) }

        let json = try JSONEncoder().encode(original.state)
        let decoded = try JSONDecoder().decode(OptimizerState.self, from: json)
        #expect(decoded == original.state)
        let restored = try makeOptimizer(config, overrides: ["b": 0.07])
        try restored.restore(decoded)
        let rebuilt = try ParameterOptimizer(state: decoded)
        #expect(restored.state == original.state && rebuilt.state == original.state)

        let q = p.copy(), r = p.copy()
        for g in grads[3...] { p.step(original, g); q.step(restored, g); r.step(rebuilt, g) }
        let bits = { (x: RawParameters) in (x.values.a + x.values.b).map(\.bitPattern) }
        #expect(bits(q) == bits(p))
        #expect(bits(r) == bits(p))
        #expect(restored.state == original.state && rebuilt.state == original.state)
        #expect(original.steps == 7 && restored.steps == 7)
    }

    @Test func restoreRejectsForeignState() throws {
        let opt = try makeOptimizer(.adam(lr: 0.1))
        let good = opt.state
        #expect(throws: OptimizerError.self) { try makeOptimizer(.adam(lr: 0.2)).restore(good) }
        #expect(throws: OptimizerError.self) { try makeOptimizer(.adam(lr: 0.1), overrides: ["a": 1]).restore(good) }
        #expect(throws: OptimizerError.self) {
            try ParameterOptimizer(config: .adam(lr: 0.1), parameters: [("a", 3, nil), ("c", 2, nil)]).restore(good)
        }
        var short = good; short.parameters[0].firstMoment.removeLast()
        #expect(throws: OptimizerError.self) { try opt.restore(short) }
        var ahead = good; ahead.parameters[1].step = 1
        #expect(throws: OptimizerError.self) { try opt.restore(ahead) }
        var sgd = try makeOptimizer(.sgd(lr: 0.1, momentum: 0.9)).state
        sgd.parameters[0].momentumBuffer = []
        #expect(throws: OptimizerError.self) { try ParameterOptimizer(state: sgd) }
        #expect(opt.state == good, "a failed restore changes nothing")
    }

    // MARK: Configuration

    @Test func defaultsAreTorchAndPyros() {
        #expect(OptimizerConfig.adam(lr: 0.1) == .adam(lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8))
        #expect(OptimizerConfig.clippedAdam(lr: 0.1)
                == .clippedAdam(lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 10, lrDecay: 1))
        #expect(OptimizerConfig.sgd(lr: 0.1) == .sgd(lr: 0.1, momentum: 0, nesterov: false))
        #expect(OptimizerConfig.clippedAdam(lr: 0.3).lr == 0.3)
    }

    @Test(arguments: [
        OptimizerConfig.sgd(lr: 0.1, momentum: 0.9, nesterov: true), .adam(lr: 1e-3, beta1: 0.5, beta2: 0.75, eps: 1e-6),
        .clippedAdam(lr: 0.01, beta1: 0.95, beta2: 0.9999, eps: 1e-7, clipNorm: 2.5, lrDecay: 0.999),
    ])
    func configCodableRoundTrip(_ config: OptimizerConfig) throws {
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(OptimizerConfig.self, from: data) == config)
    }

    @Test(arguments: [
        OptimizerConfig.sgd(lr: -0.1), .sgd(lr: .nan), .sgd(lr: 0.1, momentum: -1), .sgd(lr: 0.1, nesterov: true),
        .adam(lr: 0.1, beta1: 1), .adam(lr: 0.1, beta2: -0.1), .adam(lr: 0.1, eps: -1), .adam(lr: .infinity),
        .clippedAdam(lr: 0), .clippedAdam(lr: 0.1, clipNorm: 0), .clippedAdam(lr: 0.1, lrDecay: 0),
    ])
    func invalidConfigIsRejected(_ config: OptimizerConfig) {
        #expect(throws: OptimizerError.self) { try config.validate() }
        #expect(throws: OptimizerError.self) { try ParameterOptimizer(config: config, parameters: []) }
    }

    @Test func invalidParametersAreRejected() throws {
        #expect(throws: OptimizerError.self) {
            try ParameterOptimizer(config: .adam(lr: 0.1), parameters: [("a", 1, nil), ("a", 2, nil)])
        }
        #expect(throws: OptimizerError.self) { try ParameterOptimizer(config: .adam(lr: 0.1), parameters: [("a", -1, nil)]) }
        #expect(throws: OptimizerError.self) { try ParameterOptimizer(config: .sgd(lr: 0.1), parameters: [("a", 1, -2)]) }
        #expect(throws: OptimizerError.self) { try ParameterOptimizer(config: .clippedAdam(lr: 0.1), parameters: [("a", 1, 0)]) }
        let empty = try ParameterOptimizer(config: .sgd(lr: 0.1), parameters: [("e", 0, nil)])
        empty.step(values: [UnsafeMutableBufferPointer(start: nil, count: 0)], gradients: [UnsafeBufferPointer(start: nil, count: 0)])
        #expect(empty.state.parameters[0].step == 1)
    }

    // MARK: Convergence on a compiled tape

    /// loss = Σ (x − c)² + (y − d)², x of 3 elements with the config's lr and y with its own;
    /// every rule reaches the minimiser to within 1e-6 through the tape's own buffers.
    @Test(arguments: [
        (OptimizerConfig.sgd(lr: 0.1), 200), (.sgd(lr: 0.05, momentum: 0.9), 600),
        (.sgd(lr: 0.05, momentum: 0.9, nesterov: true), 600), (.adam(lr: 0.05), 3000),
        (.clippedAdam(lr: 0.05, clipNorm: 1, lrDecay: 0.999), 3000),
    ])
    func convergesOnQuadraticTape(_ config: OptimizerConfig, steps: Int) throws {
        let g = Graph()
        let c = [1.5, -2.0, 0.25], d = -0.75
        let x = g.parameter("x", Tensor([0, 0, 0]))
        let y = g.parameter("y", Tensor([3.0]))
        let dx = x - g.constant(Tensor(c)), dy = y - d
        let tape = try g.compile(loss: g.sum(dx * dx) + g.sum(dy * dy))
        #expect(tape.parameters == [x, y])
        let opt = try ParameterOptimizer(config: config, parameters: [("x", x.count, nil), ("y", y.count, config.lr / 2)])
        for _ in 0..<steps {
            tape.forward(); tape.backward()
            opt.step(tape, parameters: tape.parameters)
        }
        let xs = Array(tape.unsafeValues(of: x)), ys = tape.unsafeValues(of: y)[0]
        for (xi, ci) in zip(xs, c) { #expect(abs(xi - ci) < 1e-6, "\(config): x = \(xs)") }
        #expect(abs(ys - d) < 1e-6, "\(config): y = \(ys)")
    }
}
