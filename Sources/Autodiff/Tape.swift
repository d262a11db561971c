import CLAPACK
import CVecMath
import Numerics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A compiled ``Graph``: every value lives at a fixed offset of one preallocated arena and
/// every op is a plain ``Instruction`` in a flat, topologically ordered array. `forward()`
/// replays the instructions; `backward()` zeroes the adjoint arena, seeds d(loss) = 1 and
/// replays the differentiable instructions in reverse. Neither allocates, locks, or calls
/// through an existential (except the open ``CustomOperation`` hook, once per such node).
///
/// A tape is owned by one worker at a time (it is not `Sendable`). Noise nodes draw from
/// streams keyed by (`seed`, stream id, `step`): set `step` before each replay.
public final class Tape {
    // Hot buffers are raw pointers held in `let`s so the replay loop pays no exclusivity checks.
    let values: UnsafeMutablePointer<Double>
    let adjoints: UnsafeMutablePointer<Double>
    let scratch: UnsafeMutablePointer<Double>
    let ints: UnsafeMutablePointer<Int>
    let forwardCode: UnsafeMutableBufferPointer<Instruction>
    let backwardCode: UnsafeMutableBufferPointer<Instruction>
    let status: UnsafeMutablePointer<Int>
    let valueCount: Int, adjointCount: Int, scratchCount: Int, intCount: Int

    let offsets: [Int]
    let adjointOffsets: [Int]
    let shapes: [[Int]]
    let ops: [OpCode]
    let names: [String?]
    let customOps: [any CustomOperation]
    let customViews: [CustomViews]
    /// Adjoint offset of the loss, or −1 when compiled without one.
    let lossAdjoint: Int

    /// Seed, step and whether constant folding is pending, in raw memory: a class's stored
    /// `var`s pay a dynamic exclusivity check on every access, several per replay.
    let replayState: UnsafeMutablePointer<UInt64>

    /// Seed of every noise stream.
    public var seed: UInt64 {
        get { replayState[0] }
        set { replayState[0] = newValue }
    }
    /// Replay counter; noise drawn at a step depends only on (seed, stream, step).
    public var step: UInt64 {
        get { replayState[1] }
        set { replayState[1] = newValue }
    }

    /// Whether the OMT backward for 17 ≤ d ≤ 64 runs CVecMath's one AVX-512 routine
    /// (`smp_omt_gradient`) rather than the OpenBLAS sequence. True exactly when the CPU runs
    /// AVX-512; tests turn it off on such a CPU so the OpenBLAS path, which other CPUs take, is
    /// checked here too. Read once per OMT instruction.
    var omtUsesOwnProducts = smp_available() != 0

    /// Parameters of the graph, in creation order.
    public let parameters: [Node]
    /// The loss node, when compiled with one.
    public let loss: Node?

    convenience init(graph: Graph, loss: Node?, outputs: [Node]) throws(GraphError) {
        try self.init(building: graph, loss: loss, outputs: outputs, keepingLeaves: true)
        if let f = fault {
            throw GraphError("\(f) (computed from constants when the graph was compiled)")
        }
    }

