"""The Pyro program that examples/gmm_*.json write as JSON, line by line.

    python examples/pyro/gmm.py examples/gmm_score.json        # Categorical z, score function
    python examples/pyro/gmm.py examples/gmm_relaxed_st.json   # OneHotCategorical z, relaxed straight-through
    python examples/pyro/gmm.py examples/gmm_enum.json         # Categorical z, enumerated exactly

A one-dimensional mixture of K = 3 unit-scale Gaussians with equal, known weights:
mu ~ Normal(0, 10) per component, z_n uniform, x_n ~ Normal(mu[z_n], 1). The guide has a Normal
for the means and free per-point logits for the assignments. Data, the assignment estimator and
the inference settings come from the job file; comments give the JSON keys. Needs pyro-ppl, torch.
"""

import json
import os
import sys

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO, TraceGraph_ELBO

torch.set_default_dtype(torch.float64)  # the service computes in float64

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "gmm_score.json")
job = json.load(open(path))


def statement(program, name):
    """The sample statement of `program` ("model" or "guide") whose "sample" is `name`."""
    return next(s for s in job[program] if s.get("sample") == name)


x = torch.tensor(job["data"]["x"])                           # "data": {"x": [...]}, shape [200]
N = len(x)                                                   # "plates": {"data": {"size": "len(x)"}}
K = 3
one_hot = statement("model", "z")["dist"] == "OneHotCategorical"   # gmm_relaxed_st writes z one-hot
estimator = job.get("estimators", {}).get("z", statement("guide", "z").get("estimator"))  # "estimators" overrides
if isinstance(estimator, str):
    estimator = {"name": estimator}
mu_loc_init = torch.tensor([s for s in job["guide"] if s.get("param") == "mu_loc"][0]["init"])


def model():
    # model[0]: {"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(3)", "scale": 10.0}, "event_dims": 1}
    mu = pyro.sample("mu", dist.Normal(torch.zeros(K), 10.0).to_event(1))
    with pyro.plate("data", N):                              # "plates": ["data"] on the next two sites
        if one_hot:
            # model[1]: {"sample": "z", "dist": "OneHotCategorical", "args": {"logits": "zeros(3)"}, ...}
            z = pyro.sample("z", dist.OneHotCategorical(logits=torch.zeros(K)))
            # model[2]: {"sample": "x_obs", "dist": "Normal", "args": {"loc": "sum(z * mu, -1)", "scale": 1.0}, "obs": "x"}
            pyro.sample("x_obs", dist.Normal((z * mu).sum(-1), 1.0), obs=x)
        else:
            # model[1]: {"sample": "z", "dist": "Categorical", "args": {"logits": "zeros(3)"}, ...}
            z = pyro.sample("z", dist.Categorical(logits=torch.zeros(K)))
            # model[2]: {"sample": "x_obs", "dist": "Normal", "args": {"loc": "mu[z]", "scale": 1.0}, "obs": "x"}
            pyro.sample("x_obs", dist.Normal(mu[z], 1.0), obs=x)


def guide():
    # guide[0]: {"param": "mu_loc", "init": [-1.0, 0.0, 1.0]}
    mu_loc = pyro.param("mu_loc", mu_loc_init.clone())
    # guide[1]: {"param": "mu_scale", "init": "ones(3)", "constraint": "positive"}
    mu_scale = pyro.param("mu_scale", torch.ones(K), constraint=constraints.positive)
    # guide[2]: {"sample": "mu", "dist": "Normal", "args": {"loc": "mu_loc", "scale": "mu_scale"}, "event_dims": 1}
    pyro.sample("mu", dist.Normal(mu_loc, mu_scale).to_event(1))
    # guide[3]: {"param": "z_logits", "init": "zeros(200, 3)"}
    z_logits = pyro.param("z_logits", torch.zeros(N, K))
    # guide[4]: {"sample": "z", "args": {"logits": "z_logits"}, "plates": ["data"], "estimator": ...}
    with pyro.plate("data", N):
        if estimator["name"] == "straight_through":
            # "estimator": {"name": "straight_through", "temperature": 0.5} on a OneHotCategorical
            t = torch.tensor(estimator["temperature"])
            pyro.sample("z", dist.RelaxedOneHotCategoricalStraightThrough(t, logits=z_logits))
        elif estimator["name"] == "enum":
            # "estimators": {"z": "enum"}: Pyro enumerates a guide site marked "enumerate"
            pyro.sample("z", dist.Categorical(logits=z_logits), infer={"enumerate": "parallel"})
        else:
            # "estimator": {"name": "score", "baseline": {"decaying_avg": 0.9}}: a Categorical has
            # no rsample, so Pyro's TraceGraph_ELBO scores it; the baseline is per data point.
            beta = estimator.get("baseline", {}).get("decaying_avg", 0.9)
            pyro.sample("z", dist.Categorical(logits=z_logits),
                        infer={"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": beta}})


inference = job["inference"]
opt = inference["optimizer"]                                 # "optimizer": {"name": ..., "lr": ..., "betas": [...], ...}
if opt["name"] == "clipped_adam":                            # "clip_norm" (element-wise clamp), "lr_decay" (Pyro's lrd)
    optimizer = pyro.optim.ClippedAdam({"lr": opt["lr"], "betas": tuple(opt.get("betas", (0.9, 0.999))),
                                        "clip_norm": opt.get("clip_norm", 10.0), "lrd": opt.get("lr_decay", 1.0)})
else:
    assert opt["name"] == "adam", "this script maps adam and clipped_adam only"
    optimizer = pyro.optim.Adam({"lr": opt["lr"], "betas": tuple(opt.get("betas", (0.9, 0.999)))})
particles = inference.get("particles", 1)                   # "particles"
if estimator["name"] == "enum":
    elbo = TraceEnum_ELBO(num_particles=particles, max_plate_nesting=1)
else:
    ELBO = {"tracegraph": TraceGraph_ELBO, "trace": Trace_ELBO}[inference.get("elbo", "tracegraph")]  # "elbo"
    elbo = ELBO(num_particles=particles)

pyro.set_rng_seed(inference.get("seed", 0))                 # "seed" (Pyro's random streams differ from the service's)
pyro.clear_param_store()
svi = SVI(model, guide, optimizer, elbo)
losses = []
for step in range(1, inference["steps"] + 1):               # "steps"
    losses.append(svi.step())
    if step % inference.get("report_every", 500) == 0:      # "report_every"
        print(f"step {step:6d}  elbo {-losses[-1]:10.4f}")

print(f"{job['name']}: estimator {estimator}, final ELBO (mean of last 100) {-sum(losses[-100:]) / 100:.4f}")
print(f"  mu_loc   = {pyro.param('mu_loc').detach().numpy().round(4).tolist()}")
print(f"  mu_scale = {pyro.param('mu_scale').detach().numpy().round(4).tolist()}")
labels = pyro.param("z_logits").detach().argmax(-1)
expected = os.path.join(os.path.dirname(os.path.abspath(path)), "expected.json")
if os.path.exists(expected):
    e = json.load(open(expected)).get(job["name"].replace("-", "_"), {})
    accuracy = (labels == torch.tensor(e["truth"]["z"])).double().mean().item()
    print(f"  argmax z_logits = true label for {accuracy:.1%} of points")
    ref = {k: [round(v, 4) for v in vs] for k, vs in e["params"].items()}
    print(f"  reference ({e['reference']}): {ref}")
