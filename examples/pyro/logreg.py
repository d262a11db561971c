"""The Pyro program that examples/logreg.json writes as JSON, line by line.

    python examples/pyro/logreg.py examples/logreg.json

Bayesian logistic regression: w ~ Normal(0, 1) per coefficient, y_n ~ Bernoulli(logits = x_n . w),
with a full-covariance MultivariateNormal guide. Data and inference settings come from the job
file; comments give the JSON key each line comes from. Needs pyro-ppl and torch.
"""

import json
import os
import sys

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.infer import SVI, Trace_ELBO, TraceGraph_ELBO

torch.set_default_dtype(torch.float64)  # the service computes in float64

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "logreg.json")
job = json.load(open(path))

X = torch.tensor(job["data"]["X"])                           # "data": {"X": [[...] x 500], ...}, shape [500, 4]
y = torch.tensor(job["data"]["y"], dtype=torch.float64)     # "data": {"y": [0, 1, ...]}
N, D = X.shape                                               # "plates": {"data": {"size": "len(y)"}}


def model():
    # model[0]: {"sample": "w", "dist": "Normal", "args": {"loc": "zeros(4)", "scale": 1.0}, "event_dims": 1}
    w = pyro.sample("w", dist.Normal(torch.zeros(D), 1.0).to_event(1))
    # model[1]: {"sample": "y_obs", "dist": "Bernoulli", "args": {"logits": "X @ w"}, "plates": ["data"], "obs": "y"}
    with pyro.plate("data", N):
        pyro.sample("y_obs", dist.Bernoulli(logits=X @ w), obs=y)


def guide():
    # guide[0]: {"param": "w_loc", "init": "zeros(4)"}
    w_loc = pyro.param("w_loc", torch.zeros(D))
    # guide[1]: {"param": "w_scale_tril", "init": "0.1 * eye(4)", "constraint": "lower_cholesky"}
    w_scale_tril = pyro.param("w_scale_tril", 0.1 * torch.eye(D), constraint=constraints.lower_cholesky)
    # guide[2]: {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "w_loc", "scale_tril": "w_scale_tril"},
    #            "estimator": "reparam"}  -- Pyro reparameterises an MVN by default
    pyro.sample("w", dist.MultivariateNormal(w_loc, scale_tril=w_scale_tril))


inference = job["inference"]
opt = inference["optimizer"]                                 # "optimizer": {"name": ..., "lr": ..., "betas": [...], ...}
if opt["name"] == "clipped_adam":                            # "clip_norm" (element-wise clamp), "lr_decay" (Pyro's lrd)
    optimizer = pyro.optim.ClippedAdam({"lr": opt["lr"], "betas": tuple(opt.get("betas", (0.9, 0.999))),
                                        "clip_norm": opt.get("clip_norm", 10.0), "lrd": opt.get("lr_decay", 1.0)})
else:
    assert opt["name"] == "adam", "this script maps adam and clipped_adam only"
    optimizer = pyro.optim.Adam({"lr": opt["lr"], "betas": tuple(opt.get("betas", (0.9, 0.999)))})
# "elbo": "tracegraph"; with only reparameterised sites it is the same estimator as Trace_ELBO.
ELBO = {"tracegraph": TraceGraph_ELBO, "trace": Trace_ELBO}[inference.get("elbo", "tracegraph")]
elbo = ELBO(num_particles=inference.get("particles", 1))    # "particles"

pyro.set_rng_seed(inference.get("seed", 0))                 # "seed" (Pyro's random streams differ from the service's)
pyro.clear_param_store()
svi = SVI(model, guide, optimizer, elbo)
losses = []
for step in range(1, inference["steps"] + 1):               # "steps"
    losses.append(svi.step())
    if step % inference.get("report_every", 500) == 0:      # "report_every"
        print(f"step {step:6d}  elbo {-losses[-1]:10.4f}")

w_loc = pyro.param("w_loc").detach()
L = pyro.param("w_scale_tril").detach()
sd = (L @ L.T).diagonal().sqrt()
print(f"{job['name']}: final ELBO (mean of last 100) {-sum(losses[-100:]) / 100:.4f}")
print(f"  w_loc        = {w_loc.numpy().round(4).tolist()}")
print(f"  posterior sd = {sd.numpy().round(4).tolist()}")
print(f"  w_scale_tril = {L.numpy().round(4).tolist()}")
expected = os.path.join(os.path.dirname(os.path.abspath(path)), "expected.json")
if os.path.exists(expected):
    e = json.load(open(expected)).get(job["name"].replace("-", "_"), {})
    print(f"  reference (Laplace): mean {[round(v, 4) for v in e['params']['w_loc']]}, "
          f"sd {[round(v, 4) for v in e['posterior_sd']['w']]}; truth {e['truth']['w']}")
    print(f"  |w_loc - truth| / sd = {((w_loc - torch.tensor(e['truth']['w'])).abs() / sd).numpy().round(2).tolist()}")
