// sviserve-bench: the benchmark README's workloads through the engine, built with the same
// ProgramBuilder a user writes, timed as whole SVI steps (noise, forward, backward,
// baselines, optimiser). Prints one JSON object mapping each workload to its steps/s
// (../shared/bench/compare.py reads it), with heap allocations per step counted by an
// interposed malloc, and the replay cost of the Normal–Normal tape in nanoseconds.
//   swift run -c release sviserve-bench [out.json] [seconds per workload]
//   swift run -c release sviserve-bench --write-specs DIR   (the same workloads as JSON job specs)
import CAllocationCounter
import Foundation
import Inference
import JSON
import Numerics
import Workloads

LinearAlgebra.configureThreads(1)
// A reader that stops early (`sviserve-bench out.json | head -3`) must not kill the bench
// before it writes its JSON file: a write to the closed pipe then fails instead.
signal(SIGPIPE, SIG_IGN)
if CommandLine.arguments.count > 2, CommandLine.arguments[1] == "--write-specs" {
    // The rows as JSON specs, for `sviserve bench FILES` (same models, same data).
    try BenchmarkRow.writeSpecs(to: CommandLine.arguments[2])
    exit(0)
}
let seconds = CommandLine.arguments.count > 2 ? Double(CommandLine.arguments[2]) ?? 2 : 2
/// Only this workload (for profiling one row); a trailing `*` selects every row with that prefix.
let only = ProcessInfo.processInfo.environment["SVISERVE_BENCH_ONLY"]
func selected(_ name: String) -> Bool {
    guard let only else { return true }
    return only.hasSuffix("*") ? name.hasPrefix(only.dropLast()) : name == only
}
/// A fixed number of timed steps instead of a duration (for instruction counts under
/// callgrind: the difference of two counts over their difference of steps is the per-step cost).
let fixedSteps = ProcessInfo.processInfo.environment["SVISERVE_BENCH_STEPS"].flatMap { Int($0) }

/// What one workload measured: steps per second of wall time and of this thread's CPU time
/// (the second is steadier on a shared machine), and heap allocations per step.
struct Measurement {
    var rate: Double, cpuRate: Double, allocations: Double
}

/// This thread's CPU time in seconds.
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Runs `body` `warmup` times, then for at least `seconds` (or `fixedSteps` times).
func measure(warmup: Int = 100, _ body: () throws -> Void) rethrows -> Measurement {
    for _ in 0..<warmup { try body() }
    var steps = 0, batch = 1
    let a0 = allocation_count()
    let start = DispatchTime.now().uptimeNanoseconds, cpu0 = cpuSeconds()
    var elapsed = 0.0
    if let fixedSteps {
        for _ in 0..<fixedSteps { try body() }
        steps = fixedSteps
    } else {
        while elapsed < seconds {
            for _ in 0..<batch { try body() }
            steps += batch
            batch = min(batch * 2, 1 << 14)
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }
    elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let cpu = cpuSeconds() - cpu0
    return Measurement(rate: Double(steps) / max(elapsed, 1e-9), cpuRate: Double(steps) / max(cpu, 1e-9),
                       allocations: Double(allocation_count() - a0) / Double(max(steps, 1)))
}

/// The report: one member per row, in ``BenchmarkRow/all``'s order.
var results = JSONObject()
@MainActor func record(_ name: String, _ m: Measurement, extra: KeyValuePairs<String, Double> = [:]) {
    var fields = JSONObject()
    for (key, value) in [("steps_per_s", m.rate), ("cpu_steps_per_s", m.cpuRate), ("allocations_per_step", m.allocations)] + extra.map { ($0.key, $0.value) } {
        fields[key] = .number(value)
    }
    results[name] = .object(fields)
    FileHandle.standardError.write("\(name): \(Int(m.rate)) steps/s (\(Int(m.cpuRate)) per CPU second), \(m.allocations) allocations/step\n".data(using: .utf8)!)
}

// Every row of ``BenchmarkRow/all`` (`sviserve bench` times the same rows from their specs).
for row in BenchmarkRow.all where selected(row.name) {
    let program = try row.program()
    switch row.kind {
    case .replay:
        // The engine's micro-benchmark: forward + backward replay of the tape.
        var replayStep: UInt64 = 0
        let replay = measure { program.tape.step = replayStep; replayStep &+= 1; program.tape.forward(); program.tape.backward() }
        let counts = program.tape.instructionCounts
        record(row.name, replay, extra: ["ns_per_replay": 1e9 / replay.rate,
                                         "forward_instructions": Double(counts.forward),
                                         "backward_instructions": Double(counts.backward)])
    case .steps:
        if ProcessInfo.processInfo.environment["SVISERVE_BENCH_PROFILE"] != nil {
            FileHandle.standardError.write("\(row.name): \(program.tape.profile())\(program.tape.listing)".data(using: .utf8)!)
        }
        let svi = try SVI(program: program, optimizer: .adam(lr: row.learningRate), seed: 0)
        record(row.name, try measure { try svi.step() })
    }
}

var environment = JSONObject()
environment["blas_threads"] = .number(1)
results["environment"] = .object(environment)
FileHandle.standardError.write("OpenBLAS core: \(LinearAlgebra.blasCoreName()), 1 thread\n".data(using: .utf8)!)
let json = JSONWriter.pretty(.object(results)) + "\n"
// Written in place, not by renaming a temporary file over the path: the path may be /dev/null (a profiling run),
// which a rename by root would replace with a regular file.
if CommandLine.arguments.count > 1 { try json.write(toFile: CommandLine.arguments[1], atomically: false, encoding: .utf8) }
print(json, terminator: "")
