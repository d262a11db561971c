extension CompiledProgram {
    /// Numbers held by the decaying-average baselines' states (part of every checkpoint).
    public var decayingBaselineElements: Int { decayingBaselines.reduce(0) { $0 + $1.state.count } }
}
