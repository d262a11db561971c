// sviserve-demo: fits the built-in conjugate Normal–Normal model by SVI (reparameterised
// mean-field guide, Adam) and compares the fit with the exact posterior.
import Autodiff
import Distributions
import Numerics
import Workloads

let steps = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 20_000
let model = try NormalNormal(particles: 8)
let adam = Adam(parameters: model.tape.parameters, lr: 0.01)
let tape = model.tape
tape.seed = 0
var trace = 0.0
print("fitting the Normal–Normal model: \(steps) SVI steps, 8 particles, Adam lr 0.01")
for step in 0..<steps {
    tape.step = UInt64(step)
    tape.forward()
    tape.backward()
    adam.step(tape)
    trace = step == 0 ? tape.scalar(of: model.loss) : 0.99 * trace + 0.01 * tape.scalar(of: model.loss)
    if (step + 1) % (steps / 10) == 0 { print("step \(step + 1)  −ELBO (smoothed) \(trace)") }
}
let exact = NormalNormal.posterior()
let loc = tape.value(of: model.loc).scalars
let scale = Transform.exp.forward(tape.value(of: model.logScale)).scalars
for j in 0..<2 {
    print("z[\(j)]: fitted mean \(loc[j]) (exact \(exact.mean[j])), fitted sd \(scale[j]) (exact \(exact.scale[j]))")
}
