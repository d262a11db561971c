"""Reference trajectories for the Inference optimisers (estimators.md section 8).

Regenerate with:
    python3 Tests/InferenceTests/Reference/make_optimizer_reference.py > Tests/InferenceTests/OptimizerReference.swift

torch and Pyro are not installed here, so this script re-implements, in NumPy float64, the
update loops of torch.optim.Adam / torch.optim.SGD (torch/optim/adam.py, sgd.py: the
single-tensor path, no weight decay, no amsgrad, no dampening) and of pyro.optim.ClippedAdam
(pyro/optim/clipped_adam.py), statement by statement as they are written in Python:

    Adam:        step += 1
                 exp_avg = beta1 * exp_avg + (1 - beta1) * grad
                 exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * grad * grad      (addcmul_)
                 bias_correction1 = 1 - beta1 ** step; bias_correction2 = 1 - beta2 ** step
                 step_size = lr / bias_correction1
                 denom = sqrt(exp_avg_sq) / sqrt(bias_correction2) + eps
                 param = param + (-step_size) * (exp_avg / denom)                 (addcdiv_)
    ClippedAdam: group lr *= lr_decay (every step, before looking at gradients)
                 grad = clamp(grad, -clip_norm, clip_norm); step += 1; moments as Adam
                 denom = sqrt(exp_avg_sq) + eps
                 step_size = lr * sqrt(bias_correction2) / bias_correction1
                 param = param + (-step_size) * (exp_avg / denom)
    SGD:         buf = grad on the first update, else buf * momentum + grad
                 d = grad + momentum * buf (nesterov) or buf (or grad without momentum)
                 param = param + (-lr) * d

(torch 2 writes the first moment as exp_avg.lerp_(grad, 1 - beta1), equal to the line above up
to rounding; section 8 states the multiply-add form, which is what is reproduced here.)
Each case is run twice: with torch's `beta ** step` (glibc's pow, as CPython calls it), and with
sviserve's running powers instead (beta ** step replaced by the previous power times beta,
rounded, per parameter, and 0 once below 2**-60; ParameterOptimizer's BiasPower), which the
Swift optimiser follows bit for bit.
A parameter whose gradient is None is skipped (its step count and moments stay), except that
ClippedAdam's lr still decays. Each parameter is its own param group, so a parameter may have
its own lr, as PyroOptim does per parameter.

The gradient sequences are fixed (they do not depend on the parameters), chosen to include
zeros, sign changes, values beyond the clip norm, and a step where parameter "b" has none.
Printed numbers are repr() of float64: shortest round-trip decimal, exact in Swift.
"""
import numpy as np

INITIAL = {"a": [0.5, -1.25, 2.0], "b": [0.3, -0.7]}
GRADS = [
    {"a": [1.0, -2.0, 0.5], "b": [3.0, -0.25]},
    {"a": [0.8, -1.5, 12.0], "b": [-4.5, 0.0]},
    {"a": [-0.3, 0.0, -20.0], "b": None},
    {"a": [0.1, 2.5, 0.75], "b": [0.6, 1.9]},
    {"a": [-1.2, 0.4, 3.3], "b": [-0.05, 2.2]},
    {"a": [0.0, -0.6, -0.9], "b": [1.1, -3.7]},
]

CASES = [
    ("adam default betas, b overrides lr", "adam", dict(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8), {"b": 0.2}),
    ("adam other betas, large eps", "adam", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-3), {}),
    ("clippedAdam clip 1.5, decay 0.9, b overrides lr", "clippedAdam",
     dict(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8, clipNorm=1.5, lrDecay=0.9), {"b": 0.2}),
    ("clippedAdam defaults, large eps", "clippedAdam",
     dict(lr=0.02, beta1=0.9, beta2=0.999, eps=1e-3, clipNorm=10.0, lrDecay=1.0), {}),
    ("sgd plain, b overrides lr", "sgd", dict(lr=0.1, momentum=0.0, nesterov=False), {"b": 0.3}),
    ("sgd momentum 0.9", "sgd", dict(lr=0.1, momentum=0.9, nesterov=False), {}),
    ("sgd nesterov 0.9, b overrides lr", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True), {"b": 0.05}),
]


