import Autodiff
import Inference
import Numerics

/// What a compiled job holds while it runs, part by part, in bytes: an upper estimate made
/// before it runs (the tape is compiled but not replayed), so that a service can refuse a job
/// that would not fit and bound a worker's memory by it.
public struct JobMemoryEstimate: Sendable, Equatable, Codable {
    /// The tape: value, adjoint and scratch arenas, index tables, instructions.
    public var tape = 0
    /// The graph the tape was compiled from: constant and initial values, index tables, records.
    public var graph = 0
    /// The optimisers' state (two moments a parameter element, and step counts).
    public var optimizer = 0
    /// One checkpoint: the SVI state (parameters, moments, baselines) copied and encoded as JSON.
    public var checkpoint = 0
    /// The result: posterior summaries (``SummaryPlan``), fitted params and their JSON text,
    /// and the second tape the `let` values' summaries replay (see ``countingLetSummaries(tapeBytes:)``).
    public var result = 0
    /// What running needs besides: a worker thread's stack and allocator slack (a fixed 16 MiB),
    /// the transient copies compiling the tape makes of its tables and instructions, and the
    /// copies progress reports make of draws and params.
    public var runtime = 0

    public init() {}

    /// The sum of the parts (saturating).
    public var total: Int {
        [tape, graph, optimizer, checkpoint, result, runtime].reduce(0) { a, b in
            let (s, o) = a.addingReportingOverflow(b); return o ? .max : s
        }
    }

    /// The estimate with the tape of a job's `let` summaries counted in ``result``: at the end
    /// of the run they compile the graph a second time for the lets alone and replay it beside
    /// the training tape, whose size (`tapeBytes`) bounds it (the same graph, fewer outputs, no
    /// adjoints).
    func countingLetSummaries(tapeBytes: Int) -> JobMemoryEstimate {
        var e = self
        let (s, o) = result.addingReportingOverflow(tapeBytes)
        e.result = o ? .max : s
        return e
    }

    /// `tape 3.1 GiB, graph 160 MiB, …` for messages.
    public var breakdown: String {
        [("tape", tape), ("graph", graph), ("optimiser", optimizer), ("checkpoint", checkpoint), ("result", result), ("runtime", runtime)]
            .filter { $0.1 > 0 }.map { "\($0.0) \(ByteCount.text($0.1))" }.joined(separator: ", ")
    }

    /// Bytes one number costs as JSON text and in the encoder's intermediate values.
    static let encodedNumber = 96

    /// The estimate of a compiled program: its tape as compiled.
    init(_ program: CompiledProgram, sites: [SiteInfo], graph g: Graph) {
        self.init(tapeBytes: program.tape.heldBytes, graph: g,
                  parameterElements: program.parameters.reduce(0) { $0 + $1.raw.count }, parameterCount: program.parameters.count,
                  baselineElements: program.decayingBaselineElements, sites: sites, particles: program.particles)
    }

    /// The estimate before the tape is compiled: every node of the graph as if it had its own
    /// value and adjoint (an upper bound of the arenas).
    init(uncompiled g: Graph, sites: [SiteInfo], particles: Int) {
        self.init(tapeBytes: g.estimatedBytes, graph: g, parameterElements: g.parameterElements, parameterCount: g.parameterCount,
                  baselineElements: 0, sites: sites, particles: particles)
    }

    init(tapeBytes: Int, graph g: Graph, parameterElements: Int, parameterCount: Int, baselineElements: Int, sites: [SiteInfo], particles: Int) {
        func sum(_ xs: Int...) -> Int { xs.reduce(0) { a, b in let (s, o) = a.addingReportingOverflow(b); return o ? .max : s } }
        tape = tapeBytes
        graph = sum(g.heldBytes, g.nodeCount * 160)
        optimizer = sum(16 * parameterElements, 64 * parameterCount)
        // Parameters and two moments, copied into the state, then encoded; the ELBO trace.
        let stateNumbers = sum(3 * parameterElements, baselineElements)
        checkpoint = sum(stateNumbers * (8 + JobMemoryEstimate.encodedNumber), 2 * 1000 * 16)
        let summarised = sites.filter { $0.estimator != .enumerate }
        let plan = SummaryPlan(elements: summarised.map { Shape.count($0.shape) }, particles: particles)
        result = sum(plan.bytes, parameterElements * (8 + JobMemoryEstimate.encodedNumber), 1000 * 64)
        // Compiling builds the tables and instructions in arrays before copying them; a running
        // job's reports copy its sites' draws and its params (constrained) out of the tape.
        let drawn = sites.reduce(0) { $0 + $1.value.count }
        runtime = sum(16 << 20, g.nodeCount * 2 * 160, 8 * g.tableEntries, 8 * drawn, 16 * parameterElements)
    }
}
