import Numerics
import Autodiff
@testable import Inference

/// Per-step gradients of a compiled program's surrogate with respect to raw parameters, over
/// `draws` replays with fresh noise: the samples an unbiasedness test averages.
func gradientDraws(_ program: CompiledProgram, _ params: [Node], draws: Int, seed: UInt64 = 3,
                   between: ((CompiledProgram) -> Void)? = nil) -> [[Double]] {
    let tape = program.tape
    tape.seed = seed
    var out: [[Double]] = []
    for step in 0..<draws {
        tape.step = UInt64(step)
        tape.forward()
        tape.backward()
        out.append(params.flatMap { tape.gradient(of: $0).scalars })
        between?(program)
    }
    return out
}

/// Mean and standard error of each coordinate.
func meanAndError(_ rows: [[Double]]) -> (mean: [Double], se: [Double], variance: [Double]) {
    let n = Double(rows.count), d = rows[0].count
    var mean = Array(repeating: 0.0, count: d), m2 = Array(repeating: 0.0, count: d)
    for r in rows { for j in 0..<d { mean[j] += r[j] / n } }
    for r in rows { for j in 0..<d { m2[j] += (r[j] - mean[j]) * (r[j] - mean[j]) / (n - 1) } }
    return (mean, m2.map { ($0 / n).squareRoot() }, m2)
}
