#!/usr/bin/env python3
"""Pyro conformance fixtures for sviserve (issue 16).

Usage (from the repository root, with Pyro in a virtual environment; CI never runs this):

    python3 -m venv /tmp/ref-venv && /tmp/ref-venv/bin/pip install pyro-ppl
    /tmp/ref-venv/bin/python Tests/ModelSpecTests/Conformance/Reference/pyro_conformance.py [part ...]

Parts: conjugate, gradients, trajectories, straight_through (default: all). Each writes
Tests/ModelSpecTests/Conformance/Reference/<part>.json. Every case is defined once here and
carries both what Pyro 1.9 measured and the sviserve job spec of the same model, guide,
estimator and settings, so the Swift tests (ConformanceTests) run exactly what Pyro ran:

* conjugate: Pyro's conjugate integration models (tests/infer/test_inference.py: Normal-Normal,
  Normal-Normal-Normal, Bernoulli-Beta, Exponential-Gamma, LogNormal-Normal, Poisson-Gamma),
  each with every estimator that applies (reparam; score with no baseline, a decaying average,
  Pyro's nn_baseline, and with 4 particles), run for seeds 0-4 from the same starting point
  near the exact posterior (Pyro's own offsets and learning rates, 2000 steps pathwise and
  4000 score-function: shorter than Pyro's tests, which take an hour here); the fixture holds
  each seed's final error against the exact posterior. The Swift test's bar is twice Pyro's
  worst seed.
* gradients: small models with nested plates, subsampled plates, shared and per-element guide
  params and discrete sites; the expected ELBO gradient at the initial params (unconstrained,
  of the loss -ELBO), computed by Pyro as the mean of many independent estimates (exactly,
  by enumeration, for discrete sites) with its standard error.
* trajectories: score-function problems whose exact answer is known (a mixture's posterior
  responsibilities; Bernoulli switches' posteriors), error at several step counts, seeds 0-4.
* straight_through: Pyro's own relaxed straight-through SVI tests
  (tests/distributions/test_relaxed_straight_through.py: a OneHotCategorical and a Bernoulli
  model site with straight-through guides), final error per seed.

Everything runs in float64 on one CPU thread. The models are written here from the published
test descriptions (read, not copied).
"""

import json
import math
import os
import sys
import time

