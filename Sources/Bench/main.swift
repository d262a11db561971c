// sviserve-bench: the engine's micro-benchmark and the benchmark README's reparam workloads.
// Prints one JSON object mapping each workload to its steps/s (compare.py reads it), plus the
// replay cost of the Normal–Normal tape in nanoseconds and heap allocations per steady-state
// step (counted by an interposed malloc).
//   swift run -c release sviserve-bench [out.json]
import Autodiff
import CAllocationCounter
import Distributions
import Foundation
import Numerics
import Workloads

LinearAlgebra.configureThreads(1)

/// Runs `body` (one SVI step) `warmup` times, then for at least `seconds`; returns steps/s and
/// allocations per step over the timed part.
func measure(warmup: Int = 200, seconds: Double = 2, _ body: () -> Void) -> (rate: Double, allocations: Double) {
    for _ in 0..<warmup { body() }
    var steps = 0
    let a0 = allocation_count()
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    var batch = 1
    while elapsed < seconds {
        for _ in 0..<batch { body() }
        steps += batch
        batch = min(batch * 2, 1 << 16)
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    let allocs = Double(allocation_count() - a0) / Double(steps)
    return (Double(steps) / elapsed, allocs)
}

/// One SVI step on a tape: forward, backward, Adam.
func sviStep(_ tape: Tape, _ adam: Adam) -> () -> Void {
    var step: UInt64 = 0
    return {
        tape.step = step
        step += 1
        tape.forward()
        tape.backward()
        adam.step(tape)
    }
}

var results: [String: [String: Double]] = [:]
@MainActor func record(_ name: String, _ m: (rate: Double, allocations: Double), extra: [String: Double] = [:]) {
    results[name] = ["steps_per_s": m.rate, "allocations_per_step": m.allocations].merging(extra) { a, _ in a }
    FileHandle.standardError.write("\(name): \(Int(m.rate)) steps/s, \(m.allocations) allocations/step\n".data(using: .utf8)!)
}

// Micro-benchmark: replay (forward + backward) of the Normal–Normal tape.
let nn = try NormalNormal(particles: 1)
let replay = measure { nn.tape.step &+= 1; nn.tape.forward(); nn.tape.backward() }
let counts = nn.tape.instructionCounts
record("normal_normal_replay", replay, extra: ["ns_per_replay": 1e9 / replay.rate,
                                               "forward_instructions": Double(counts.forward),
                                               "backward_instructions": Double(counts.backward)])

let nnStep = try NormalNormal(particles: 1)
record("normal_normal_reparam", measure(sviStep(nnStep.tape, Adam(parameters: nnStep.tape.parameters, lr: 0.01))))

let lr1 = try LogisticRegression(points: 1000, dimension: 10, particles: 1)
record("logreg_N1000_D10_reparam_p1", measure(sviStep(lr1.tape, Adam(parameters: lr1.tape.parameters, lr: 0.01))))

let lr16 = try LogisticRegression(points: 1000, dimension: 10, particles: 16)
record("logreg_N1000_D10_reparam_p16", measure(sviStep(lr16.tape, Adam(parameters: lr16.tape.parameters, lr: 0.01))))

results["environment"] = ["blas_threads": 1, "avx2_kernels": Double(svmUsesAVX2())]
FileHandle.standardError.write("OpenBLAS core: \(LinearAlgebra.blasCoreName())\n".data(using: .utf8)!)
let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
if let path = CommandLine.arguments.dropFirst().first {
    try json.write(to: URL(fileURLWithPath: path))
}
print(String(decoding: json, as: UTF8.self))
