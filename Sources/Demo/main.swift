// sviserve-demo: fits the built-in conjugate Normal–Normal model by SVI (reparameterised
// mean-field guide, Adam, 8 particles) and compares the fit with the exact posterior.
import Inference
import Numerics
import Workloads

let steps = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 20_000
let program = try NormalNormal.program(particles: 8)
let svi = try SVI(program: program, optimizer: .clippedAdam(lr: 0.02, lrDecay: 0.9998), seed: 0)
print("fitting the Normal–Normal model: \(steps) SVI steps, 8 particles, ClippedAdam lr 0.02 with decay")
let run = try svi.run(steps: steps, reportEvery: max(steps / 10, 1), report: { r in
    print("step \(r.step)  ELBO \(r.elbo)  |grad| \(r.gradientNorm)")
})
print("\(Int(run.stepsPerSecond)) steps/s")
let exact = NormalNormal.posterior()
let fitted = Dictionary(uniqueKeysWithValues: svi.constrainedParameters().map { ($0.name, $0.value.scalars) })
for j in 0..<2 {
    print("z[\(j)]: fitted mean \(fitted["loc"]![j]) (exact \(exact.mean[j])), fitted sd \(fitted["scale"]![j]) (exact \(exact.scale[j]))")
}
