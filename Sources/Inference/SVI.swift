import Autodiff
import Distributions
import Numerics

/// What one SVI step measured.
public struct StepReport: Sendable, Equatable {
    /// Steps completed, this one included.
    public let step: Int
    /// The ELBO estimate of this step.
    public let elbo: Double
    /// Euclidean norm of the gradient over the program's parameters (control variates excluded).
    public let gradientNorm: Double
}

/// Why a step failed, or a state could not be restored.
public enum SVIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The ELBO or a gradient stopped being finite; names the site or parameter.
    case diverged(step: Int, String)
    /// A replay fault (an index out of range, a matrix not positive definite).
    case fault(step: Int, String)
    /// A state that does not belong to this program.
    case incompatibleState(String)

    public var description: String {
        switch self {
        case let .diverged(s, m): "diverged at step \(s): \(m)"
        case let .fault(s, m): "failed at step \(s): \(m)"
        case let .incompatibleState(m): "incompatible state: \(m)"
        }
    }
}

/// The complete state of an SVI run: restoring it into a fresh ``SVI`` of the same program
/// continues exactly as the uninterrupted run would (draws depend only on seed, stream, step).
public struct SVIState: Codable, Equatable, Sendable {
    /// Steps completed.
    public var step: Int
    /// Seed of every noise stream.
    public var seed: UInt64
    /// Unconstrained parameter values by name, in program order.
    public var parameters: [NamedValues]
    /// The main optimiser's moments and step counts.
    public var optimizer: OptimizerState
    /// The AVF control variates' optimiser, when the program has any.
    public var controlOptimizer: OptimizerState?
    /// Decaying-average baselines by site.
    public var baselines: [NamedValues]
}

/// A named flat array of values (a parameter or a baseline's state).
public struct NamedValues: Codable, Equatable, Sendable {
    public var name: String
    public var values: [Double]
    public init(name: String, values: [Double]) { self.name = name; self.values = values }
}

/// Stochastic variational inference on a compiled program (NumPyro's `SVI` as a state
/// machine): each `step()` draws noise for the step, replays forward and backward, checks
/// that the ELBO and the gradients are finite, updates the baselines and the parameters.
/// Bit-for-bit deterministic for a seed; its ``state`` can be saved and restored.
public final class SVI {
    public let program: CompiledProgram
    /// The program's tape, held here too so that a step borrows it from `self` rather than
    /// retaining it out of `program`.
    let tape: Tape
    let optimizer: ParameterOptimizer
    let controlOptimizer: ParameterOptimizer?
    let trained: [Node], controls: [Node]
    /// The trained parameters' and control variates' buffers, looked up once (the tape's
    /// arenas never move), so a step reads no tables.
    let trainedBuffers: UnsafeMutableBufferPointer<ParameterBuffers>
    let controlBuffers: UnsafeMutableBufferPointer<ParameterBuffers>
    /// The ELBO's value in the tape.
    let elboValue: UnsafeMutablePointer<Double>
    /// Steps completed.
    public internal(set) var stepCount: Int {
        get { counter.pointee }
        set { counter.pointee = newValue }
    }
    /// Backs ``stepCount`` (raw memory: no dynamic exclusivity check per step).
    let counter: UnsafeMutablePointer<Int>
    /// Seed of every noise stream.
    public let seed: UInt64
    /// Whether steps change nothing and every step gives the same ELBO: no parameter reaches
    /// the ELBO and the program draws no noise (a log-likelihood-only job). One step is then
    /// the exact evaluation.
    public var isDeterministicEvaluation: Bool { !program.tape.hasGradient && !program.tape.drawsNoise }

    /// - Parameters:
    ///   - controlOptimizer: the optimiser of AVF control variates (Pyro's example: Adam
    ///     lr 0.1, betas (0.5, 0.999)).
    public init(program: CompiledProgram, optimizer: OptimizerConfig, seed: UInt64 = 0,
                controlOptimizer: OptimizerConfig = .adam(lr: 0.1, beta1: 0.5, beta2: 0.999)) throws(OptimizerError) {
        self.program = program
        self.seed = seed
        let main = program.parameters.filter { $0.role != .controlVariate }
        let cv = program.parameters.filter { $0.role == .controlVariate }
        trained = main.map(\.raw); controls = cv.map(\.raw)
        self.optimizer = try ParameterOptimizer(config: optimizer, parameters: main.map { ($0.name, $0.raw.count, $0.learningRate) })
        self.controlOptimizer = cv.isEmpty ? nil : try ParameterOptimizer(config: controlOptimizer, parameters: cv.map { ($0.name, $0.raw.count, nil) })
        program.tape.seed = seed
        let tape = program.tape
        self.tape = tape
        counter = .allocate(capacity: 1); counter.initialize(to: 0)
        trainedBuffers = .allocate(capacity: max(trained.count, 1))
        _ = trainedBuffers.initialize(from: trained.map { ParameterBuffers(tape, $0) })
        controlBuffers = .allocate(capacity: max(controls.count, 1))
        _ = controlBuffers.initialize(from: controls.map { ParameterBuffers(tape, $0) })
        elboValue = tape.unsafeValues(of: program.elbo).baseAddress!
    }

