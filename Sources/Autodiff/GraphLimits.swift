import Numerics

/// Bounds on what building a ``Graph`` may allocate. Graphs built from untrusted programs
/// (job specs) set these before recording anything: every node's element count is checked
/// when it is recorded, and every allocation the builder makes (constant values, initial
/// values, index tables) is admitted against `maxBytes` *before* it is made. The first node
/// past a bound records a ``GraphError`` (also kept as ``Graph/limitError``), is recorded
/// with a stand-in shape of ones (so no later shape arithmetic can overflow) and allocates
/// nothing, and `compile` throws the error.
public struct GraphLimits: Sendable, Equatable {
    /// Largest element count of one node.
    public var maxElements: Int
    /// Largest number of bytes the graph itself may hold: constant and initial values and the
    /// index tables of selections, reductions and broadcasts (8 bytes an entry).
    public var maxBytes: Int

    public init(maxElements: Int = 1 << 31, maxBytes: Int = 1 << 40) {
        self.maxElements = max(maxElements, 1); self.maxBytes = max(maxBytes, 0)
    }
}

extension Graph {
    /// Whether a node of `shape` may be recorded (its element count within
    /// ``GraphLimits/maxElements``); records the limit error otherwise.
    func admitShape(_ shape: [Int]) -> Bool {
        if let n = Shape.checkedCount(shape), n <= limits.maxElements { return true }
        let what = Shape.checkedCount(shape).map { "\($0) numbers" } ?? "more numbers than a 64-bit count holds"
        failLimit("a value of shape \(shape) would hold \(what); the limit is \(limits.maxElements) numbers per value")
        return false
    }

    /// Admits an allocation of `entries` 8-byte entries (values or table indices) for a node
    /// of `shape`, before it is made: false (with the limit error recorded) when the node is
    /// too large, the graph's bytes would pass ``GraphLimits/maxBytes``, or an earlier node
    /// already passed a limit.
    public func admit(shape: [Int], entries: Int) -> Bool {
        guard limitError == nil else { return false }
        guard admitShape(shape) else { return false }
        let (bytes, o1) = entries.multipliedReportingOverflow(by: 8)
        let (total, o2) = heldBytes.addingReportingOverflow(bytes)
        guard entries >= 0, !o1, !o2, total <= limits.maxBytes else {
            failLimit("building this value would bring the graph to more than \(limits.maxBytes >> 20) MiB of constants and index tables (\(heldBytes >> 20) MiB so far, \(o1 ? "far more" : "\(bytes >> 20) MiB") more asked)")
            return false
        }
        heldBytes = total
        return true
    }

    /// Records a limit error (the first one is kept, and is also the graph's error unless a
    /// shape error came first).
    func failLimit(_ message: String) {
        if limitError == nil { limitError = GraphError(message) }
        fail(message)
    }

    /// `shape` with every extent 1: the stand-in shape of a node past a limit.
    static func standIn(_ shape: [Int]) -> [Int] { Array(repeating: 1, count: shape.count) }
}

// MARK: - Cost model

extension Graph {

    /// Why an allocation of `entries` 8-byte entries for a node of `shape` would not be
    /// admitted now, or nil when it would: the check ``admit(shape:entries:)`` makes, without
    /// charging or recording anything (for callers that must refuse before allocating).
    public func admissionProblem(shape: [Int], entries: Int) -> String? {
        if let e = limitError { return e.message }
        guard let n = Shape.checkedCount(shape), n <= limits.maxElements else {
            return "a value of shape \(shape) would hold more than \(limits.maxElements) numbers, the limit per value"
        }
        let (bytes, o1) = entries.multipliedReportingOverflow(by: 8)
        let (total, o2) = heldBytes.addingReportingOverflow(bytes)
        guard !o1, !o2, total <= limits.maxBytes else {
            return "it would bring the job's constants and index tables to more than \(limits.maxBytes >> 20) MiB (\(heldBytes >> 20) MiB so far, \(max(n, entries) >> 17) MiB more)"
        }
        return nil
    }

    /// Operations one evaluation of node `id` takes: multiply-adds for products and
    /// factorisations, one per element (of the larger of input and output) otherwise.
    public func operations(_ id: Int) -> Double {
        let r = records[id]
        let out = Double(Shape.count(r.shape))
        switch r.op {
        case .constant, .parameter, .input, .view, .stopGradient: return 0
        case .matmul:
            let i = r.ints.map(Double.init) + [0, 0, 0, 0]
            return 2 * i[0] * i[1] * i[2] * i[3]
        case .cholesky:
            let b = Double(r.ints.first ?? 1), d = Double(r.ints.count > 1 ? r.ints[1] : 0)
            return b * d * d * d / 3
        case .mvnTrilLogProb:
            let rows = Double(r.ints.first ?? 0), d = Double(r.ints.count > 1 ? r.ints[1] : 0)
            return rows * d * d + d * d * d / 3
        case .lgamma, .digamma, .gammaSample: return 30 * out
        default:
            let inputs = r.inputs.map { Double(Shape.count(records[$0].shape)) }.max() ?? 0
            return max(out, inputs, Double(r.table.count))
        }
    }

    /// Operations computing every node from position `start` on that is computed from
    /// constants alone takes: what folding an expression's constants costs.
    public func foldOperations(nodesFrom start: Int) -> Double {
        var total = 0.0
        for id in max(start, 0)..<records.count where constantFlags[id] { total += operations(id) }
        return total
    }

    /// Operations computing `node` from the graph's constant leaves takes (every node it
    /// depends on is computed once): the cost of evaluating it at compile time.
    public func foldOperations(of node: Node) -> Double {
        check(node)
        var seen = Set<Int>(), stack = [node.id], total = 0.0
        while let id = stack.popLast() {
            guard seen.insert(id).inserted else { continue }
            total += operations(id)
            stack.append(contentsOf: records[id].inputs)
        }
        return total
    }
}