import torch
import pyro
import pyro.distributions as dist
import pyro.optim as optim
from pyro.distributions.testing import fakes
from pyro.infer import SVI, Trace_ELBO, TraceGraph_ELBO, TraceMeanField_ELBO, TraceEnum_ELBO, config_enumerate
from torch.distributions import constraints

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = [0, 1, 2, 3, 4]


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def write(part, payload):
    path = os.path.join(HERE, part + ".json")
    with open(path, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", path, file=sys.stderr)


def infer_for(estimator):
    """Pyro's `infer` dict of a score-function site for the estimator label."""
    if estimator == "score_decaying":
        return {"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}}
    return {}


class ConstantBaseline(torch.nn.Module):
    """Pyro's nn_baseline on a constant input: a learned offset (linear layer from zero)."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        return self.linear(x).squeeze(-1)


BASELINES = {}


def score_infer(estimator, name):
    """The learned baseline's module lives for one run (BASELINES is cleared with the param store)."""
    if estimator == "score_learned":
        module = BASELINES.setdefault(name, ConstantBaseline())
        pyro.module(name + "_baseline", module)
        return {"baseline": {"nn_baseline": module, "nn_baseline_input": torch.ones(1)}}
    return infer_for(estimator)


def sviserve_estimator(estimator):
    return {
        "reparam": "reparam",
        "score_none": "score",
        "score_p4": {"name": "score", "baseline": "loo"},
        "score_decaying": {"name": "score", "baseline": {"decaying_avg": 0.9}},
        "score_learned": {"name": "score", "baseline": {"learned": {"inputs": ["one"], "hidden": 0}}},
    }[estimator]


def elbo_name(estimator, default="trace"):
    return default if estimator == "reparam" else "tracegraph"


# ---------------------------------------------------------------------------------------------
# Conjugate models (one class each: data, exact posterior in the guide's parametrisation, Pyro
# model and guide, sviserve spec, error).
# ---------------------------------------------------------------------------------------------


class NormalNormal:
    name = "normal_normal"
    lam0, loc0, lam = [0.1, 0.1], [0.0, 0.5], [6.0, 4.0]
    data = [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]]
    lr, betas = 0.001, (0.9, 0.999)
    steps = {"reparam": 2000, "score": 4000}

    def __init__(self):
        n = len(self.data)
        self.lam_n = [a + n * b for a, b in zip(self.lam0, self.lam)]
        sums = [sum(r[k] for r in self.data) for k in range(2)]
        self.loc_n = [s * l / ln + m * l0 / ln for s, l, ln, m, l0 in zip(sums, self.lam, self.lam_n, self.loc0, self.lam0)]
        self.log_sig_n = [-0.5 * math.log(ln) for ln in self.lam_n]
        self.init = {"loc_q": [x + 0.134 for x in self.loc_n], "log_sig_q": [x - 0.14 for x in self.log_sig_n]}
        self.exact = {"loc_q": self.loc_n, "log_sig_q": self.log_sig_n}

    def model(self):
        loc = pyro.sample("loc_latent", dist.Normal(t(self.loc0), t(self.lam0) ** -0.5).to_event(1))
        with pyro.plate("data", len(self.data)):
            pyro.sample("obs", dist.Normal(loc, t(self.lam) ** -0.5).to_event(1), obs=t(self.data))

    def guide(self, estimator):
        loc_q = pyro.param("loc_q", t(self.init["loc_q"]))
        log_sig_q = pyro.param("log_sig_q", t(self.init["log_sig_q"]))
        Normal = dist.Normal if estimator == "reparam" else fakes.NonreparameterizedNormal
        pyro.sample("loc_latent", Normal(loc_q, torch.exp(log_sig_q)).to_event(1), infer=score_infer(estimator, "loc_latent"))

    def spec(self, estimator):
        return {
            "data": {"x": self.data, "one": [1.0]},
            "plates": {"data": {"size": len(self.data)}},
            "model": [
                {"sample": "loc_latent", "dist": "Normal", "args": {"loc": self.loc0, "scale": [l ** -0.5 for l in self.lam0]}, "event_dims": 1},
                {"sample": "obs", "dist": "Normal", "args": {"loc": "loc_latent", "scale": [l ** -0.5 for l in self.lam]}, "plates": ["data"], "event_dims": 1, "obs": "x"},
            ],
            "guide": [
                {"param": "loc_q", "init": self.init["loc_q"]},
                {"param": "log_sig_q", "init": self.init["log_sig_q"]},
                {"sample": "loc_latent", "dist": "Normal", "args": {"loc": "loc_q", "scale": "exp(log_sig_q)"}, "event_dims": 1,
                 "estimator": sviserve_estimator(estimator)},
            ],
        }

    metric = "squared"

    def error(self, params):
        return param_errors(self, params)


class NormalNormalNormal:
    """loc' ~ N(loc0, 1/lam0), loc | loc' ~ N(loc', 1/lam1), x | loc ~ N(loc, 1/lam); the guide
    draws loc' and then loc with a mean that depends on the loc' draw (Pyro's
    NormalNormalNormal test), so the exact posterior lies in the guide family."""
    name = "normal_normal_normal"
    lam0, loc0, lam1, lam = [0.1, 0.1], [0.0, 0.5], [1.5, 2.0], [6.0, 4.0]
    data = NormalNormal.data
    lr, betas = 0.001, (0.9, 0.999)
    steps = {"reparam": 2000, "score": 4000}

    def __init__(self):
        n = len(self.data)
        self.exact = {"loc_prime_q": [], "log_sig_prime_q": [], "kappa_q": [], "loc_q": [], "log_sig_q": []}
        for k in range(2):
            l0, l1, l = self.lam0[k], self.lam1[k], self.lam[k]
            sx = sum(r[k] for r in self.data)
            p = [[l0 + l1, -l1], [-l1, l1 + n * l]]
            det = p[0][0] * p[1][1] - p[0][1] * p[1][0]
            cov = [[p[1][1] / det, -p[0][1] / det], [-p[1][0] / det, p[0][0] / det]]
            b = [l0 * self.loc0[k], l * sx]
            mean = [cov[0][0] * b[0] + cov[0][1] * b[1], cov[1][0] * b[0] + cov[1][1] * b[1]]
            kappa = -p[1][0] / p[1][1]
            self.exact["loc_prime_q"].append(mean[0])
            self.exact["log_sig_prime_q"].append(0.5 * math.log(cov[0][0]))
            self.exact["kappa_q"].append(kappa)
            self.exact["loc_q"].append(mean[1] - kappa * mean[0])
            self.exact["log_sig_q"].append(-0.5 * math.log(p[1][1]))
        offsets = {"loc_prime_q": 0.1, "log_sig_prime_q": -0.1, "kappa_q": 0.05, "loc_q": -0.12, "log_sig_q": 0.1}
        self.init = {k: [x + offsets[k] for x in v] for k, v in self.exact.items()}

    def model(self):
        loc_prime = pyro.sample("loc_prime", dist.Normal(t(self.loc0), t(self.lam0) ** -0.5).to_event(1))
        loc = pyro.sample("loc_latent", dist.Normal(loc_prime, t(self.lam1) ** -0.5).to_event(1))
        with pyro.plate("data", len(self.data)):
            pyro.sample("obs", dist.Normal(loc, t(self.lam) ** -0.5).to_event(1), obs=t(self.data))

    def guide(self, estimator):
        p = {k: pyro.param(k, t(v)) for k, v in self.init.items()}
        Normal = dist.Normal if estimator == "reparam" else fakes.NonreparameterizedNormal
        loc_prime = pyro.sample("loc_prime", Normal(p["loc_prime_q"], torch.exp(p["log_sig_prime_q"])).to_event(1),
                                infer=score_infer(estimator, "loc_prime"))
        pyro.sample("loc_latent", dist.Normal(p["kappa_q"] * loc_prime + p["loc_q"], torch.exp(p["log_sig_q"])).to_event(1))

    def spec(self, estimator):
        return {
            "data": {"x": self.data, "one": [1.0]},
            "plates": {"data": {"size": len(self.data)}},
            "model": [
                {"sample": "loc_prime", "dist": "Normal", "args": {"loc": self.loc0, "scale": [l ** -0.5 for l in self.lam0]}, "event_dims": 1},
                {"sample": "loc_latent", "dist": "Normal", "args": {"loc": "loc_prime", "scale": [l ** -0.5 for l in self.lam1]}, "event_dims": 1},
                {"sample": "obs", "dist": "Normal", "args": {"loc": "loc_latent", "scale": [l ** -0.5 for l in self.lam]}, "plates": ["data"], "event_dims": 1, "obs": "x"},
            ],
            "guide": [{"param": k, "init": v} for k, v in self.init.items()] + [
                {"sample": "loc_prime", "dist": "Normal", "args": {"loc": "loc_prime_q", "scale": "exp(log_sig_prime_q)"}, "event_dims": 1,
                 "estimator": sviserve_estimator(estimator)},
                {"sample": "loc_latent", "dist": "Normal", "args": {"loc": "kappa_q * loc_prime + loc_q", "scale": "exp(log_sig_q)"}, "event_dims": 1,
                 "estimator": "reparam"},
            ],
        }

    metric = "squared"

    def error(self, params):
        return param_errors(self, params)


class GammaConjugate:
    """A Gamma(1, 1) prior with a Gamma guide on log-parametrised (alpha, beta)."""
    data, likelihood = None, None

    metric = "absolute"

    def __init__(self):
        self.init = {"alpha_q_log": math.log(self.alpha_n) + 0.17, "beta_q_log": math.log(self.beta_n) - 0.143}
        self.exact = {"alpha_q_log": math.log(self.alpha_n), "beta_q_log": math.log(self.beta_n)}

    def model(self):
        lam = pyro.sample("lambda_latent", dist.Gamma(t(1.0), t(1.0)))
        with pyro.plate("data", len(self.data)):
            pyro.sample("obs", self.pyro_likelihood(lam), obs=t(self.data))

    def guide(self, estimator):
        a = pyro.param("alpha_q_log", t(self.init["alpha_q_log"]))
        b = pyro.param("beta_q_log", t(self.init["beta_q_log"]))
        Gamma = dist.Gamma if estimator == "reparam" else fakes.NonreparameterizedGamma
        pyro.sample("lambda_latent", Gamma(torch.exp(a), torch.exp(b)), infer=score_infer(estimator, "lambda_latent"))

    def spec(self, estimator):
        return {
            "data": {"x": self.data, "one": [1.0]},
            "plates": {"data": {"size": len(self.data)}},
            "model": [
                {"sample": "lambda_latent", "dist": "Gamma", "args": {"concentration": 1.0, "rate": 1.0}},
                {"sample": "obs", "dist": self.likelihood, "args": {self.rate_arg: "lambda_latent"}, "plates": ["data"], "obs": "x"},
            ],
            "guide": [
                {"param": "alpha_q_log", "init": self.init["alpha_q_log"]},
                {"param": "beta_q_log", "init": self.init["beta_q_log"]},
                {"sample": "lambda_latent", "dist": "Gamma", "args": {"concentration": "exp(alpha_q_log)", "rate": "exp(beta_q_log)"},
                 "estimator": sviserve_estimator(estimator)},
            ],
        }

    def error(self, params):
        return param_errors(self, params)


class ExponentialGamma(GammaConjugate):
    name = "exponential_gamma"
    data, likelihood, rate_arg = [3.0, 2.0], "Exponential", "rate"
    alpha_n, beta_n = 1.0 + 2, 1.0 + 5.0
    lr, betas = 0.0003, (0.97, 0.999)
    steps = {"reparam": 2000, "score": 4000}

    def pyro_likelihood(self, lam):
        return dist.Exponential(lam)


class PoissonGamma(GammaConjugate):
    name = "poisson_gamma"
    data, likelihood, rate_arg = [1.0, 2.0, 3.0], "Poisson", "rate"
    alpha_n, beta_n = 1.0 + 6.0, 1.0 + 3
    lr, betas = 0.0002, (0.97, 0.999)
    steps = {"reparam": 2000, "score": 4000}

    def pyro_likelihood(self, lam):
        return dist.Poisson(lam)


class BernoulliBeta:
    name = "bernoulli_beta"
    data = [0.0, 1.0, 1.0, 1.0]
    alpha_n, beta_n = 1.0 + 3.0, 1.0 + 1.0
    lr, betas = 0.001, (0.97, 0.999)
    steps = {"reparam": 2000, "score": 4000}

    metric = "absolute"

    def __init__(self):
        self.init = {"alpha_q_log": math.log(self.alpha_n) + 0.17, "beta_q_log": math.log(self.beta_n) - 0.143}
        self.exact = {"alpha_q_log": math.log(self.alpha_n), "beta_q_log": math.log(self.beta_n)}

    def model(self):
        p = pyro.sample("p_latent", dist.Beta(t(1.0), t(1.0)))
        with pyro.plate("data", len(self.data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=t(self.data))

    def guide(self, estimator):
        a = pyro.param("alpha_q_log", t(self.init["alpha_q_log"]))
        b = pyro.param("beta_q_log", t(self.init["beta_q_log"]))
        Beta = dist.Beta if estimator == "reparam" else fakes.NonreparameterizedBeta
        pyro.sample("p_latent", Beta(torch.exp(a), torch.exp(b)), infer=score_infer(estimator, "p_latent"))

    def spec(self, estimator):
        return {
            "data": {"x": self.data, "one": [1.0]},
            "plates": {"data": {"size": len(self.data)}},
            "model": [
                {"sample": "p_latent", "dist": "Beta", "args": {"concentration1": 1.0, "concentration0": 1.0}},
                {"sample": "obs", "dist": "Bernoulli", "args": {"probs": "p_latent"}, "plates": ["data"], "obs": "x"},
            ],
            "guide": [
                {"param": "alpha_q_log", "init": self.init["alpha_q_log"]},
                {"param": "beta_q_log", "init": self.init["beta_q_log"]},
                {"sample": "p_latent", "dist": "Beta", "args": {"concentration1": "exp(alpha_q_log)", "concentration0": "exp(beta_q_log)"},
                 "estimator": sviserve_estimator(estimator)},
            ],
        }

    def error(self, params):
        return param_errors(self, params)


class LogNormalNormal:
    name = "lognormal_normal"
    mu0, tau0, tau = 1.0, 1.0, 2.5
    data = [1.5, 2.2]
    lr, betas = 0.0005, (0.96, 0.999)
    steps = {"reparam": 2000, "score": 4000}

    def __init__(self):
        n = len(self.data)
        self.tau_n = self.tau0 + n * self.tau
        self.mu_n = (self.mu0 * self.tau0 + self.tau * sum(math.log(x) for x in self.data)) / self.tau_n
        self.init = {"mu_q_log": math.log(self.mu_n) + 0.17, "tau_q_log": math.log(self.tau_n) - 0.143}
        self.exact = {"mu_q_log": math.log(self.mu_n), "tau_q_log": math.log(self.tau_n)}

    metric = "absolute"

    def model(self):
        mu = pyro.sample("mu_latent", dist.Normal(t(self.mu0), t(self.tau0) ** -0.5))
        with pyro.plate("data", len(self.data)):
            pyro.sample("obs", dist.LogNormal(mu, t(self.tau) ** -0.5), obs=t(self.data))

    def guide(self, estimator):
        mu_q_log = pyro.param("mu_q_log", t(self.init["mu_q_log"]))
        tau_q_log = pyro.param("tau_q_log", t(self.init["tau_q_log"]))
        Normal = dist.Normal if estimator == "reparam" else fakes.NonreparameterizedNormal
        pyro.sample("mu_latent", Normal(torch.exp(mu_q_log), torch.exp(tau_q_log) ** -0.5), infer=score_infer(estimator, "mu_latent"))

    def spec(self, estimator):
        return {
            "data": {"x": self.data, "one": [1.0]},
            "plates": {"data": {"size": len(self.data)}},
            "model": [
                {"sample": "mu_latent", "dist": "Normal", "args": {"loc": self.mu0, "scale": self.tau0 ** -0.5}},
                {"sample": "obs", "dist": "LogNormal", "args": {"loc": "mu_latent", "scale": self.tau ** -0.5}, "plates": ["data"], "obs": "x"},
            ],
            "guide": [
                {"param": "mu_q_log", "init": self.init["mu_q_log"]},
                {"param": "tau_q_log", "init": self.init["tau_q_log"]},
                {"sample": "mu_latent", "dist": "Normal", "args": {"loc": "exp(mu_q_log)", "scale": "exp(tau_q_log) ^ -0.5"},
                 "estimator": sviserve_estimator(estimator)},
            ],
        }

    def error(self, params):
        return param_errors(self, params)


def param_errors(case, params):
    """Each guide param's error against the exact posterior: summed squares (vectors) or the
    absolute difference (scalars), as Pyro's tests measure them."""
    out = {}
    for k, exact in case.exact.items():
        got = params[k]
        if case.metric == "squared":
            out[k] = sum((a - b) ** 2 for a, b in zip(got, exact))
        else:
            out[k] = abs(got - exact)
    return out


CONJUGATE = [NormalNormal, NormalNormalNormal, BernoulliBeta, ExponentialGamma, LogNormalNormal, PoissonGamma]
ESTIMATORS = ["reparam", "score_none", "score_decaying", "score_learned", "score_p4"]


def param_values():
    out = {}
    for name, value in pyro.get_param_store().items():
        v = value.detach()
        out[name] = v.item() if v.dim() == 0 else v.tolist()
    return out


def run_conjugate(case, estimator, seed):
    pyro.clear_param_store()
    BASELINES.clear()
    pyro.set_rng_seed(seed)
    particles = 4 if estimator == "score_p4" else 1
    elbo = (Trace_ELBO if estimator == "reparam" else TraceGraph_ELBO)(num_particles=particles, vectorize_particles=particles > 1)
    adam = optim.Adam({"lr": case.lr, "betas": case.betas})
    svi = SVI(case.model, lambda: case.guide(estimator), adam, loss=elbo)
    steps = case.steps["reparam" if estimator == "reparam" else "score"]
    for _ in range(steps):
        svi.step()
    return case.error(param_values()), steps, particles


def conjugate():
    cases = []
    # CONJUGATE_ESTIMATORS=reparam,score_decaying limits the part to those estimators (the
    # score-function runs take half an hour each on a busy 2-core machine).
    chosen = os.environ.get("CONJUGATE_ESTIMATORS", ",".join(ESTIMATORS)).split(",")
    for cls in CONJUGATE:
        case = cls()
        for estimator in [e for e in ESTIMATORS if e in chosen]:
            start = time.time()
            errors, steps, particles = [], None, None
            for seed in SEEDS:
                e, steps, particles = run_conjugate(case, estimator, seed)
                errors.append(e)
            spec = case.spec(estimator)
            spec["inference"] = {"elbo": elbo_name(estimator), "steps": steps, "particles": particles,
                                 "optimizer": {"name": "adam", "lr": case.lr, "betas": list(case.betas)}, "report_every": steps}
            # The learned baseline needs its input only when it is used.
            if estimator != "score_learned":
                del spec["data"]["one"]
            cases.append({"name": f"{case.name}/{estimator}", "spec": spec, "pyro_errors": errors,
                          "exact": case.exact, "metric": case.metric})
            print(f"{case.name}/{estimator}: {time.time() - start:.0f}s worst {max_errors(errors)}", file=sys.stderr)
    write("conjugate", {"pyro": pyro.__version__, "torch": torch.__version__, "seeds": SEEDS, "cases": cases,
                        "errors": "per seed: squared error summed over elements for normal_normal(_normal), absolute error for the others, "
                                  "of each guide param against the exact posterior in the guide's parametrisation"})


def max_errors(errors):
    return {k: max(e[k] for e in errors) for k in errors[0]}


# ---------------------------------------------------------------------------------------------
# Expected gradients at the initial params.
# ---------------------------------------------------------------------------------------------

X_GI = [[0.3, -1.2, 0.8, 2.1], [1.5, 0.4, -0.6, 0.9], [-0.2, 2.4, 1.1, 0.0]]
MIX_X = [0.1, -1.2, 2.3, 0.5, 1.9, -0.7]
MIX_W, MIX_MU, MIX_S = [0.3, 0.5, 0.2], [-1.5, 0.5, 2.5], 0.8


def hierarchical(sub_g=None, sub_i=None, shared=False):
    """mu_g ~ N(0, 1); z_gi ~ N(mu_g, 0.7); x_gi ~ N(z_gi, 0.5), with a Normal guide for mu
    (per group, or shared) and z (per unit)."""
    G, I = 3, 4
    m0, s0 = [0.4, -0.3, 1.2], [0.8, 1.3, 0.6]
    zl = [[0.1 * (g - i) for i in range(I)] for g in range(G)]
    zs = [[0.5 + 0.1 * ((g + i) % 3) for i in range(I)] for g in range(G)]

    def model():
        with pyro.plate("g", G, subsample_size=sub_g, dim=-2) as gi:
            mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
            with pyro.plate("i", I, subsample_size=sub_i, dim=-1) as ii:
                z = pyro.sample("z", dist.Normal(mu, 0.7))
                x = t(X_GI)[gi][:, ii]
                pyro.sample("x", dist.Normal(z, 0.5), obs=x)

    def guide():
        m = pyro.param("m", t(m0[0] if shared else m0))
        s = pyro.param("s", t(s0[0] if shared else s0), constraint=constraints.positive)
        a = pyro.param("a", t(zl))
        b = pyro.param("b", t(zs), constraint=constraints.positive)
        with pyro.plate("g", G, subsample_size=sub_g, dim=-2) as gi:
            if shared:
                pyro.sample("mu", dist.Normal(m, s).expand([len(gi), 1]))
            else:
                pyro.sample("mu", dist.Normal(m[gi].unsqueeze(-1), s[gi].unsqueeze(-1)))
            with pyro.plate("i", I, subsample_size=sub_i, dim=-1) as ii:
                pyro.sample("z", dist.Normal(a[gi][:, ii], b[gi][:, ii]))

    sub = lambda n: {"subsample": n} if n else {}
    mp = [] if shared else ["g"]
    spec = {
        "data": {"x": {"value": X_GI, "plates": ["g", "i"]}},
        "plates": {"g": {"size": G, **sub(sub_g)}, "i": {"size": I, **sub(sub_i)}},
        "model": [
            {"sample": "mu", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["g"]},
            {"sample": "z", "dist": "Normal", "args": {"loc": "mu", "scale": 0.7}, "plates": ["g", "i"]},
            {"sample": "x_obs", "dist": "Normal", "args": {"loc": "z", "scale": 0.5}, "plates": ["g", "i"], "obs": "x"},
        ],
        "guide": [
            {"param": "m", "init": m0[0] if shared else m0, **({"plates": mp} if mp else {})},
            {"param": "s", "init": s0[0] if shared else s0, "constraint": "positive", **({"plates": mp} if mp else {})},
            {"param": "a", "init": zl, "plates": ["g", "i"]},
            {"param": "b", "init": zs, "constraint": "positive", "plates": ["g", "i"]},
            {"sample": "mu", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "plates": ["g"]},
            {"sample": "z", "dist": "Normal", "args": {"loc": "a", "scale": "b"}, "plates": ["g", "i"]},
        ],
    }
    return model, guide, spec


def hierarchical_reordered():
    """The same hierarchy with the units' sites listing their plates as ["i", "g"] (data
    declared ["g", "i"]): Pyro's dims fixed, the spec's order free."""
    model, guide, spec = hierarchical(sub_i=2)
    for s in spec["model"][1:] + spec["guide"][5:]:
        s["plates"] = ["i", "g"]
    return model, guide, spec


def mixture(enum):
    """Known mixture (weights, means, scale); per-point Categorical guide with simplex probs."""
    N = len(MIX_X)
    q0 = [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [0.25, 0.25, 0.5], [0.5, 0.4, 0.1]]

    def model():
        with pyro.plate("data", N):
            z = pyro.sample("z", dist.Categorical(t(MIX_W)))
            pyro.sample("x", dist.Normal(t(MIX_MU)[z], MIX_S), obs=t(MIX_X))

    def guide():
        q = pyro.param("q", t(q0), constraint=constraints.simplex)
        with pyro.plate("data", N):
            pyro.sample("z", dist.Categorical(q), infer={"enumerate": "parallel"} if enum else {})

    spec = {
        "data": {"x": MIX_X},
        "plates": {"data": {"size": N}},
        "model": [
            {"sample": "z", "dist": "Categorical", "args": {"probs": MIX_W}, "plates": ["data"]},
            {"sample": "x_obs", "dist": "Normal", "args": {"loc": f"{MIX_MU}[z]".replace(" ", ""), "scale": MIX_S}, "plates": ["data"], "obs": "x"},
        ],
        "guide": [
            {"param": "q", "init": q0, "constraint": "simplex"},
            {"sample": "z", "dist": "Categorical", "args": {"probs": "q"}, "plates": ["data"]},
        ],
    }
    return model, guide, spec


def bernoulli_switches(sub=None):
    """s_n ~ Bernoulli(0.3), x_n ~ N(3 s_n, 1); per-point logits in the guide; a global Beta-free
    offset param in the model (MAP part) as a plain param."""
    X = [2.9, 0.2, -0.4, 3.6, 1.4, 0.8]
    l0 = [0.2, -0.4, 0.0, 0.9, -1.1, 0.3]
    N = len(X)

    def model():
        with pyro.plate("data", N, subsample_size=sub) as idx:
            s = pyro.sample("s", dist.Bernoulli(0.3))
            pyro.sample("x", dist.Normal(3.0 * s, 1.0), obs=t(X)[idx])

    def guide():
        lg = pyro.param("logits", t(l0))
        with pyro.plate("data", N, subsample_size=sub) as idx:
            pyro.sample("s", dist.Bernoulli(logits=lg[idx]), infer={"enumerate": "parallel"})

    spec = {
        "data": {"x": X},
        "plates": {"data": {"size": N, **({"subsample": sub} if sub else {})}},
        "model": [
            {"sample": "s", "dist": "Bernoulli", "args": {"probs": 0.3}, "plates": ["data"]},
            {"sample": "x_obs", "dist": "Normal", "args": {"loc": "3 * s", "scale": 1.0}, "plates": ["data"], "obs": "x"},
        ],
        "guide": [
            {"param": "logits", "init": l0},
            {"sample": "s", "dist": "Bernoulli", "args": {"logits": "logits"}, "plates": ["data"]},
        ],
    }
    return model, guide, spec


def gamma_poisson_groups(sub=None):
    """rate_g ~ Gamma(2, 1) per group; y_gi ~ Poisson(rate_g); Gamma guide per group."""
    Y = [[1, 3, 0, 2], [4, 6, 5, 3], [0, 1, 1, 0]]
    a0, b0 = [2.0, 5.0, 1.0], [1.0, 1.2, 2.0]

    def model():
        with pyro.plate("g", 3, dim=-2):
            rate = pyro.sample("rate", dist.Gamma(2.0, 1.0))
            with pyro.plate("i", 4, subsample_size=sub, dim=-1) as ii:
                pyro.sample("y", dist.Poisson(rate), obs=t(Y)[:, ii])

    def guide():
        a = pyro.param("alpha", t(a0), constraint=constraints.positive)
        b = pyro.param("beta", t(b0), constraint=constraints.positive)
        with pyro.plate("g", 3, dim=-2):
            pyro.sample("rate", dist.Gamma(a.unsqueeze(-1), b.unsqueeze(-1)))

    spec = {
        "data": {"y": {"value": Y, "plates": ["g", "i"]}},
        "plates": {"g": {"size": 3}, "i": {"size": 4, **({"subsample": sub} if sub else {})}},
        "model": [
            {"sample": "rate", "dist": "Gamma", "args": {"concentration": 2.0, "rate": 1.0}, "plates": ["g"]},
            {"sample": "y_obs", "dist": "Poisson", "args": {"rate": "rate"}, "plates": ["g", "i"], "obs": "y"},
        ],
        "guide": [
            {"param": "alpha", "init": a0, "constraint": "positive", "plates": ["g"]},
            {"param": "beta", "init": b0, "constraint": "positive", "plates": ["g"]},
            {"sample": "rate", "dist": "Gamma", "args": {"concentration": "alpha", "rate": "beta"}, "plates": ["g"]},
        ],
    }
    return model, guide, spec


def beta_bernoulli_subsampled():
    """A global Beta with Bernoulli data in a subsampled plate."""
    X = [1, 0, 1, 1, 1, 0, 1, 1]

    def model():
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        with pyro.plate("data", len(X), subsample_size=3) as idx:
            pyro.sample("x", dist.Bernoulli(p), obs=t(X)[idx])

    def guide():
        a = pyro.param("a", t(3.0), constraint=constraints.positive)
        b = pyro.param("b", t(1.5), constraint=constraints.positive)
        pyro.sample("p", dist.Beta(a, b))

    spec = {
        "data": {"x": X},
        "plates": {"data": {"size": len(X), "subsample": 3}},
        "model": [
            {"sample": "p", "dist": "Beta", "args": {"concentration1": 2.0, "concentration0": 2.0}},
            {"sample": "x_obs", "dist": "Bernoulli", "args": {"probs": "p"}, "plates": ["data"], "obs": "x"},
        ],
        "guide": [
            {"param": "a", "init": 3.0, "constraint": "positive"},
            {"param": "b", "init": 1.5, "constraint": "positive"},
            {"sample": "p", "dist": "Beta", "args": {"concentration1": "a", "concentration0": "b"}},
        ],
    }
    return model, guide, spec


GRADIENT_MODELS = {
    "hierarchical": (lambda: hierarchical(), "reparam"),
    "hierarchical_shared_guide": (lambda: hierarchical(shared=True), "reparam"),
    "hierarchical_sub_g": (lambda: hierarchical(sub_g=2), "reparam"),
    "hierarchical_sub_i": (lambda: hierarchical(sub_i=2), "reparam"),
    "hierarchical_sub_both": (lambda: hierarchical(sub_g=2, sub_i=3), "reparam"),
    "hierarchical_reordered_sub_i": (hierarchical_reordered, "reparam"),
    "mixture": (lambda: mixture(enum=True), "enum"),
    "bernoulli_switches": (lambda: bernoulli_switches(), "enum"),
    "bernoulli_switches_subsampled": (lambda: bernoulli_switches(sub=4), "enum"),
    "gamma_poisson_groups": (lambda: gamma_poisson_groups(), "reparam"),
    "gamma_poisson_groups_sub_i": (lambda: gamma_poisson_groups(sub=2), "reparam"),
    "beta_bernoulli_subsampled": (beta_bernoulli_subsampled, "reparam"),
}


def expected_gradient(model, guide, how, calls, particles):
    """Mean and standard error over `calls` independent Pyro estimates (each the mean of
    `particles` vectorised particles) of d(-ELBO)/d(unconstrained param)."""
    if how == "enum":
        elbo = TraceEnum_ELBO(max_plate_nesting=2, num_particles=particles, vectorize_particles=True)
        guide = config_enumerate(guide)
    else:
        elbo = Trace_ELBO(max_plate_nesting=2, num_particles=particles, vectorize_particles=True)
    pyro.clear_param_store()
    guide()
    store = pyro.get_param_store()
    names = sorted(store.keys())
    sums, squares = {}, {}
    for _ in range(calls):
        loss = elbo.differentiable_loss(model, guide)
        raws = [store._params[n] for n in names]
        grads = torch.autograd.grad(loss, raws)
        for n, g in zip(names, grads):
            g = g.detach()
            sums[n] = sums.get(n, 0) + g
            squares[n] = squares.get(n, 0) + g * g
    out = {}
    for n in names:
        mean = sums[n] / calls
        var = (squares[n] / calls - mean * mean).clamp(min=0) * calls / max(calls - 1, 1)
        out[n] = {"mean": mean.flatten().tolist(), "standard_error": (var / calls).sqrt().flatten().tolist()}
    return out


def gradients():
    cases = []
    for name, (make, how) in GRADIENT_MODELS.items():
        start = time.time()
        model, guide, spec = make()
        pyro.set_rng_seed(0)
        exact = how == "enum" and "sub" not in name
        # A subsample is drawn once per call, shared by its particles: subsampled cases need
        # many calls for their standard error to be small.
        calls, particles = (1, 1) if exact else (4000, 100) if "sub" in name else (400, 2000)
        grads = expected_gradient(model, guide, how, calls, particles)
        if exact:
            for g in grads.values():
                g["standard_error"] = [0.0] * len(g["mean"])
        cases.append({"name": name, "spec": spec, "pyro_gradient": grads, "exact": exact})
        print(f"{name}: {time.time() - start:.0f}s", file=sys.stderr)
    write("gradients", {"pyro": pyro.__version__, "torch": torch.__version__, "cases": cases,
                        "gradient": "d(-ELBO)/d(unconstrained param) at the initial params, row-major over the param's shape"})


# ---------------------------------------------------------------------------------------------
# Training trajectories of score-function problems.
# ---------------------------------------------------------------------------------------------

TRAJ_X = [0.1, -1.2, 2.3, 0.5, 1.9, -0.7, 2.8, -2.1, 1.1, 0.0]
# Early checkpoints one by one; the late phase every 250 steps, compared as a window (near the
# optimum the error spikes now and then when Adam meets a rare large gradient after a quiet
# spell, so a single late step says more about timing than about the estimator).
CHECKPOINTS = [500, 1000, 2000] + list(range(3000, 6001, 250))


def responsibilities():
    out = []
    for x in TRAJ_X:
        l = [math.log(w) - 0.5 * ((x - m) / MIX_S) ** 2 for w, m in zip(MIX_W, MIX_MU)]
        top = max(l)
        e = [math.exp(a - top) for a in l]
        out.append([a / sum(e) for a in e])
    return out


def trajectory_mixture(seed, particles):
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    N = len(TRAJ_X)
    exact = responsibilities()

    def model():
        with pyro.plate("data", N):
            z = pyro.sample("z", dist.Categorical(t(MIX_W)))
            pyro.sample("x", dist.Normal(t(MIX_MU)[z], MIX_S), obs=t(TRAJ_X))

    def guide():
        q = pyro.param("q", torch.full((N, 3), 1.0 / 3), constraint=constraints.simplex)
        with pyro.plate("data", N):
            pyro.sample("z", dist.Categorical(q), infer={"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}})

    svi = SVI(model, guide, optim.Adam({"lr": 0.02}), loss=TraceGraph_ELBO(num_particles=particles, vectorize_particles=particles > 1))
    errors = []
    for step in range(1, CHECKPOINTS[-1] + 1):
        svi.step()
        if step in CHECKPOINTS:
            q = pyro.param("q").detach().tolist()
            errors.append(max(abs(a - b) for r, e in zip(q, exact) for a, b in zip(r, e)))
    return errors


def trajectories():
    N = len(TRAJ_X)
    cases = []
    for particles in [1, 16]:
        start = time.time()
        errors = [trajectory_mixture(seed, particles) for seed in SEEDS]
        spec = {
            "data": {"x": TRAJ_X},
            "plates": {"data": {"size": N}},
            "model": [
                {"sample": "z", "dist": "Categorical", "args": {"probs": MIX_W}, "plates": ["data"]},
                {"sample": "x_obs", "dist": "Normal", "args": {"loc": f"{MIX_MU}[z]".replace(" ", ""), "scale": MIX_S}, "plates": ["data"], "obs": "x"},
            ],
            "guide": [
                {"param": "q", "init": [[1 / 3] * 3] * N, "constraint": "simplex"},
                {"sample": "z", "dist": "Categorical", "args": {"probs": "q"}, "plates": ["data"],
                 "estimator": {"name": "score", "baseline": {"decaying_avg": 0.9}}},
            ],
            "inference": {"elbo": "tracegraph", "steps": CHECKPOINTS[-1], "particles": particles,
                          "optimizer": {"name": "adam", "lr": 0.02}, "report_every": CHECKPOINTS[-1]},
        }
        cases.append({"name": f"mixture_score_decaying_p{particles}", "spec": spec, "checkpoints": CHECKPOINTS,
                      "pyro_errors": errors, "exact": {"q": responsibilities()}})
        print(f"mixture p{particles}: {time.time() - start:.0f}s worst {[max(e[k] for e in errors) for k in range(len(CHECKPOINTS))]}", file=sys.stderr)
    write("trajectories", {"pyro": pyro.__version__, "torch": torch.__version__, "seeds": SEEDS, "cases": cases, "window_from": 3000,
                           "errors": "largest |q - exact responsibility| over points and classes after each checkpoint's steps"})


# ---------------------------------------------------------------------------------------------
# Pyro's relaxed straight-through SVI tests, as written.
# ---------------------------------------------------------------------------------------------


def straight_through():
    cases = []
    for kind in ["one_hot", "bernoulli"]:
        errors, finals = [], []
        for seed in SEEDS:
            pyro.clear_param_store()
            pyro.set_rng_seed(seed)
            if kind == "one_hot":
                def model():
                    pyro.sample("z", dist.OneHotCategorical(probs=t([0.25] * 4)))

                def guide():
                    q = pyro.param("q", t([0.1, 0.2, 0.3, 0.4]), constraint=constraints.simplex)
                    pyro.sample("z", dist.RelaxedOneHotCategoricalStraightThrough(temperature=t(0.1), probs=q))
                target = [0.25] * 4
            else:
                def model():
                    pyro.sample("z", dist.Bernoulli(probs=t(0.25)))

                def guide():
                    q = pyro.param("q", t(0.6), constraint=constraints.unit_interval)
                    pyro.sample("z", dist.RelaxedBernoulliStraightThrough(temperature=t(0.1), probs=q))
                target = [0.25]
            svi = SVI(model, guide, optim.Adam({"lr": 0.001, "betas": (0.95, 0.999)}), loss=Trace_ELBO())
            for _ in range(6000):
                svi.step()
            q = pyro.param("q").detach().flatten().tolist()
            finals.append(q)
            errors.append(max(abs(a - b) for a, b in zip(q, target)))
        if kind == "one_hot":
            spec = {
                "model": [{"sample": "z", "dist": "OneHotCategorical", "args": {"probs": [0.25] * 4}}],
                "guide": [{"param": "q", "init": [0.1, 0.2, 0.3, 0.4], "constraint": "simplex"},
                          {"sample": "z", "dist": "RelaxedOneHotCategoricalStraightThrough", "args": {"temperature": 0.1, "probs": "q"}}],
            }
        else:
            spec = {
                "model": [{"sample": "z", "dist": "Bernoulli", "args": {"probs": 0.25}}],
                "guide": [{"param": "q", "init": 0.6, "constraint": "unit_interval"},
                          {"sample": "z", "dist": "RelaxedBernoulliStraightThrough", "args": {"temperature": 0.1, "probs": "q"}}],
            }
        spec["inference"] = {"elbo": "trace", "steps": 6000, "optimizer": {"name": "adam", "lr": 0.001, "betas": [0.95, 0.999]}, "report_every": 6000}
        cases.append({"name": f"straight_through_{kind}", "spec": spec, "target": target, "pyro_errors": errors, "pyro_final_q": finals})
        print(f"{kind}: errors {errors}", file=sys.stderr)
    write("straight_through", {"pyro": pyro.__version__, "torch": torch.__version__, "seeds": SEEDS, "cases": cases,
                               "errors": "largest |q - target| after 6000 steps (Pyro's own test asserts 0.01); pyro_final_q: q itself"})


# ---------------------------------------------------------------------------------------------
# The mean-field case: guide params shared across a plate of local latents.
# ---------------------------------------------------------------------------------------------

SHARED_X = [1, 2, 3, 1.5, 2.5, 0.5, 2, 3, 1, 2.5]


def shared_guide():
    cases = []
    for elbo_name, elbo_class in [("meanfield", TraceMeanField_ELBO), ("trace", Trace_ELBO)]:
        finals = []
        for seed in SEEDS:
            pyro.clear_param_store()
            pyro.set_rng_seed(seed)

            def model():
                with pyro.plate("data", len(SHARED_X)):
                    z = pyro.sample("z", dist.Normal(0.0, 1.0))
                    pyro.sample("obs", dist.Normal(z, 1.0), obs=t(SHARED_X))

            def guide():
                m = pyro.param("m", t(0.0))
                s = pyro.param("s", t(1.0), constraint=constraints.positive)
                with pyro.plate("data", len(SHARED_X)):
                    pyro.sample("z", dist.Normal(m, s))

            svi = SVI(model, guide, optim.Adam({"lr": 0.02}), loss=elbo_class())
            for _ in range(4000):
                svi.step()
            finals.append({"m": pyro.param("m").item(), "s": pyro.param("s").item()})
        spec = {
            "data": {"x": SHARED_X},
            "plates": {"data": {"size": len(SHARED_X)}},
            "model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["data"]},
                      {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": 1.0}, "plates": ["data"], "obs": "x"}],
            "guide": [{"param": "m", "init": 0.0}, {"param": "s", "init": 1.0, "constraint": "positive"},
                      {"sample": "z", "dist": "Normal", "args": {"loc": "m", "scale": "s"}, "plates": ["data"], "estimator": "reparam"}],
            "inference": {"elbo": elbo_name, "steps": 4000, "optimizer": {"name": "adam", "lr": 0.02}, "report_every": 4000},
        }
        cases.append({"name": f"shared_guide_{elbo_name}", "spec": spec, "pyro_final": finals,
                      "exact": {"m": sum(SHARED_X) / len(SHARED_X) / 2, "s": 0.5 ** 0.5}})
        print(f"shared guide {elbo_name}: {finals}", file=sys.stderr)
    write("shared_guide", {"pyro": pyro.__version__, "torch": torch.__version__, "seeds": SEEDS, "cases": cases,
                           "pyro_final": "the params after 4000 steps, per seed; exact: the optimum m = mean(x)/2, s = sqrt(1/2)"})


PARTS = {"shared_guide": shared_guide, "conjugate": conjugate, "gradients": gradients, "trajectories": trajectories, "straight_through": straight_through}

if __name__ == "__main__":
    for part in sys.argv[1:] or list(PARTS):
        PARTS[part]()