def run(rule, h, overrides, running):
    params = {k: np.array(v, dtype=np.float64) for k, v in INITIAL.items()}
    state = {k: {"step": 0, "m": np.zeros_like(v), "v": np.zeros_like(v), "buf": None,
                 "lr": overrides.get(k, h["lr"]), "p1": 1.0, "p2": 1.0} for k, v in params.items()}
    trajectory = []
    for grads in GRADS:
        for name in params:
            st, p = state[name], params[name]
            if rule == "clippedAdam":
                st["lr"] *= h["lrDecay"]
            if grads[name] is None:
                continue
            g = np.array(grads[name], dtype=np.float64)
            if rule in ("adam", "clippedAdam"):
                b1, b2 = h["beta1"], h["beta2"]
                if rule == "clippedAdam":
                    g = np.clip(g, -h["clipNorm"], h["clipNorm"])
                st["step"] += 1
                st["m"] = b1 * st["m"] + (1 - b1) * g
                st["v"] = st["v"] * b2 + (1 - b2) * g * g
                if running:
                    st["p1"], st["p2"] = st["p1"] * b1, st["p2"] * b2
                    st["p1"], st["p2"] = [0.0 if q < 2.0 ** -60 else q for q in (st["p1"], st["p2"])]
                    bc1, bc2 = 1 - st["p1"], 1 - st["p2"]
                else:
                    bc1 = 1 - b1 ** float(st["step"])
                    bc2 = 1 - b2 ** float(st["step"])
                if rule == "adam":
                    step_size = st["lr"] / bc1
                    denom = np.sqrt(st["v"]) / np.sqrt(bc2) + h["eps"]
                else:
                    step_size = st["lr"] * np.sqrt(bc2) / bc1
                    denom = np.sqrt(st["v"]) + h["eps"]
                p[:] = p + (-step_size) * (st["m"] / denom)
            else:
                st["step"] += 1
                d = g
                if h["momentum"] != 0:
                    st["buf"] = g.copy() if st["buf"] is None else st["buf"] * h["momentum"] + g
                    d = g + h["momentum"] * st["buf"] if h["nesterov"] else st["buf"]
                p[:] = p + (-st["lr"]) * d
        trajectory.append({k: [float(x) for x in v] for k, v in params.items()})
    return trajectory, {k: st["lr"] for k, st in state.items()}


def lit(xs):
    return "[" + ", ".join(repr(float(x)) for x in xs) + "]"


def config(rule, h):
    if rule == "adam":
        return f".adam(lr: {h['lr']!r}, beta1: {h['beta1']!r}, beta2: {h['beta2']!r}, eps: {h['eps']!r})"
    if rule == "clippedAdam":
        return (f".clippedAdam(lr: {h['lr']!r}, beta1: {h['beta1']!r}, beta2: {h['beta2']!r}, eps: {h['eps']!r}, "
                f"clipNorm: {h['clipNorm']!r}, lrDecay: {h['lrDecay']!r})")
    return f".sgd(lr: {h['lr']!r}, momentum: {h['momentum']!r}, nesterov: {'true' if h['nesterov'] else 'false'})"


def main():
    out = [
        "// GENERATED FILE - do not edit by hand. Regenerate with:",
        "//     python3 Tests/InferenceTests/Reference/make_optimizer_reference.py > Tests/InferenceTests/OptimizerReference.swift",
        "//",
        "// Parameter trajectories of torch.optim.Adam, torch.optim.SGD and pyro.optim.ClippedAdam as",
        "// re-implemented in NumPy float64 by that script (its docstring lists the update lines).",
        "// Parameters \"a\" (3 elements) then \"b\" (2); a nil gradient means the parameter had none.",
        "import Inference",
        "",
        "/// One reference run: the config, per-parameter lr overrides, and the parameters after each step",
        "/// with torch's `beta ** step` and with the running powers.",
        "struct OptimizerReferenceCase: Sendable {",
        "    let note: String",
        "    let config: OptimizerConfig",
        "    let lrOverrides: [String: Double]",
        "    /// After step s (0-based): values of \"a\" and \"b\", bias corrections from torch's `beta ** step`.",
        "    let trajectory: [(a: [Double], b: [Double])]",
        "    /// The same with the bias corrections from the running powers.",
        "    let runningTrajectory: [(a: [Double], b: [Double])]",
        "    /// Learning rates after the last step.",
        "    let finalLR: (a: Double, b: Double)",
        "}",
        "",
        "let optimizerReferenceInitial: (a: [Double], b: [Double]) = (" + lit(INITIAL["a"]) + ", " + lit(INITIAL["b"]) + ")",
        "",
        "let optimizerReferenceGradients: [(a: [Double]?, b: [Double]?)] = [",
    ]
    for g in GRADS:
        out.append("    (" + ", ".join("nil" if g[k] is None else lit(g[k]) for k in ("a", "b")) + "),")
    out += ["]", "", "let optimizerReference: [OptimizerReferenceCase] = ["]
    for note, rule, h, overrides in CASES:
        traj, lrs = run(rule, h, overrides, running=False)
        running, _ = run(rule, h, overrides, running=True)
        ov = "[" + ", ".join(f"\"{k}\": {v!r}" for k, v in overrides.items()) + "]" if overrides else "[:]"
        out.append(f"    OptimizerReferenceCase(note: \"{note}\", config: {config(rule, h)}, lrOverrides: {ov}, trajectory: [")
        for s in traj:
            out.append(f"        ({lit(s['a'])}, {lit(s['b'])}),")
        out.append("    ], runningTrajectory: [")
        for s in running:
            out.append(f"        ({lit(s['a'])}, {lit(s['b'])}),")
        out.append(f"    ], finalLR: ({lrs['a']!r}, {lrs['b']!r})),")
    out.append("]")
    print("\n".join(out))


if __name__ == "__main__":
    main()