    /// `keepingLeaves`: keep every parameter and input (a training tape) rather than only what
    /// the outputs need.
    init(building graph: Graph, loss: Node?, outputs: [Node], keepingLeaves: Bool) throws(GraphError) {
        if let e = graph.error { throw e }
        if let loss, loss.count != 1 { throw GraphError("loss must be a scalar, got shape \(loss.shape)") }
        let fused = FusedGraph(graph, keep: Set(outputs.map(\.id) + (loss.map { [$0.id] } ?? [])))
        let recs = fused.records, order = fused.order
        let n = recs.count

        // Which nodes the requested outputs need.
        var live = Array(repeating: false, count: n)
        var stack = outputs.map(\.id) + (loss.map { [$0.id] } ?? [])
        for (i, r) in recs.enumerated() where keepingLeaves && (r.op == .parameter || r.op == .input) { stack.append(i) }
        while let i = stack.popLast() {
            if live[i] { continue }
            live[i] = true
            stack.append(contentsOf: recs[i].inputs)
        }

        // Which nodes carry gradient from a parameter, and which of those reach the loss.
        var carries = Array(repeating: false, count: n)
        for i in order where live[i] {
            let r = recs[i]
            carries[i] = switch r.op {
            case .parameter: true
            case .input, .constant, .stopGradient, .normalNoise, .uniformNoise, .gumbelNoise,
                 .less, .argmax, .oneHot, .poissonSample, .binomialSample, .subsample, .blockRows: false
            case .gather, .pick, .view: carries[r.inputs[0]]
            case .substitute: carries[r.inputs[1]]
            default: r.inputs.contains { carries[$0] }
            }
        }
        // Only along edges that pass a gradient: what a stop-gradient, an argmax or an index
        // reads gets no adjoint through it (and no backward instruction that adds zeros).
        var feedsLoss = Array(repeating: false, count: n)
        if let loss {
            feedsLoss[loss.id] = true
            for i in order.reversed() where feedsLoss[i] && live[i] && carries[i] {
                for (k, j) in recs[i].inputs.enumerated() where Tape.passesGradient(recs[i].op, input: k) { feedsLoss[j] = true }
            }
        }
        let needsAdjoint = (0..<n).map { carries[$0] && feedsLoss[$0] }

        // Nodes computed from constants alone are evaluated once, at compile time.
        var folded = Array(repeating: false, count: n)
        for i in order where live[i] {
            let r = recs[i]
            switch r.op {
            case .constant: folded[i] = true
            case .parameter, .input, .normalNoise, .uniformNoise, .gumbelNoise, .gammaSample, .poissonSample, .binomialSample, .subsample, .custom,
                 .relaxedOneHotPlate, .categoricalDrawPlate:
                folded[i] = false
            default: folded[i] = !r.inputs.isEmpty && r.inputs.allSatisfy { folded[$0] }
            }
        }

        // Arenas: views and stop-gradients share their input's values (and views its adjoint).
        var offs = Array(repeating: -1, count: n), adjOffs = Array(repeating: -1, count: n)
        var auxOffs = Array(repeating: -1, count: n)
        var vCount = 0, aCount = 0, scratchNeed = 0
        for i in order where live[i] {
            let r = recs[i], c = Shape.count(r.shape)
            if r.op == .view || r.op == .stopGradient {
                offs[i] = offs[r.inputs[0]]
                if needsAdjoint[i] && r.op == .view { adjOffs[i] = adjOffs[r.inputs[0]] }
                continue
            }
            offs[i] = vCount; vCount += c
            let aux = Tape.auxiliaryCount(r, inputs: r.inputs.map { Shape.count(recs[$0].shape) })
            if aux > 0 { auxOffs[i] = vCount; vCount += aux }
            if needsAdjoint[i] { adjOffs[i] = aCount; aCount += c }
            scratchNeed = max(scratchNeed, Tape.scratchNeed(r, inputs: r.inputs.map { Shape.count(recs[$0].shape) }))
        }
        valueCount = max(vCount, 1); adjointCount = max(aCount, 1); scratchCount = max(scratchNeed, 1)
        // Zeroed by the allocator (large blocks are fresh pages, zero until first written), so
        // a tape that is compiled to be checked but never replayed costs little memory.
        guard let v = Tape.zeroed(valueCount), let a = Tape.zeroed(adjointCount), let sc = Tape.zeroed(scratchCount) else {
            throw GraphError("cannot allocate the tape's \((valueCount + adjointCount + scratchCount) >> 17) MiB of working memory")
        }
        values = v; adjoints = a; scratch = sc
        status = .allocate(capacity: 2); status.initialize(repeating: 0, count: 2)
        replayState = .allocate(capacity: 3); replayState.initialize(repeating: 0, count: 3)
        for i in 0..<n where live[i] {
            if let v = recs[i].initial { for (k, x) in v.enumerated() { values[offs[i] + k] = x } }
        }

        // Instructions and the integer pool.
        var pool: [Int] = []
        var fwd: [Instruction] = []
        var setup: [Instruction] = []
        var views: [CustomViews] = []
        for i in order where live[i] {
            let r = recs[i]
            if r.op == .parameter || r.op == .input || r.op == .constant || r.op == .view || r.op == .stopGradient || r.op == .fusedOutput { continue }
            func v(_ k: Int) -> Int { k < r.inputs.count ? offs[r.inputs[k]] : -1 }
            func g(_ k: Int) -> Int {
                guard needsAdjoint[i], k < r.inputs.count, Tape.passesGradient(r.op, input: k) else { return -1 }
                return adjOffs[r.inputs[k]]
            }
            var ins = Instruction(op: r.op, node: i, n: Shape.count(r.shape), out: offs[i], a: v(0), b: v(1), c: v(2),
                                  gOut: adjOffs[i], gA: g(0), gB: g(1), gC: g(2),
                                  p0: 0, p1: 0, p2: 0, p3: 0, p4: 0, p5: 0,
                                  s0: r.reals.first ?? 0, s1: r.reals.count > 1 ? r.reals[1] : 0, aux: auxOffs[i])
            let p = r.ints + Array(repeating: 0, count: max(0, 6 - r.ints.count))
            (ins.p0, ins.p1, ins.p2, ins.p3, ins.p4, ins.p5) = (p[0], p[1], p[2], p[3], p[4], p[5])
            switch r.op {
            case .select:
                ins.p0 = pool.count; pool += r.table
            case .reduce:
                ins.p0 = pool.count; ins.p1 = r.table.count; pool += r.table
            case .rowDot:
                ins.p1 = r.ints[0]; ins.p0 = pool.count; pool += r.table
                ins.p2 = Tape.isRowBroadcast(r.table, k: r.ints[0]) && r.inputs[0] != r.inputs[1] ? 1 : 0
            case .sumAll, .scaledSum:
                ins.p1 = Shape.count(recs[r.inputs[0]].shape)
            case .linearCombination:
                // Leaves' value and adjoint offsets in the pool; the coefficients (last input) in `b`.
                let leaves = r.inputs.count - 1
                ins.p0 = pool.count; ins.p1 = leaves
                for k in 0..<leaves { pool += [v(k), g(k)] }
                ins.a = -1; ins.b = v(leaves); ins.gA = -1; ins.gB = -1; ins.gC = -1
            case .relaxedOneHotPlate:
                // The further outputs' value and adjoint offsets, then the reals node's offset.
                let value = r.ints[3], logProb = r.ints[4]
                ins.p3 = pool.count
                pool += [value >= 0 ? offs[value] : -1, value >= 0 ? adjOffs[value] : -1, offs[logProb], adjOffs[logProb], v(3)]
            case .categoricalDrawPlate:
                // The log-density's value and adjoint offsets, then per gather its table's and
                // its output's, and the table's entries.
                let gathers = r.inputs.count - 1, k = r.ints[1]
                ins.p3 = pool.count; ins.p4 = gathers
                pool += [offs[r.ints[3]], adjOffs[r.ints[3]]]
                for i in 0..<gathers {
                    pool += [v(1 + i), g(1 + i), offs[r.ints[4 + i]], adjOffs[r.ints[4 + i]]] + r.table[(i * k)..<(i * k + k)]
                }
            case .normalLogProbSum:
                // The element count (the output is the sum), the log scale's offset, the loc's
                // table in the pool and the folded 1/scale's offset (−1: none).
                ins.n = r.ints[5]
                ins.p3 = v(3)
                ins.p4 = r.table.isEmpty ? -1 : pool.count
                pool += r.table
                ins.p5 = v(4)
            case .normalDrawLogProbSum:
                ins.n = r.ints[5]
                ins.p3 = v(2)
            case .mvnSampleAVF:
                // Five operands do not fit a, b, c: the control variate's go to the pool.
                ins.p3 = pool.count; pool += [v(3), v(4), g(3), g(4)]
            case .custom:
                ins.p1 = views.count
                views.append(CustomViews(inputs: r.inputs, inputCounts: r.inputs.map { Shape.count(recs[$0].shape) },
                                         gradients: (0..<r.inputs.count).map { g($0) }))
            default: break
            }
            if folded[i] { setup.append(ins) } else { fwd.append(ins) }
        }
        let bwd = fwd.reversed().filter { ins in
            guard ins.gOut >= 0 else { return false }
            if ins.gA >= 0 || ins.gB >= 0 || ins.gC >= 0 { return true }
            if ins.op == .linearCombination { return (0..<ins.p1).contains { pool[ins.p0 + 2 * $0 + 1] >= 0 } }
            return ins.op == .categoricalDrawPlate || (ins.op == .mvnSampleAVF && (pool[ins.p3 + 2] >= 0 || pool[ins.p3 + 3] >= 0))
        }
        intCount = max(pool.count, 1)
        ints = .allocate(capacity: intCount); ints.initialize(repeating: 0, count: intCount)
        for (k, x) in pool.enumerated() { ints[k] = x }
        forwardCode = .allocate(capacity: max(fwd.count, 1)); _ = forwardCode.initialize(from: fwd)
        backwardCode = .allocate(capacity: max(bwd.count, 1)); _ = backwardCode.initialize(from: bwd)
        forwardCount = fwd.count; backwardCount = bwd.count

        offsets = offs; adjointOffsets = adjOffs
        shapes = recs.map(\.shape); ops = recs.map(\.op); names = recs.map(\.name)
        customOps = graph.customOps
        customViews = views
        self.loss = loss
        lossAdjoint = loss.map { adjOffs[$0.id] } ?? -1
        parameters = (0..<n).filter { recs[$0].op == .parameter }.map { Node(graph: graph, id: $0) }
        appliedFusions = fused.applied.filter { live[$0.node] }
        foldedCount = setup.count
        drawsNoise = fwd.contains { Tape.isDraw($0.op) }
        for view in views { view.bind(values: values, adjoints: adjoints, offsets: offs, adjointOffsets: adjOffs) }
        setupCode = .allocate(capacity: max(setup.count, 1)); _ = setupCode.initialize(from: setup)
        pendingSetup = !setup.isEmpty
        // Evaluate the constant subgraphs once through the same kernels: now, or at the first
        // replay when the graph defers it.
        if !graph.defersFolding { foldConstants() }
    }

