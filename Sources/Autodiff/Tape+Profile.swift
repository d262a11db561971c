import Dispatch

/// Where a replay's time goes, per instruction: the diagnostic behind docs/benchmarks.md.
public struct TapeProfile: CustomStringConvertible {
    /// One row: the op, the node, its element count, and nanoseconds per replay forward and backward.
    public struct Row { public let op: OpCode; public let node: Int; public let elements: Int; public let forward: Double; public let backward: Double }
    public let rows: [Row]

    public var description: String {
        let total = rows.reduce(0) { $0 + $1.forward + $1.backward }
        var s = "total \(Int(total)) ns per replay\n"
        for r in rows.sorted(by: { $0.forward + $0.backward > $1.forward + $1.backward }).prefix(25) {
            s += "  \(r.op) node \(r.node) n=\(r.elements): forward \(Int(r.forward)) ns, backward \(Int(r.backward)) ns\n"
        }
        return s
    }
}

extension Tape {
    /// Times every instruction over `replays` forward and backward passes (one instruction at
    /// a time, so the sum slightly exceeds a real replay's time).
    public func profile(replays: Int = 1000) -> TapeProfile {
        var fwd = Array(repeating: 0.0, count: forwardCount), bwd = Array(repeating: 0.0, count: backwardCount)
        foldConstants()
        for r in 0..<replays {
            step = UInt64(r)
            for k in 0..<forwardCount {
                let t0 = DispatchTime.now().uptimeNanoseconds
                run(forwardCode, from: k, count: 1)
                fwd[k] += Double(DispatchTime.now().uptimeNanoseconds - t0)
            }
            guard lossAdjoint >= 0 else { continue }
            adjoints.update(repeating: 0, count: adjointCount)
            adjoints[lossAdjoint] = 1
            for k in 0..<backwardCount {
                let t0 = DispatchTime.now().uptimeNanoseconds
                runBackward(backwardCode, from: k, count: 1)
                bwd[k] += Double(DispatchTime.now().uptimeNanoseconds - t0)
            }
        }
        var rows: [TapeProfile.Row] = []
        for k in 0..<forwardCount {
            let ins = forwardCode[k]
            let b = (0..<backwardCount).first { backwardCode[$0].node == ins.node }.map { bwd[$0] } ?? 0
            rows.append(.init(op: ins.op, node: ins.node, elements: ins.n, forward: fwd[k] / Double(replays), backward: b / Double(replays)))
        }
        return TapeProfile(rows: rows)
    }
}

extension Tape {
    /// The replayed program, one forward instruction a line (node, op, element count, the
    /// input nodes): what the fusion pass left, for diagnostics and the benchmark notes.
    public var listing: String {
        var byOffset: [Int: Int] = [:]
        for (id, off) in offsets.enumerated() where off >= 0 && byOffset[off] == nil { byOffset[off] = id }
        var s = ""
        for k in 0..<forwardCount {
            let ins = forwardCode[k]
            let inputs = [ins.a, ins.b, ins.c].filter { $0 >= 0 }.map { byOffset[$0].map(String.init) ?? "?" }
            s += "\(ins.node): \(ins.op) n=\(ins.n) (\(inputs.joined(separator: ", ")))\(ins.gOut >= 0 ? " ∂" : "")\n"
        }
        return s
    }
}
