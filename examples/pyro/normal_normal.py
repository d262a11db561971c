"""The Pyro program that examples/normal_normal_*.json write as JSON, line by line.

    python examples/pyro/normal_normal.py examples/normal_normal_reparam.json
    (also normal_normal_score_decaying.json, normal_normal_score_loo.json, normal_normal_meanfield.json)

Data, prior constants, the estimator and the inference settings are read from the job file;
the model and guide below are the JSON's statements written as Pyro. Comments give the JSON
key each line comes from. Needs pyro-ppl and torch.
"""

import json
import os
import sys

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.infer import SVI, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO

torch.set_default_dtype(torch.float64)  # the service computes in float64

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "normal_normal_reparam.json")
job = json.load(open(path))


def statement(program, name):
    """The sample statement of `program` ("model" or "guide") whose "sample" is `name`."""
    return next(s for s in job[program] if s.get("sample") == name)


x = torch.tensor(job["data"]["x"])                           # "data": {"x": [[...], ...]}, shape [4, 2]
N = len(x)                                                   # "plates": {"data": {"size": "len(x)"}}
prior = statement("model", "loc_latent")["args"]
prior_loc = torch.tensor(prior["loc"])                       # model[0] "args": {"loc": [0.0, 0.5], ...}
prior_scale = torch.tensor(prior["scale"])                   #   ... "scale": 0.1^-0.5 (prior precision 0.1)
noise_scale = torch.tensor(statement("model", "x_obs")["args"]["scale"])  # model[1] "scale": (6^-0.5, 4^-0.5)

# The estimator of guide site "loc_latent": the top-level "estimators" map overrides the site's own.
estimator = job.get("estimators", {}).get("loc_latent", statement("guide", "loc_latent").get("estimator", "reparam"))
if isinstance(estimator, str):
    estimator = {"name": estimator}
baseline = estimator.get("baseline", {"decaying_avg": 0.9})
if estimator["name"] == "score" and baseline == "loo":
    # Pyro has no leave-one-out baseline (estimators.md section 3). The nearest Pyro run uses
    # the same particles with a decaying-average baseline; the answer is the same posterior.
    print("note: Pyro has no 'loo' baseline; using a decaying-average baseline (beta 0.9) instead")
    baseline = {"decaying_avg": 0.9}


def model():
    # model[0]: {"sample": "loc_latent", "dist": "Normal", "args": {"loc": ..., "scale": ...}, "event_dims": 1}
    loc = pyro.sample("loc_latent", dist.Normal(prior_loc, prior_scale).to_event(1))
    # model[1]: {"sample": "x_obs", ..., "args": {"loc": "loc_latent", "scale": ...},
    #            "plates": ["data"], "event_dims": 1, "obs": "x"}
    with pyro.plate("data", N):
        pyro.sample("x_obs", dist.Normal(loc, noise_scale).to_event(1), obs=x)


def guide():
    # guide[0]: {"param": "loc_q", "init": "zeros(2)"}
    loc_q = pyro.param("loc_q", torch.zeros(2))
    # guide[1]: {"param": "scale_q", "init": "ones(2)", "constraint": "positive"}
    scale_q = pyro.param("scale_q", torch.ones(2), constraint=constraints.positive)
    # guide[2]: {"sample": "loc_latent", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"},
    #            "event_dims": 1, "estimator": ...}
    q = dist.Normal(loc_q, scale_q)
    infer = {}
    if estimator["name"] == "score":
        # "estimator": {"name": "score", ...}: Pyro uses the score function for a site whose
        # distribution has no rsample; has_rsample_(False) forces it on a Normal.
        q = q.has_rsample_(False)
        infer["baseline"] = {"use_decaying_avg_baseline": True,           # "baseline": {"decaying_avg": beta}
                             "baseline_beta": baseline["decaying_avg"]}
    pyro.sample("loc_latent", q.to_event(1), infer=infer)


inference = job["inference"]
opt = inference["optimizer"]                                 # "optimizer": {"name": ..., "lr": ..., "betas": [...], ...}
if opt["name"] == "clipped_adam":                            # "clip_norm" (element-wise clamp), "lr_decay" (Pyro's lrd)
    optimizer = pyro.optim.ClippedAdam({"lr": opt["lr"], "betas": tuple(opt.get("betas", (0.9, 0.999))),
                                        "clip_norm": opt.get("clip_norm", 10.0), "lrd": opt.get("lr_decay", 1.0)})
else:
    assert opt["name"] == "adam", "this script maps adam and clipped_adam only"
    optimizer = pyro.optim.Adam({"lr": opt["lr"], "betas": tuple(opt.get("betas", (0.9, 0.999)))})
ELBO = {"tracegraph": TraceGraph_ELBO,                       # "elbo": "tracegraph" (the default)
        "trace": Trace_ELBO,                                 # "elbo": "trace"
        "meanfield": TraceMeanField_ELBO}[inference.get("elbo", "tracegraph")]  # "elbo": "meanfield"
# "particles": the service vectorises them; Pyro's default loops over them (same estimator).
elbo = ELBO(num_particles=inference.get("particles", 1))

pyro.set_rng_seed(inference.get("seed", 0))                 # "seed" (Pyro's random streams differ from the service's)
pyro.clear_param_store()
svi = SVI(model, guide, optimizer, elbo)
losses = []
for step in range(1, inference["steps"] + 1):               # "steps"
    losses.append(svi.step())
    if step % inference.get("report_every", 500) == 0:      # "report_every"
        print(f"step {step:6d}  elbo {-losses[-1]:10.4f}")

print(f"{job['name']}: estimator {estimator}, final ELBO (mean of last 100) {-sum(losses[-100:]) / 100:.4f}")
for name in ("loc_q", "scale_q"):
    print(f"  {name} = {pyro.param(name).detach().numpy().round(4).tolist()}")

# The exact posterior (conjugate): precision 1/prior_scale^2 + N/noise_scale^2.
post_prec = prior_scale ** -2 + N * noise_scale ** -2
post_loc = (x.sum(0) * noise_scale ** -2 + prior_loc * prior_scale ** -2) / post_prec
print(f"  exact posterior: loc {post_loc.numpy().round(4).tolist()}, scale {(post_prec ** -0.5).numpy().round(4).tolist()}")