    /// Evaluates the nodes computed from constants alone, once.
    func foldConstants() {
        guard pendingSetup else { return }
        pendingSetup = false
        run(setupCode, count: foldedCount)
    }

    /// `count` doubles zeroed by the allocator, or nil when the system cannot provide them.
    static func zeroed(_ count: Int) -> UnsafeMutablePointer<Double>? {
        calloc(count, MemoryLayout<Double>.stride)?.bindMemory(to: Double.self, capacity: count)
    }

    /// The fusion rules the compiler applied, with the node each replaced (live nodes only).
    public let appliedFusions: [(fusion: Fusion, node: Int)]

    /// Instructions evaluated once at compile time because they depend on constants only.
    public let foldedCount: Int
    /// Whether a replay draws noise (so two steps may give different values).
    public let drawsNoise: Bool
    /// Whether the loss depends on a parameter: false when `backward` has nothing to do.
    public var hasGradient: Bool { lossAdjoint >= 0 }

    /// Ops whose values are random draws.
    static func isDraw(_ op: OpCode) -> Bool {
        switch op {
        case .normalNoise, .uniformNoise, .gumbelNoise, .gammaSample, .poissonSample, .binomialSample, .subsample, .relaxedOneHotPlate,
             .categoricalDrawPlate: true
        default: false
        }
    }

