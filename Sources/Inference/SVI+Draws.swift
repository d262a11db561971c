import Autodiff
import Numerics

extension SVI {
    /// Replays the program forward `replays` times with the noise of steps past training
    /// (step `stepCount + offset + r` for replay `r`), leaving parameters, optimiser, baselines
    /// and step count as they are, and hands `visit` the values of each of `nodes` after each
    /// replay (its index in `nodes`, then its values: `[P] + shape`, valid only during the call).
    /// Afterwards the program is replayed at the run's own step again (``refreshValues()``), so
    /// its values are the run's. Allocates nothing per replay.
    public func replayDraws(_ replays: Int, of nodes: [Node], offset: Int = 1_000_000,
                            _ visit: (_ node: Int, _ values: UnsafeBufferPointer<Double>) -> Void) {
        let tape = program.tape
        tape.seed = seed
        for r in 0..<max(replays, 0) {
            tape.step = UInt64(stepCount + offset + r)
            tape.forward()
            for (k, node) in nodes.enumerated() { visit(k, UnsafeBufferPointer(tape.unsafeValues(of: node))) }
        }
        refreshValues()
    }

    /// Replays the program forward at the run's own step, so every value the tape keeps (a
    /// constrained param, a distribution's parameters) is computed from the params as the last
    /// optimiser update left them, not as the last step's forward pass saw them. What a
    /// finished run's readers of program values (W₂ summaries, transport results) need first.
    public func refreshValues() {
        program.tape.seed = seed
        program.tape.step = UInt64(stepCount)
        program.tape.forward()
    }
}

extension CompiledProgram {
    /// The current value of `node`, or nil when the compiled program does not keep it.
    public func value(of node: Node) -> Tensor? {
        tape.contains(node) ? tape.value(of: node) : nil
    }

    /// The current values of `node` in place (row-major; valid until the next replay or step),
    /// or nil when the compiled program does not keep it. Reading them allocates nothing.
    public func values(of node: Node) -> UnsafeBufferPointer<Double>? {
        tape.contains(node) ? UnsafeBufferPointer(tape.unsafeValues(of: node)) : nil
    }

    /// Numbers one replay holds (values, adjoints, scratch): what bounds how many replays a
    /// summary may make.
    public var replayNumbers: Int { tape.arenaBytes / MemoryLayout<Double>.stride }
}
