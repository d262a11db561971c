"""The Pyro programs that examples/hierarchical_regression.json and eight_schools_nested.json
write as JSON, line by line, run on seeds 0-4 (the nested-plate examples of issue 21).

    python examples/pyro/hierarchical.py            # both; writes examples/pyro/hierarchical.pyro.json

Data, constants and settings are read from the job files; comments give the JSON key each line
comes from. In Pyro the user picks each plate's dim (groups -2, units -1) and broadcasts the
group effects by hand ([:, None]); in the job language they align by plate name. The
subsampled units plate reads x and y at the same indices in model and guide (Pyro replays the
guide's subsample). Needs pyro-ppl and torch.
"""

import json
import math
import os
import sys

import pyro
import pyro.distributions as dist
import pyro.optim as optim
import torch
from pyro.distributions import constraints
from pyro.infer import SVI, TraceGraph_ELBO

torch.set_default_dtype(torch.float64)  # the service computes in float64
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = [0, 1, 2, 3, 4]


def load(stem):
    with open(os.path.join(HERE, "..", stem + ".json")) as f:
        return json.load(f)


def clipped_adam(opt):
    # "optimizer": {"name": "clipped_adam", "lr", "betas", "clip_norm", "lr_decay"}
    return optim.ClippedAdam({"lr": opt["lr"], "betas": tuple(opt["betas"]), "clip_norm": opt["clip_norm"], "lrd": opt["lr_decay"]})


def hierarchical_regression(seed):
    job = load("hierarchical_regression")
    x = torch.tensor(job["data"]["x"]["value"])             # "x": {"value": [8][40], "plates": ["groups", "units"]}
    y = torch.tensor(job["data"]["y"]["value"])
    G, I = x.shape
    B = job["plates"]["units"]["subsample"]                  # "units": {"size": 40, "subsample": 10}

    def model():
        mu_a = pyro.sample("mu_a", dist.Normal(0.0, 5.0))    # model[0]
        mu_b = pyro.sample("mu_b", dist.Normal(0.0, 5.0))    # model[1]
        with pyro.plate("groups", G, dim=-2):
            a = pyro.sample("a", dist.Normal(mu_a, 1.0))     # model[2], plates ["groups"]
            b = pyro.sample("b", dist.Normal(mu_b, 0.5))     # model[3]
            with pyro.plate("units", I, subsample_size=B, dim=-1) as idx:
                # model[4]: loc "a + b * x", plates ["groups", "units"]
                pyro.sample("y_obs", dist.Normal(a + b * x[:, idx], 0.5), obs=y[:, idx])

    def guide():
        for name in ["mu_a", "mu_b"]:
            loc = pyro.param(f"{name}_loc", torch.tensor(0.0))
            scale = pyro.param(f"{name}_scale", torch.tensor(0.5), constraint=constraints.positive)
            pyro.sample(name, dist.Normal(loc, scale))
        with pyro.plate("groups", G, dim=-2):
            for name in ["a", "b"]:
                loc = pyro.param(f"{name}_loc", torch.zeros(G))                               # "plates": ["groups"]
                scale = pyro.param(f"{name}_scale", 0.3 * torch.ones(G), constraint=constraints.positive)
                pyro.sample(name, dist.Normal(loc[:, None], scale[:, None]))

    return job, model, guide, ["mu_a_loc", "mu_b_loc", "a_loc", "b_loc"]


def eight_schools_nested(seed):
    job = load("eight_schools_nested")
    y = torch.tensor(job["data"]["y"]["value"])              # [8][4], plates ["schools", "measurements"]
    sigma = torch.tensor(job["data"]["sigma"]["value"])      # [8], plates ["schools"]
    S, J = y.shape

    def model():
        mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = pyro.sample("tau", dist.HalfCauchy(5.0))
        with pyro.plate("schools", S, dim=-2):
            theta_tilde = pyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
            theta = mu + tau * theta_tilde                    # "let": "theta"
            with pyro.plate("measurements", J, dim=-1):
                pyro.sample("y_obs", dist.Normal(theta, 2 * sigma[:, None]), obs=y)

    def guide():
        mu_loc = pyro.param("mu_loc", torch.tensor(0.0))
        mu_scale = pyro.param("mu_scale", torch.tensor(1.0), constraint=constraints.positive)
        pyro.sample("mu", dist.Normal(mu_loc, mu_scale))
        tau_loc = pyro.param("tau_loc", torch.tensor(0.0))
        tau_scale = pyro.param("tau_scale", torch.tensor(0.5), constraint=constraints.positive)
        pyro.sample("tau", dist.LogNormal(tau_loc, tau_scale))
        tl = pyro.param("theta_tilde_loc", torch.zeros(S))
        ts = pyro.param("theta_tilde_scale", torch.ones(S), constraint=constraints.positive)
        with pyro.plate("schools", S, dim=-2):
            pyro.sample("theta_tilde", dist.Normal(tl[:, None], ts[:, None]))

    return job, model, guide, ["mu_loc", "tau_loc", "theta_tilde_loc"]


def run(make):
    out = []
    for seed in SEEDS:
        pyro.clear_param_store()
        pyro.set_rng_seed(seed)
        job, model, guide, names = make(seed)
        inf = job["inference"]
        svi = SVI(model, guide, clipped_adam(inf["optimizer"]), loss=TraceGraph_ELBO(num_particles=inf["particles"], vectorize_particles=True))
        for _ in range(inf["steps"]):
            svi.step()
        out.append({n: pyro.param(n).detach().flatten().tolist() for n in names})
        print(make.__name__, seed, {n: [round(v, 3) for v in vals] for n, vals in out[-1].items()}, file=sys.stderr)
    return out


if __name__ == "__main__":
    results = {"pyro": pyro.__version__, "torch": torch.__version__, "seeds": SEEDS,
               "hierarchical_regression": run(hierarchical_regression), "eight_schools_nested": run(eight_schools_nested)}
    with open(os.path.join(HERE, "hierarchical.pyro.json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