    /// Whether the gradient reaching a node of op `op` passes to its input number `k`: not to
    /// the index of a gather or pick, the hard value of a straight-through substitution, or the
    /// standard normal rows of an MVN draw (the nodes that carry no gradient at all, such as
    /// stop-gradients and argmaxes, are excluded by `carries`).
    static func passesGradient(_ op: OpCode, input k: Int) -> Bool {
        switch op {
        case .gather, .pick: k == 0
        case .substitute: k == 1
        case .mvnSampleOMT, .mvnSampleAVF: k != 2
        // The log scale a fused Normal sum reads beside the scale: its gradient goes through the scale.
        case .normalLogProbSum: k < 3
        case .normalDrawLogProbSum: k != 2
        default: true
        }
    }

    /// Rows of the design matrix per block in CVecMath's fused linear likelihoods.
    static let linearBlockRows = 32

    /// Doubles a node keeps beside its value for its backward rule.
    static func auxiliaryCount(_ r: NodeRecord, inputs: [Int]) -> Int {
        switch r.op {
        case .bernoulliLogitsLogProb: return r.ints.count > 1 && r.ints[1] == 1 ? Shape.count(r.shape) : 0
        case .bernoulliLinearSum: return r.ints[0] * r.ints[2]
        case .mvnSampleOMT: return Shape.count(r.shape)
        case .mvnTrilLogProb: return r.ints[0] * r.ints[1]
        case .relaxedOneHotPlate: return 2 * Shape.count(r.shape)
        case .categoricalDrawPlate: return r.ints[0] * r.ints[1]
        default: return 0
        }
    }