    deinit { trainedBuffers.deallocate(); controlBuffers.deallocate(); counter.deallocate() }

    /// One step. Allocates nothing unless it fails.
    @discardableResult
    public func step() throws(SVIError) -> StepReport {
        tape.seed = seed
        tape.step = UInt64(stepCount)
        tape.forward()
        if let f = tape.fault { throw .fault(step: stepCount, f.description) }
        let elbo = elboValue.pointee
        guard elbo.isFinite else { throw .diverged(step: stepCount, "the ELBO is \(elbo); \(nonFiniteSite())") }
        guard tape.hasGradient else {
            // Nothing to learn (no param reaches the ELBO): the step is the ELBO's evaluation.
            stepCount += 1
            return StepReport(step: stepCount, elbo: elbo, gradientNorm: 0)
        }
        tape.backward()
        var norm2 = 0.0
        for k in 0..<trained.count {
            let b = trainedBuffers[k]
            guard let g = b.gradient else { continue }
            var s = 0.0
            for i in 0..<b.count { s += g[i] * g[i] }
            guard s.isFinite else {
                throw .diverged(step: stepCount, "the gradient of parameter '\(program.parameters[parameterIndex(k)].name)' is not finite")
            }
            norm2 += s
        }
        updateBaselines()
        optimizer.step(UnsafeBufferPointer(rebasing: trainedBuffers[0..<trained.count]))
        controlOptimizer?.step(UnsafeBufferPointer(rebasing: controlBuffers[0..<controls.count]))
        stepCount += 1
        return StepReport(step: stepCount, elbo: elbo, gradientNorm: norm2.squareRoot())
    }

    /// Decaying-average baselines after a replay: b ← β b + (1 − β) C̄ (the cost of the draw just made).
    func updateBaselines() {
        for b in program.decayingBaselines {
            let state = tape.unsafeValues(of: b.state), mean = tape.unsafeValues(of: b.costMean)
            for i in 0..<state.count { state[i] = b.beta * state[i] + (1 - b.beta) * mean[i] }
        }
    }

    func parameterIndex(_ k: Int) -> Int {
        program.parameters.firstIndex { $0.raw == trained[k] } ?? 0
    }

    /// The first site whose log-density is not finite, for error messages.
    func nonFiniteSite() -> String {
        for (name, node) in program.siteTerms {
            let v = program.tape.unsafeValues(of: node)
            if let x = v.first(where: { !$0.isFinite }) { return "\(name) contributes \(x)" }
        }
        return "no single site is non-finite"
    }

    // MARK: State

    /// Everything needed to continue this run exactly.
    public var state: SVIState {
        let tape = program.tape
        return SVIState(step: stepCount, seed: seed,
                        parameters: program.parameters.map { NamedValues(name: $0.name, values: tape.value(of: $0.raw).scalars) },
                        optimizer: optimizer.state, controlOptimizer: controlOptimizer?.state,
                        baselines: program.decayingBaselines.map { NamedValues(name: $0.site, values: tape.value(of: $0.state).scalars) })
    }

    /// Restores a state saved from a run of the same program.
    public func restore(_ s: SVIState) throws(SVIError) {
        guard s.seed == seed else { throw .incompatibleState("seed \(s.seed) differs from this run's \(seed)") }
        guard s.parameters.map(\.name) == program.parameters.map(\.name),
              s.baselines.map(\.name) == program.decayingBaselines.map(\.site) else {
            throw .incompatibleState("parameters or baselines do not match this program")
        }
        let tape = program.tape
        for (p, v) in zip(program.parameters, s.parameters) {
            guard v.values.count == p.raw.count else { throw .incompatibleState("parameter '\(p.name)' has \(v.values.count) values, expected \(p.raw.count)") }
            tape.setValue(p.raw, Tensor(shape: p.raw.shape, scalars: v.values))
        }
        for (b, v) in zip(program.decayingBaselines, s.baselines) {
            guard v.values.count == b.state.count else { throw .incompatibleState("baseline '\(b.site)' has the wrong size") }
            tape.setValue(b.state, Tensor(shape: b.state.shape, scalars: v.values))
        }
        // The optimisers count only steps that reached them; bounding their counts by the run's
        // bounds their restore's work (it recomputes Adam's running powers, O(steps)).
        guard s.step >= 0, s.optimizer.steps <= s.step, (s.controlOptimizer?.steps ?? 0) <= s.step else {
            throw .incompatibleState("the optimiser's step count exceeds the run's \(s.step)")
        }
        do {
            try optimizer.restore(s.optimizer)
            if let c = s.controlOptimizer { try controlOptimizer?.restore(c) }
        } catch { throw .incompatibleState("\(error)") }
        stepCount = s.step
    }

    /// The constrained value of every program parameter (what a user reads as the result).
    public func constrainedParameters() -> [(name: String, value: Tensor)] {
        program.parameters.filter { $0.role == .program }.map { p in
            (name: p.name, value: p.transform.forward(program.tape.value(of: p.raw)))
        }
    }
}