    let forwardCount: Int, backwardCount: Int
    /// The constant nodes' instructions, run once (``foldConstants()``).
    let setupCode: UnsafeMutableBufferPointer<Instruction>
    /// Whether the constant nodes still wait to be computed.
    var pendingSetup: Bool {
        get { replayState[2] != 0 }
        set { replayState[2] = newValue ? 1 : 0 }
    }

    deinit {
        free(values); free(adjoints); free(scratch); ints.deallocate(); status.deallocate(); replayState.deallocate()
        forwardCode.deallocate(); backwardCode.deallocate(); setupCode.deallocate()
    }

    /// Scratch doubles an op needs during its forward or backward kernel.
    static func scratchNeed(_ r: NodeRecord, inputs: [Int]) -> Int {
        let n = Shape.count(r.shape)
        switch r.op {
        case .cholesky: return 3 * r.ints[1] * r.ints[1]
        case .mvnTrilLogProb: return r.ints[0] * r.ints[1] + r.ints[1] * r.ints[1]
        case .mvnSampleOMT: return OMTScratch(samples: r.ints[0], d: r.ints[1]).count
        case .mvnSampleAVF: return AVFScratch(samples: r.ints[0], d: r.ints[1]).count
        case .logsumexp, .softmax, .logSoftmax: return inputs.first ?? n
        case .stickBreaking: return 2 * r.ints[0]
        case .subsample: return r.ints[1]
        case .normalNoise: return n + 1
        case .bernoulliLinearSum: return svm_linear_bernoulli_scratch(r.ints[2], r.ints[0])
        case .relaxedOneHotPlate: return Tape.relaxedBlockRows * (4 * r.ints[1] + 7)
        case .categoricalDrawPlate: return Tape.categoricalBlockRows * (4 * r.ints[1] + 2)
        case .blockRows, .scaledSum, .linearCombination, .normalLogProbSum, .normalDrawLogProbSum: return 0
        default: return max(n, inputs.max() ?? 0)
        }
    }

    // MARK: Access

    /// Number of instructions replayed forward and backward (for diagnostics and benchmarks).
    public var instructionCounts: (forward: Int, backward: Int) { (forwardCount, backwardCount) }

    /// Bytes held by the value, adjoint and scratch arenas.
    public var arenaBytes: Int { (valueCount + adjointCount + scratchCount) * MemoryLayout<Double>.stride }

    /// Every byte the tape holds: its arenas, its index tables, its instructions and its
    /// per-node bookkeeping.
    public var heldBytes: Int {
        let instructions = (forwardCount + backwardCount + foldedCount + 3) * MemoryLayout<Instruction>.stride
        return arenaBytes + intCount * MemoryLayout<Int>.stride + instructions + offsets.count * 64
    }

    func requireLive(_ node: Node) -> Int {
        let off = offsets[node.id]
        precondition(off >= 0, "node \(node.id) is not part of this tape (not needed by its outputs)")
        return off
    }

    /// Whether the tape keeps `node`'s value (nodes that no output needs are dropped).
    public func contains(_ node: Node) -> Bool { node.id < offsets.count && offsets[node.id] >= 0 }

    /// Current value of `node` (after `forward`).
    public func value(of node: Node) -> Tensor {
        let off = requireLive(node)
        return Tensor(shape: shapes[node.id], scalars: Array(UnsafeBufferPointer(start: values + off, count: Shape.count(shapes[node.id]))))
    }

    /// Value of a one-element node.
    public func scalar(of node: Node) -> Double { values[requireLive(node)] }

    /// Gradient of the loss with respect to `node` (after `backward`); zeros when no gradient
    /// reaches it.
    public func gradient(of node: Node) -> Tensor {
        let off = adjointOffsets[node.id]
        let c = Shape.count(shapes[node.id])
        guard off >= 0 else { return Tensor.zeros(shapes[node.id]) }
        return Tensor(shape: shapes[node.id], scalars: Array(UnsafeBufferPointer(start: adjoints + off, count: c)))
    }

    /// Sets a parameter or input (shapes must match).
    public func setValue(_ node: Node, _ t: Tensor) {
        precondition(ops[node.id] == .parameter || ops[node.id] == .input, "only parameters and inputs are set from outside")
        precondition(t.shape == shapes[node.id], "shape \(t.shape) does not match node shape \(shapes[node.id])")
        let off = requireLive(node)
        t.scalars.withUnsafeBufferPointer { src in (values + off).update(from: src.baseAddress!, count: src.count) }
    }

    /// Direct access to a node's values without copying (the optimiser's path).
    public func withValues<R>(of node: Node, _ body: (UnsafeMutableBufferPointer<Double>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: values + requireLive(node), count: Shape.count(shapes[node.id])))
    }

    /// Direct access to a node's adjoint; nil when no gradient reaches it.
    public func withGradient<R>(of node: Node, _ body: (UnsafeMutableBufferPointer<Double>?) throws -> R) rethrows -> R {
        let off = adjointOffsets[node.id]
        return try body(off < 0 ? nil : UnsafeMutableBufferPointer(start: adjoints + off, count: Shape.count(shapes[node.id])))
    }

    /// The node's value buffer, valid while the tape lives: for optimisers and samplers that
    /// update parameters in place on the hot path without closures.
    public func unsafeValues(of node: Node) -> UnsafeMutableBufferPointer<Double> {
        UnsafeMutableBufferPointer(start: values + requireLive(node), count: Shape.count(shapes[node.id]))
    }

    /// The node's adjoint buffer (valid while the tape lives), or nil when no gradient reaches it.
    public func unsafeGradient(of node: Node) -> UnsafeMutableBufferPointer<Double>? {
        let off = adjointOffsets[node.id]
        return off < 0 ? nil : UnsafeMutableBufferPointer(start: adjoints + off, count: Shape.count(shapes[node.id]))
    }

    /// The fault raised by the last replay, if any. Values computed after a fault are not
    /// meaningful; the tape itself stays usable.
    public var fault: TapeFault? {
        guard status[0] != 0, let kind = TapeFault.Kind(rawValue: status[0]) else { return nil }
        return TapeFault(kind: kind, node: status[1])
    }

    func raise(_ kind: TapeFault.Kind, _ node: Int) {
        if status[0] == 0 { status[0] = kind.rawValue; status[1] = node }
    }
}

public extension Graph {
    /// Compiles the graph into a replayable tape. `loss` (a scalar) is what `backward`
    /// differentiates; `outputs` are further nodes to keep readable. Nodes that neither needs
    /// are dropped. Throws the first error recorded while building.
    func compile(loss: Node? = nil, outputs: [Node] = []) throws(GraphError) -> Tape {
        try Tape(graph: self, loss: loss, outputs: outputs)
    }

    /// The value of a node computed from constants alone, computed now through a tape of only
    /// the nodes it needs. Throws when it is not such a node, or when computing it faults.
    func evaluateConstant(_ node: Node) throws(GraphError) -> Tensor {
        check(node)
        guard isConstant(node.id) else { throw GraphError("node \(node.id) is not computed from constants alone") }
        let tape = try Tape(building: self, loss: nil, outputs: [node], keepingLeaves: false)
        tape.forward()
        if let f = tape.fault { throw GraphError("\(f)") }
        return tape.value(of: node)
    }
}

/// Buffer views handed to a ``CustomOperation``: built once at compile time so replays
/// allocate nothing.
final class CustomViews {
    let inputIDs: [Int], inputCounts: [Int], gradientOffsets: [Int]
    var inputs: [UnsafeBufferPointer<Double>] = []
    var inputAdjoints: [UnsafeMutableBufferPointer<Double>?] = []

    init(inputs: [Int], inputCounts: [Int], gradients: [Int]) {
        inputIDs = inputs; self.inputCounts = inputCounts; gradientOffsets = gradients
    }

    func bind(values: UnsafeMutablePointer<Double>, adjoints: UnsafeMutablePointer<Double>, offsets: [Int], adjointOffsets: [Int]) {
        inputs = zip(inputIDs, inputCounts).map { UnsafeBufferPointer(start: values + offsets[$0], count: $1) }
        inputAdjoints = zip(gradientOffsets, inputCounts).map { $0 < 0 ? nil : UnsafeMutableBufferPointer(start: adjoints + $0, count: $1) }
    }
}
