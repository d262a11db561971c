#!/usr/bin/env python3
"""Write the example jobs of examples/*.json, their expected answers and the README table.

    python3 examples/make_examples.py        # from the repository root; numpy only

Every job is a complete job spec (docs/job-spec.md) with its synthetic data inline.
The data are drawn here with fixed seeds (one numpy Generator per example, seeds given below),
so rerunning this script rewrites byte-identical files. The generating parameters are stated
beside each generator. Where the model is conjugate the exact posterior is computed here, from
the data exactly as written to the file (rounded to 4 decimals), and printed into README.md and
expected.json; otherwise the reference is the generating truth plus a numerical posterior
(Laplace approximation at the MAP, or exact quadrature for eight schools).
"""

import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DECIMALS = 4


def rounded(a):
    """Data as written to the file (rounded, so the JSON stays short and exact answers match it)."""
    return np.round(np.asarray(a, dtype=float), DECIMALS)


def tolist(a):
    a = np.asarray(a)
    if a.dtype.kind in "iub":
        return a.astype(int).tolist()
    return [float(v) if np.ndim(v) == 0 else tolist(v) for v in a] if a.ndim else float(a)


# --------------------------------------------------------------------------------------------
# JSON layout: one key per line at the top level, one data array per line, one statement per
# line, so that a diff of a job reads like a diff of a program.


def dump_job(job):
    lines = ["{"]
    items = list(job.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if key in ("data", "plates") and value:
            inner = list(value.items())
            lines.append(f'  "{key}": {{')
            for j, (k, v) in enumerate(inner):
                c = "," if j + 1 < len(inner) else ""
                lines.append(f"    {json.dumps(k)}: {json.dumps(v)}{c}")
            lines.append("  }" + comma)
        elif key in ("model", "guide") and isinstance(value, list) and value:
            lines.append(f'  "{key}": [')
            for j, stmt in enumerate(value):
                c = "," if j + 1 < len(value) else ""
                lines.append(f"    {json.dumps(stmt)}{c}")
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def adam(lr, betas=(0.9, 0.999)):
    return {"name": "adam", "lr": lr, "betas": list(betas)}


def annealed(lr, steps, final_lr):
    """Pyro's ClippedAdam with the learning rate decayed geometrically from lr to final_lr over
    the run: a noisy gradient then settles instead of jittering at the optimum with lr-sized steps."""
    decay = round((final_lr / lr) ** (1.0 / steps), 6)
    return {"name": "clipped_adam", "lr": lr, "betas": [0.9, 0.999], "clip_norm": 10.0, "lr_decay": decay}


def inference(steps, optimizer, particles=1, seed=0, elbo="tracegraph", report_every=None):
    out = {"elbo": elbo, "steps": steps, "particles": particles, "seed": seed,
           "optimizer": optimizer, "report_every": report_every or max(steps // 20, 1)}
    return out


JOBS = {}        # file stem -> job dict
EXPECTED = {}    # file stem -> machine-readable expected answer
README_ROWS = []  # (file, what it shows, expected answer with tolerance)


def add(stem, job, shows, answer, expected):
    assert stem not in JOBS
    job = dict(job)
    job["name"] = stem.replace("_", "-")
    order = ["name", "data", "plates", "model", "guide", "estimators", "inference"]
    JOBS[stem] = {k: job[k] for k in order if k in job}
    EXPECTED[stem] = expected
    README_ROWS.append((stem, shows, answer))


def fmt(v, nd=4):
    v = np.atleast_1d(np.asarray(v, dtype=float))
    s = ", ".join(f"{x:.{nd}f}" for x in v)
    return f"({s})" if v.size > 1 else s


# --------------------------------------------------------------------------------------------
# 1. Normal-Normal, conjugate (the model of job-spec.md and of Pyro's NormalNormal tests).
#    x_n ~ Normal(loc, noise scale) in 2 dimensions, n = 1..4, loc ~ Normal(loc0, lam0^-1/2).
#    loc0 = (0, 0.5), prior precision lam0 = 0.1 (scale 0.1^-0.5 = 3.1623), noise precisions
#    lam = (6, 4) (scales 6^-0.5 = 0.4082, 4^-0.5 = 0.5). The 4 points are job-spec.md's.
#    Exact posterior per coordinate: precision lam0 + n lam, mean (lam sum x + lam0 loc0) / that.

def normal_normal():
    x = np.array([[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]])
    loc0, lam0, lam = np.array([0.0, 0.5]), 0.1, np.array([6.0, 4.0])
    n = len(x)
    lam_n = lam0 + n * lam
    post_mean = (lam * x.sum(0) + lam0 * loc0) / lam_n
    post_sd = lam_n ** -0.5
    # The log evidence log p(x): per coordinate d, x[:, d] ~ MVN(loc0_d 1, I / lam_d + 11' / lam0).
    # The best ELBO equals it, since the Normal guide family contains the posterior.
    log_evidence = 0.0
    for d in range(2):
        cov = np.eye(n) / lam[d] + np.ones((n, n)) / lam0
        r = x[:, d] - loc0[d]
        log_evidence += -0.5 * (r @ np.linalg.solve(cov, r) + np.linalg.slogdet(cov)[1] + n * math.log(2 * math.pi))
    model = [
        {"sample": "loc_latent", "dist": "Normal",
         "args": {"loc": tolist(loc0), "scale": lam0 ** -0.5}, "event_dims": 1},
        {"sample": "x_obs", "dist": "Normal",
         "args": {"loc": "loc_latent", "scale": tolist(lam ** -0.5)},
         "plates": ["data"], "event_dims": 1, "obs": "x"},
    ]

    def guide(estimator):
        return [
            {"param": "loc_q", "init": "zeros(2)"},
            {"param": "scale_q", "init": "ones(2)", "constraint": "positive"},
            {"sample": "loc_latent", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"},
             "event_dims": 1, "estimator": estimator},
        ]

    base = {"data": {"x": tolist(x)}, "plates": {"data": {"size": "len(x)"}}, "model": model}
    exact = f"loc_q = {fmt(post_mean)}, scale_q = {fmt(post_sd)}, final ELBO -> log p(x) = {log_evidence:.4f} (within 0.05)"
    expected = {"params": {"loc_q": tolist(post_mean), "scale_q": tolist(post_sd)}, "log_evidence": log_evidence}

    add("normal_normal_reparam",
        dict(base, guide=guide("reparam"), inference=inference(5000, annealed(0.01, 5000, 0.0008))),
        "conjugate Normal-Normal, pathwise gradient",
        f"{exact} (exact posterior); |loc_q - exact| < 0.03, scale_q within 10%",
        dict(expected, tolerance={"elbo_abs": 0.05, "loc_q": {"abs": 0.03}, "scale_q": {"rel": 0.10}}))
    add("normal_normal_score_decaying",
        dict(base, guide=guide({"name": "score", "baseline": {"decaying_avg": 0.9}}),
             inference=inference(10000, annealed(0.01, 10000, 0.0005))),
        "same model, score-function gradient with a decaying-average baseline (beta 0.9)",
        f"{exact}; |loc_q - exact| < 0.05, scale_q within 20% (score gradients are noisier)",
        dict(expected, tolerance={"elbo_abs": 0.05, "loc_q": {"abs": 0.05}, "scale_q": {"rel": 0.20}}))
    add("normal_normal_score_loo",
        dict(base, guide=guide({"name": "score", "baseline": "loo"}),
             inference=inference(10000, annealed(0.01, 10000, 0.0005), particles=4)),
        "same model, score-function gradient with the leave-one-out baseline over 4 particles",
        f"{exact}; |loc_q - exact| < 0.05, scale_q within 20%",
        dict(expected, tolerance={"elbo_abs": 0.05, "loc_q": {"abs": 0.05}, "scale_q": {"rel": 0.20}}))
    add("normal_normal_score_trace",
        dict(base, guide=guide({"name": "score", "baseline": {"decaying_avg": 0.9}}),
             inference=inference(10000, annealed(0.01, 10000, 0.0005), elbo="trace")),
        "same model, score function under the Trace ELBO (Pyro's Trace_ELBO: the cost is the whole particle's ELBO)",
        f"{exact}; |loc_q - exact| < 0.05, scale_q within 20%",
        dict(expected, tolerance={"elbo_abs": 0.05, "loc_q": {"abs": 0.05}, "scale_q": {"rel": 0.20}}))
    add("normal_normal_meanfield",
        dict(base, guide=guide("reparam"), inference=inference(5000, annealed(0.01, 5000, 0.0008), elbo="meanfield")),
        "same model, mean-field ELBO: the Normal-Normal KL in closed form, only the likelihood sampled",
        f"{exact}; |loc_q - exact| < 0.03, scale_q within 10%",
        dict(expected, tolerance={"elbo_abs": 0.05, "loc_q": {"abs": 0.03}, "scale_q": {"rel": 0.10}}))


# --------------------------------------------------------------------------------------------
# 2. Bayesian linear regression with an MVN guide. Seed 1.
#    N = 200, D = 3, X_nd ~ Normal(0, 1), w_true = (1.0, -2.0, 0.5), y = X w_true + 0.5 eps.
#    Prior w ~ Normal(0, I), known noise scale 0.5. Conjugate: posterior precision
#    I + X'X / 0.25, mean = cov X'y / 0.25; the MVN guide can match it exactly.

def linreg():
    rng = np.random.default_rng(1)
    n, d, noise = 200, 3, 0.5
    w_true = np.array([1.0, -2.0, 0.5])
    X = rounded(rng.normal(size=(n, d)))
    y = rounded(X @ w_true + noise * rng.normal(size=n))
    prec = np.eye(d) + X.T @ X / noise ** 2
    cov = np.linalg.inv(prec)
    mean = cov @ X.T @ y / noise ** 2
    sd = np.sqrt(np.diag(cov))
    chol = np.linalg.cholesky(cov)
    model = [
        {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "zeros(3)", "scale_tril": "eye(3)"}},
        {"sample": "y_obs", "dist": "Normal", "args": {"loc": "X @ w", "scale": noise},
         "plates": ["data"], "obs": "y"},
    ]

    def guide(estimator):
        return [
            {"param": "w_loc", "init": "zeros(3)"},
            {"param": "w_scale_tril", "init": "0.1 * eye(3)", "constraint": "lower_cholesky"},
            {"sample": "w", "dist": "MultivariateNormal",
             "args": {"loc": "w_loc", "scale_tril": "w_scale_tril"}, "estimator": estimator},
        ]

    base = {"data": {"X": tolist(X), "y": tolist(y)}, "plates": {"data": {"size": "len(y)"}},
            "model": model}
    answer = (f"w_loc = {fmt(mean)}, posterior sd {fmt(sd)} = sqrt(diag(L L')) of w_scale_tril "
              f"(exact posterior; w_true {fmt(w_true, 1)}); |w_loc - exact| < 0.01, sd within 15%")
    expected = {"params": {"w_loc": tolist(mean), "w_scale_tril": tolist(chol)},
                "posterior_sd": {"w": tolist(sd)}, "truth": {"w": tolist(w_true)},
                "tolerance": {"w_loc": {"abs": 0.01}, "posterior_sd": {"rel": 0.15}}}
    for stem, est, shows in [
        ("linreg_mvn_reparam", "reparam", "Bayesian linear regression, full-covariance MVN guide, pathwise gradient"),
        ("linreg_mvn_omt", "omt", "same, optimal-mass-transport gradient for the MVN scale_tril (Pyro's OMTMultivariateNormal)"),
        ("linreg_mvn_avf", {"name": "avf", "rank": 1}, "same, adaptive-velocity-field control variate, rank 1 (Pyro's AVFMultivariateNormal)"),
    ]:
        add(stem, dict(base, guide=guide(est), inference=inference(3000, annealed(0.01, 3000, 0.0005))),
            shows, answer, expected)


# --------------------------------------------------------------------------------------------
# Newton's method for a MAP estimate and the Laplace approximation at it (logistic and Poisson
# regression references; with these N the posterior is close to Gaussian).

def laplace(grad_hess, theta0, iters=100):
    theta = np.array(theta0, dtype=float)
    for _ in range(iters):
        g, h = grad_hess(theta)
        step = np.linalg.solve(h, g)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-12:
            break
    _, h = grad_hess(theta)
    cov = np.linalg.inv(h)
    return theta, np.sqrt(np.diag(cov))


# --------------------------------------------------------------------------------------------
# 3. Bayesian logistic regression. Seed 2.
#    N = 500, D = 4, X_nd ~ Normal(0, 1), w_true = (1.5, -1.0, 0.5, 0.0) (no intercept),
#    y_n ~ Bernoulli(sigmoid(x_n . w_true)). Prior w ~ Normal(0, 1) per coefficient.
#    Guide: full-covariance MVN. Reference: the Laplace approximation (MAP by Newton).

def logreg():
    rng = np.random.default_rng(2)
    n, d = 500, 4
    w_true = np.array([1.5, -1.0, 0.5, 0.0])
    X = rounded(rng.normal(size=(n, d)))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ w_true)))).astype(int)

    def grad_hess(w):  # of the negative log posterior
        p = 1 / (1 + np.exp(-(X @ w)))
        return X.T @ (p - y) + w, (X.T * (p * (1 - p))) @ X + np.eye(d)

    mode, sd = laplace(grad_hess, np.zeros(d))
    model = [
        {"sample": "w", "dist": "Normal", "args": {"loc": "zeros(4)", "scale": 1.0}, "event_dims": 1},
        {"sample": "y_obs", "dist": "Bernoulli", "args": {"logits": "X @ w"}, "plates": ["data"], "obs": "y"},
    ]
    guide = [
        {"param": "w_loc", "init": "zeros(4)"},
        {"param": "w_scale_tril", "init": "0.1 * eye(4)", "constraint": "lower_cholesky"},
        {"sample": "w", "dist": "MultivariateNormal", "args": {"loc": "w_loc", "scale_tril": "w_scale_tril"},
         "estimator": "reparam"},
    ]
    add("logreg",
        {"data": {"X": tolist(X), "y": tolist(y)}, "plates": {"data": {"size": "len(y)"}},
         "model": model, "guide": guide, "inference": inference(3000, annealed(0.01, 3000, 0.0005))},
        "Bayesian logistic regression, Normal prior with event_dims 1, MVN guide",
        f"w_true {fmt(w_true, 1)} within 3 posterior sd; Laplace reference mean {fmt(mode)}, sd {fmt(sd)}; "
        f"|w_loc - Laplace mean| < 0.05, sd within 15%",
        {"params": {"w_loc": tolist(mode)}, "posterior_sd": {"w": tolist(sd)}, "truth": {"w": tolist(w_true)},
         "reference": "laplace",
         "tolerance": {"w_loc": {"abs": 0.05}, "posterior_sd": {"rel": 0.15}, "truth": {"sd": 3}}})


# --------------------------------------------------------------------------------------------
# 4. One-dimensional Gaussian mixture, K = 3, known unit component scale, equal known weights.
#    Seed 3. N = 200, z_n uniform on {0, 1, 2}, x_n ~ Normal(centre[z_n], 1), centres (-4, 0, 4).
#    Prior mu ~ Normal(0, 10) per component (event_dims 1). The guide's means start at
#    (-1, 0, 1) so the components come out ordered, no label switching to undo.
#    Reference: with the labels known, the posterior of each mu_k given its points is
#    Normal(sum x / (n_k + 0.01), (n_k + 0.01)^-1/2); the mixture's posterior is close to it.

def gmm():
    rng = np.random.default_rng(3)
    n, centres = 200, np.array([-4.0, 0.0, 4.0])
    z = rng.integers(0, 3, size=n)
    x = rounded(centres[z] + rng.normal(size=n))
    counts = np.bincount(z, minlength=3)
    sums = np.array([x[z == k].sum() for k in range(3)])
    ref_mean = sums / (counts + 0.01)
    ref_sd = (counts + 0.01) ** -0.5
    base = {"data": {"x": tolist(x)}, "plates": {"data": {"size": "len(x)"}}}
    mu_prior = {"sample": "mu", "dist": "Normal", "args": {"loc": "zeros(3)", "scale": 10.0}, "event_dims": 1}
    mu_guide = [
        {"param": "mu_loc", "init": [-1.0, 0.0, 1.0]},
        {"param": "mu_scale", "init": "ones(3)", "constraint": "positive"},
        {"sample": "mu", "dist": "Normal", "args": {"loc": "mu_loc", "scale": "mu_scale"}, "event_dims": 1,
         "estimator": "reparam"},
        {"param": "z_logits", "init": "zeros(200, 3)"},
    ]
    cat_model = [
        mu_prior,
        {"sample": "z", "dist": "Categorical", "args": {"logits": "zeros(3)"}, "plates": ["data"]},
        {"sample": "x_obs", "dist": "Normal", "args": {"loc": "mu[z]", "scale": 1.0}, "plates": ["data"], "obs": "x"},
    ]
    score = {"name": "score", "baseline": {"decaying_avg": 0.9}}
    cat_guide = mu_guide + [
        {"sample": "z", "dist": "Categorical", "args": {"logits": "z_logits"}, "plates": ["data"], "estimator": score},
    ]
    answer = (f"mu_loc = {fmt(ref_mean, 2)} +- 0.25 (posterior given the true labels, sd {fmt(ref_sd, 2)}; "
              f"centres (-4, 0, 4)); mu_scale ~ {fmt(ref_sd, 2)} within 30%; "
              f"argmax z_logits = true label for >= 95% of points")
    expected = {"params": {"mu_loc": tolist(ref_mean), "mu_scale": tolist(ref_sd)},
                "truth": {"mu": tolist(centres), "z": tolist(z)},
                "reference": "posterior of mu given the true assignments",
                "tolerance": {"mu_loc": {"abs": 0.25}, "mu_scale": {"rel": 0.30}, "z_accuracy": 0.95}}
    add("gmm_score", dict(base, model=cat_model, guide=cat_guide, inference=inference(6000, annealed(0.05, 6000, 0.0025))),
        "Gaussian mixture, Categorical assignments by score function with a per-point decaying baseline "
        "(tracegraph: each point's cost is its own terms); `mu[z]` gathers", answer, expected)
    oh_model = [
        mu_prior,
        {"sample": "z", "dist": "OneHotCategorical", "args": {"logits": "zeros(3)"}, "plates": ["data"]},
        {"sample": "x_obs", "dist": "Normal", "args": {"loc": "sum(z * mu, -1)", "scale": 1.0},
         "plates": ["data"], "obs": "x"},
    ]
    oh_guide = mu_guide + [
        {"sample": "z", "dist": "OneHotCategorical", "args": {"logits": "z_logits"}, "plates": ["data"],
         "estimator": {"name": "straight_through", "temperature": 0.5}},
    ]
    # Straight-through is biased here (estimators.md 4.2: the guide is charged the relaxed density
    # of the soft draw, whose entropy rewards uncertain assignments), so the fit does not reach
    # the mixture's centres: the means shrink toward 0. The reference is a Pyro 1.9.2 run of this
    # file (examples/pyro/gmm.py), which the service's estimator follows step for step in law.
    st_ref = [-1.95, -0.55, 2.30]
    add("gmm_relaxed_st", dict(base, model=oh_model, guide=oh_guide, inference=inference(6000, annealed(0.05, 6000, 0.0025))),
        "same mixture with one-hot assignments, relaxed straight-through gradient at temperature 0.5; "
        "shows the estimator's bias",
        f"NOT the centres: mu_loc = {fmt(st_ref, 2)} +- 0.4 (Pyro 1.9.2 reference run), ordered, outer means "
        f"shrunk to about +-2 (the relaxed entropy keeps assignments soft); argmax z_logits = true label for >= 80% of points",
        {"params": {"mu_loc": st_ref}, "truth": {"mu": tolist(centres), "z": tolist(z)},
         "reference": "pyro 1.9.2 run of this job (biased estimator)",
         "tolerance": {"mu_loc": {"abs": 0.4}, "z_accuracy": 0.80}})
    # The enum job keeps gmm_score's guide (its site says score) and switches the estimator with
    # the top-level `estimators` map, as a user re-running a job with another estimator would.
    add("gmm_enum", dict(base, model=cat_model, guide=cat_guide, estimators={"z": "enum"},
                         inference=inference(3000, annealed(0.05, 3000, 0.0025))),
        "same as gmm_score with the assignments enumerated exactly (top-level `estimators` override)",
        answer, expected)


# --------------------------------------------------------------------------------------------
# 5. Per-point Bernoulli switches. Seed 4. N = 100, s_n ~ Bernoulli(0.3), x_n ~ Normal(3 s_n, 1).
#    Only local latents, so the ELBO optimum is the exact posterior:
#    q(s_n = 1) = 0.3 N(x_n; 3, 1) / (0.3 N(x_n; 3, 1) + 0.7 N(x_n; 0, 1)),
#    and the best ELBO is log p(x) = sum_n log(0.3 N(x_n; 3, 1) + 0.7 N(x_n; 0, 1)).

def bernoulli_latent():
    rng = np.random.default_rng(4)
    n, p1, shift = 100, 0.3, 3.0
    s = (rng.uniform(size=n) < p1).astype(int)
    x = rounded(shift * s + rng.normal(size=n))
    log_n1 = -0.5 * (x - shift) ** 2 - 0.5 * math.log(2 * math.pi)
    log_n0 = -0.5 * x ** 2 - 0.5 * math.log(2 * math.pi)
    a, b = math.log(p1) + log_n1, math.log(1 - p1) + log_n0
    post = 1 / (1 + np.exp(b - a))
    log_evidence = float(np.sum(np.logaddexp(a, b)))
    model = [
        {"sample": "s", "dist": "Bernoulli", "args": {"probs": p1}, "plates": ["data"]},
        {"sample": "x_obs", "dist": "Normal", "args": {"loc": "3 * s", "scale": 1.0}, "plates": ["data"], "obs": "x"},
    ]

    def guide(est):
        return [
            {"param": "s_logits", "init": "zeros(100)"},
            {"sample": "s", "dist": "Bernoulli", "args": {"logits": "s_logits"}, "plates": ["data"], "estimator": est},
        ]

    base = {"data": {"x": tolist(x)}, "plates": {"data": {"size": "len(x)"}}, "model": model}
    expected = {"posterior_probs": {"s": tolist(post)}, "log_evidence": log_evidence,
                "truth": {"s": tolist(s)}}
    add("bernoulli_latent_score",
        dict(base, guide=guide({"name": "score", "baseline": {"decaying_avg": 0.9}}),
             inference=inference(5000, annealed(0.05, 5000, 0.0005))),
        "per-point Bernoulli switches, score function with a per-point decaying baseline",
        f"sigmoid(s_logits) = exact p(s_n = 1 | x_n), mean abs error < 0.03; final ELBO -> log p(x) = {log_evidence:.3f} (within 1.0)",
        dict(expected, tolerance={"posterior_probs_mae": 0.03, "elbo_abs": 1.0}))
    # A learned baseline (Pyro's nn_baseline): a linear regressor on each point's x predicts that
    # point's cost; same answer as the decaying baseline, usually in fewer steps.
    add("bernoulli_latent_score_learned",
        dict(base, data={"x": tolist(x), "x_features": [[v] for v in tolist(x)]},
             guide=guide({"name": "score", "baseline": {"learned": {"inputs": ["x_features"], "hidden": 0}}}),
             inference=inference(5000, annealed(0.05, 5000, 0.0005))),
        "same model, score function with a learned baseline (a linear regressor on each point's x, Pyro's nn_baseline)",
        f"sigmoid(s_logits) = exact p(s_n = 1 | x_n), mean abs error < 0.03; final ELBO -> log p(x) = {log_evidence:.3f} (within 1.0)",
        dict(expected, tolerance={"posterior_probs_mae": 0.03, "elbo_abs": 1.0}))
    # The plain relaxation (Concrete, no straight-through): the switches become RelaxedBernoulli
    # values in (0, 1) in guide and model alike, so this fits a relaxed model, not the discrete
    # one; its probabilities keep the exact posterior's order and its clear cases' side of 1/2.
    add("bernoulli_latent_relaxed",
        dict(base, guide=guide({"name": "relaxed", "temperature": 0.5}),
             inference=inference(5000, annealed(0.05, 5000, 0.0005))),
        "same model, plain relaxed (Concrete) Bernoulli at temperature 0.5: a relaxed model is fitted",
        "a relaxed model's answer: sigmoid(s_logits) keeps the order of the exact p(s_n = 1 | x_n) "
        "(rank correlation > 0.9) and the side of 0.5 wherever the exact probability is > 0.9 or < 0.1",
        dict(expected, reference="order and sides of the exact posterior (the relaxed model differs)",
             tolerance={"rank_correlation": 0.9, "side_agreement": [0.1, 0.9], "posterior_probs_mae": [0.0, 0.5]}))
    # Biased, like gmm_relaxed_st: the relaxed entropy of the soft draw rewards uncertain switches,
    # so the probabilities are pulled toward the middle but keep their order. Reference figures
    # from a Pyro 1.9.2 run of this file: mean abs error 0.255, rank correlation 0.99.
    add("bernoulli_latent_relaxed_st",
        dict(base, guide=guide({"name": "straight_through", "temperature": 0.5}),
             inference=inference(5000, annealed(0.05, 5000, 0.0005))),
        "same model, relaxed straight-through Bernoulli at temperature 0.5; shows the estimator's bias",
        "NOT the exact posterior: sigmoid(s_logits) keeps the order of the exact p(s_n = 1 | x_n) "
        "(rank correlation > 0.95) and the side of 0.5 wherever the exact probability is > 0.9 or < 0.1, "
        "but is pulled toward the middle: mean abs error 0.15 to 0.35 (Pyro 1.9.2: 0.255)",
        dict(expected, reference="pyro 1.9.2 run of this job (biased estimator)",
             tolerance={"rank_correlation": 0.95, "side_agreement": [0.1, 0.9], "posterior_probs_mae": [0.15, 0.35]}))


# --------------------------------------------------------------------------------------------
# 6. Eight schools (Rubin 1981), non-centred. mu ~ Normal(0, 5), tau ~ HalfCauchy(5),
#    theta_tilde_j ~ Normal(0, 1), theta = mu + tau theta_tilde, y_j ~ Normal(theta_j, sigma_j).
#    Reference: the exact marginal posterior of (mu, tau), by quadrature on a grid with the
#    thetas integrated out (y_j ~ Normal(mu, sigma_j^2 + tau^2)). A mean-field guide is known to
#    under-disperse here; the tolerance says how much.

def eight_schools():
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    mu = np.linspace(-30, 40, 701)
    # grid in log tau (density times the Jacobian tau)
    ltau = np.linspace(-12, math.log(400), 1201)
    tau = np.exp(ltau)
    M, T = np.meshgrid(mu, tau, indexing="ij")
    var = sigma[None, None, :] ** 2 + T[..., None] ** 2
    ll = -0.5 * np.sum((y - M[..., None]) ** 2 / var + np.log(var), axis=-1)
    lp = ll - 0.5 * (M / 5) ** 2 - np.log1p((T / 5) ** 2) + np.log(T)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mu_mean = float(np.sum(w * M))
    mu_sd = float(np.sqrt(np.sum(w * (M - mu_mean) ** 2)))
    tau_mean = float(np.sum(w * T))
    tau_sd = float(np.sqrt(np.sum(w * (T - tau_mean) ** 2)))
    wt = w.sum(0)
    tau_median = float(tau[np.searchsorted(np.cumsum(wt), 0.5)])
    model = [
        {"sample": "mu", "dist": "Normal", "args": {"loc": 0.0, "scale": 5.0}},
        {"sample": "tau", "dist": "HalfCauchy", "args": {"scale": 5.0}},
        {"sample": "theta_tilde", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["schools"]},
        {"let": "theta", "value": "mu + tau * theta_tilde"},
        {"sample": "y_obs", "dist": "Normal", "args": {"loc": "theta", "scale": "sigma"}, "plates": ["schools"], "obs": "y"},
    ]
    guide = [
        {"param": "mu_loc", "init": 0.0},
        {"param": "mu_scale", "init": 1.0, "constraint": "positive"},
        {"sample": "mu", "dist": "Normal", "args": {"loc": "mu_loc", "scale": "mu_scale"}, "estimator": "reparam"},
        {"param": "tau_loc", "init": 0.0},
        {"param": "tau_scale", "init": 0.5, "constraint": "positive"},
        {"sample": "tau", "dist": "LogNormal", "args": {"loc": "tau_loc", "scale": "tau_scale"}, "estimator": "reparam"},
        {"param": "theta_tilde_loc", "init": "zeros(8)"},
        {"param": "theta_tilde_scale", "init": "ones(8)", "constraint": "positive"},
        {"sample": "theta_tilde", "dist": "Normal", "args": {"loc": "theta_tilde_loc", "scale": "theta_tilde_scale"},
         "plates": ["schools"], "estimator": "reparam"},
    ]
    opt = {"name": "clipped_adam", "lr": 0.02, "betas": [0.9, 0.999], "clip_norm": 10.0, "lr_decay": 0.9997}
    add("eight_schools",
        {"data": {"y": tolist(y), "sigma": tolist(sigma)}, "plates": {"schools": {"size": 8}},
         "model": model, "guide": guide, "inference": inference(10000, opt, particles=4)},
        "eight schools, non-centred hierarchical model; HalfCauchy prior, LogNormal guide, ClippedAdam with lr decay",
        f"exact posterior mu {mu_mean:.2f} +- {mu_sd:.2f}, tau mean {tau_mean:.2f} (median {tau_median:.2f}, sd {tau_sd:.2f}); "
        f"guide mean of mu (mu_loc) within 1.5 of {mu_mean:.2f}; guide median of tau exp(tau_loc) between 0.5 and 5 "
        f"(mean-field VI under-disperses)",
        {"posterior": {"mu": {"mean": mu_mean, "sd": mu_sd}, "tau": {"mean": tau_mean, "sd": tau_sd, "median": tau_median}},
         "reference": "quadrature of the exact marginal posterior of (mu, tau)",
         "tolerance": {"mu_loc": {"abs": 1.5}, "exp(tau_loc)": {"between": [0.5, 5.0]}}})


# --------------------------------------------------------------------------------------------
# 7. Poisson regression with a log link. Seed 5. N = 300, D = 2 features + intercept,
#    X_nd ~ Normal(0, 0.5^2) (sd 0.5), b_true = 1.0, w_true = (0.5, -0.3),
#    y_n ~ Poisson(exp(b_true + x_n . w_true)). Priors b ~ Normal(0, 5), w ~ Normal(0, 1).
#    Reference: Laplace approximation at the MAP.

def poisson_regression():
    rng = np.random.default_rng(5)
    n = 300
    b_true, w_true = 1.0, np.array([0.5, -0.3])
    X = rounded(0.5 * rng.normal(size=(n, 2)))
    y = rng.poisson(np.exp(b_true + X @ w_true))
    Z = np.hstack([np.ones((n, 1)), X])
    prior_prec = np.array([1 / 25, 1.0, 1.0])

    def grad_hess(theta):
        rate = np.exp(Z @ theta)
        return Z.T @ (rate - y) + prior_prec * theta, (Z.T * rate) @ Z + np.diag(prior_prec)

    mode, sd = laplace(grad_hess, np.zeros(3))
    model = [
        {"sample": "b", "dist": "Normal", "args": {"loc": 0.0, "scale": 5.0}},
        {"sample": "w", "dist": "Normal", "args": {"loc": "zeros(2)", "scale": 1.0}, "event_dims": 1},
        {"let": "rate", "value": "exp(b + X @ w)"},
        {"sample": "y_obs", "dist": "Poisson", "args": {"rate": "rate"}, "plates": ["data"], "obs": "y"},
    ]
    guide = [
        {"param": "b_loc", "init": 0.0},
        {"param": "b_scale", "init": 0.1, "constraint": "positive"},
        {"sample": "b", "dist": "Normal", "args": {"loc": "b_loc", "scale": "b_scale"}},
        {"param": "w_loc", "init": "zeros(2)"},
        {"param": "w_scale", "init": "0.1 * ones(2)", "constraint": "positive"},
        {"sample": "w", "dist": "Normal", "args": {"loc": "w_loc", "scale": "w_scale"}, "event_dims": 1},
    ]
    add("poisson_regression",
        {"data": {"X": tolist(X), "y": tolist(y)}, "plates": {"data": {"size": "len(y)"}},
         "model": model, "guide": guide, "inference": inference(4000, annealed(0.01, 4000, 0.0005))},
        "Poisson regression with log link, mean-field Normal guide (estimator left to the default, reparam)",
        f"truth b = {b_true}, w = {fmt(w_true, 1)} within 3 posterior sd; Laplace reference b {mode[0]:.4f} +- {sd[0]:.4f}, "
        f"w {fmt(mode[1:])} +- {fmt(sd[1:])}; |loc - Laplace mean| < 0.03, scales within 25% (mean-field)",
        {"params": {"b_loc": float(mode[0]), "w_loc": tolist(mode[1:]), "b_scale": float(sd[0]), "w_scale": tolist(sd[1:])},
         "truth": {"b": b_true, "w": tolist(w_true)}, "reference": "laplace",
         "tolerance": {"loc": {"abs": 0.03}, "scale": {"rel": 0.25}, "truth": {"sd": 3}}})


# --------------------------------------------------------------------------------------------
# 8. Beta-Bernoulli coin. Seed 6 (only the order of the flips). Prior p ~ Beta(10, 10),
#    30 flips with 22 heads. Exact posterior Beta(10 + 22, 10 + 8) = Beta(32, 18).
#    The Beta guide is reparameterised through implicit Gamma gradients.

def beta_bernoulli():
    rng = np.random.default_rng(6)
    flips = np.array([1] * 22 + [0] * 8)
    rng.shuffle(flips)
    a, b = 10 + flips.sum(), 10 + (len(flips) - flips.sum())
    mean = a / (a + b)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    model = [
        {"sample": "p", "dist": "Beta", "args": {"concentration1": 10.0, "concentration0": 10.0}},
        {"sample": "flip_obs", "dist": "Bernoulli", "args": {"probs": "p"}, "plates": ["flips"], "obs": "flips"},
    ]
    guide = [
        {"param": "alpha_q", "init": 10.0, "constraint": "positive"},
        {"param": "beta_q", "init": 10.0, "constraint": "positive"},
        {"sample": "p", "dist": "Beta", "args": {"concentration1": "alpha_q", "concentration0": "beta_q"},
         "estimator": "reparam"},
    ]
    add("beta_bernoulli_coin",
        {"data": {"flips": tolist(flips)}, "plates": {"flips": {"size": "len(flips)"}},
         "model": model, "guide": guide, "inference": inference(5000, adam(0.01), particles=4)},
        "Beta-Bernoulli coin, Beta guide reparameterised by implicit Gamma gradients",
        f"alpha_q = {a}, beta_q = {b} (exact posterior Beta({a}, {b}), mean {mean:.4f}, sd {sd:.4f}); "
        f"guide mean within 0.01, guide sd within 15%",
        {"params": {"alpha_q": float(a), "beta_q": float(b)}, "posterior": {"p": {"mean": mean, "sd": sd}},
         "tolerance": {"mean_abs": 0.01, "sd_rel": 0.15}})


# --------------------------------------------------------------------------------------------
# 9. Two-level hierarchical regression: groups x units, random intercepts and slopes, the units'
#    plate subsampled (10 of 40 per step). Seed 9. G = 8 groups, I = 40 units per group,
#    x_gi ~ Uniform(-2, 2), mu_a = 1.0, mu_b = -0.5, a_g ~ Normal(mu_a, 1), b_g ~ Normal(mu_b, 0.5),
#    y_gi ~ Normal(a_g + b_g x_gi, 0.5). Priors mu_a, mu_b ~ Normal(0, 5); the group scales (1, 0.5)
#    and the noise (0.5) are known, so the posterior is Gaussian and computed exactly here; a
#    mean-field Gaussian guide recovers its means exactly.

def hierarchical_regression():
    rng = np.random.default_rng(9)
    G, I = 8, 40
    x = rounded(rng.uniform(-2, 2, size=(G, I)))
    a = 1.0 + rng.normal(size=G)
    b = -0.5 + 0.5 * rng.normal(size=G)
    y = rounded(a[:, None] + b[:, None] * x + 0.5 * rng.normal(size=(G, I)))
    # Exact posterior of (mu_a, mu_b, a_1..G, b_1..G): Gaussian, from the joint precision.
    n = 2 + 2 * G
    prec = np.zeros((n, n))
    lin = np.zeros(n)
    prec[0, 0] += 1 / 25.0
    prec[1, 1] += 1 / 25.0
    for g in range(G):
        ia, ib = 2 + g, 2 + G + g
        # a_g ~ N(mu_a, 1): (a - mu_a)^2 / 1
        for (i, j, s2) in [(ia, 0, 1.0), (ib, 1, 0.25)]:
            prec[i, i] += 1 / s2
            prec[j, j] += 1 / s2
            prec[i, j] -= 1 / s2
            prec[j, i] -= 1 / s2
        # y_gi ~ N(a_g + b_g x_gi, 0.25)
        prec[ia, ia] += np.sum(1 / 0.25 * np.ones(I))
        prec[ib, ib] += np.sum(x[g] ** 2) / 0.25
        prec[ia, ib] += np.sum(x[g]) / 0.25
        prec[ib, ia] += np.sum(x[g]) / 0.25
        lin[ia] += np.sum(y[g]) / 0.25
        lin[ib] += np.sum(x[g] * y[g]) / 0.25
    cov = np.linalg.inv(prec)
    mean = cov @ lin
    sd = np.sqrt(np.diag(cov))
    model = [
        {"sample": "mu_a", "dist": "Normal", "args": {"loc": 0.0, "scale": 5.0}},
        {"sample": "mu_b", "dist": "Normal", "args": {"loc": 0.0, "scale": 5.0}},
        {"sample": "a", "dist": "Normal", "args": {"loc": "mu_a", "scale": 1.0}, "plates": ["groups"]},
        {"sample": "b", "dist": "Normal", "args": {"loc": "mu_b", "scale": 0.5}, "plates": ["groups"]},
        {"sample": "y_obs", "dist": "Normal", "args": {"loc": "a + b * x", "scale": 0.5}, "plates": ["groups", "units"], "obs": "y"},
    ]
    guide = []
    for name in ["mu_a", "mu_b"]:
        guide += [{"param": f"{name}_loc", "init": 0.0},
                  {"param": f"{name}_scale", "init": 0.5, "constraint": "positive"},
                  {"sample": name, "dist": "Normal", "args": {"loc": f"{name}_loc", "scale": f"{name}_scale"}}]
    for name in ["a", "b"]:
        guide += [{"param": f"{name}_loc", "init": "zeros(8)", "plates": ["groups"]},
                  {"param": f"{name}_scale", "init": "0.3 * ones(8)", "constraint": "positive", "plates": ["groups"]},
                  {"sample": name, "dist": "Normal", "args": {"loc": f"{name}_loc", "scale": f"{name}_scale"}, "plates": ["groups"]}]
    steps = 20000
    add("hierarchical_regression",
        {"data": {"x": {"value": tolist(x), "plates": ["groups", "units"]}, "y": {"value": tolist(y), "plates": ["groups", "units"]}},
         "plates": {"groups": {"size": G}, "units": {"size": I, "subsample": 10}},
         "model": model, "guide": guide, "inference": inference(steps, annealed(0.03, steps, 0.001), particles=1)},
        "two-level hierarchical regression (groups x units, random intercepts and slopes), the inner units plate subsampled 10 of 40; "
        "the group effects align with the units' data by plate name",
        f"exact posterior means mu_a {mean[0]:.3f}, mu_b {mean[1]:.3f}, a {fmt(mean[2:2 + G], 3)}, b {fmt(mean[2 + G:], 3)}; "
        f"every loc within 0.1 of them (exact: a mean-field Gaussian guide recovers a Gaussian posterior's means)",
        {"params": {"mu_a_loc": float(mean[0]), "mu_b_loc": float(mean[1]), "a_loc": mean[2:2 + G].tolist(), "b_loc": mean[2 + G:].tolist()},
         "posterior_sd": {"mu_a": float(sd[0]), "mu_b": float(sd[1]), "a": sd[2:2 + G].tolist(), "b": sd[2 + G:].tolist()},
         "reference": "exact Gaussian posterior (known scales)",
         "tolerance": {"mu_a_loc": {"abs": 0.1}, "mu_b_loc": {"abs": 0.1}, "a_loc": {"abs": 0.1}, "b_loc": {"abs": 0.1}}})


# --------------------------------------------------------------------------------------------
# 10. Eight schools with per-school data in a nested plate: each school's estimate y_s is the
#     mean of 4 measurements y_sj = y_s + sigma_s * d_j (d = (1.2, -0.4, -1.4, 0.6), summing to
#     0), each with noise scale 2 sigma_s, so the measurements carry exactly the information of
#     the classic data and the posterior is eight_schools.json's.

def eight_schools_nested():
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    d = np.array([1.2, -0.4, -1.4, 0.6])
    ys = rounded(y[:, None] + sigma[:, None] * d[None, :])
    base = EXPECTED["eight_schools"]
    job = json.loads(json.dumps(JOBS["eight_schools"]))
    job["data"] = {"y": {"value": tolist(ys), "plates": ["schools", "measurements"]},
                   "sigma": {"value": tolist(sigma), "plates": ["schools"]}}
    job["plates"] = {"schools": {"size": 8}, "measurements": {"size": 4}}
    job["model"][-1] = {"sample": "y_obs", "dist": "Normal", "args": {"loc": "theta", "scale": "2 * sigma"},
                        "plates": ["schools", "measurements"], "obs": "y"}
    del job["name"]
    add("eight_schools_nested", job,
        "eight schools with each school's data as 4 measurements in a nested plate; theta (in schools) meets them by plate name",
        "the posterior of eight_schools.json (the same information): guide mean of mu (mu_loc) within 1.5 of "
        f"{base['posterior']['mu']['mean']:.2f}; guide median of tau exp(tau_loc) between 0.5 and 5",
        dict(base, reference="as eight_schools: the measurements' means are its data"))


def main():
    normal_normal()
    linreg()
    logreg()
    gmm()
    bernoulli_latent()
    eight_schools()
    poisson_regression()
    beta_bernoulli()
    hierarchical_regression()
    eight_schools_nested()
    for stem, job in JOBS.items():
        with open(os.path.join(HERE, stem + ".json"), "w") as f:
            f.write(dump_job(job))
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(EXPECTED, f, indent=1)
        f.write("\n")
    write_readme()
    print(f"wrote {len(JOBS)} jobs to {HERE}")
    for stem, shows, answer in README_ROWS:
        print(f"{stem}: {answer}")


def write_readme():
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(README_HEAD)
        f.write("| job | what it shows | answer it should reach (tolerance) |\n|---|---|---|\n")
        for stem, shows, answer in README_ROWS:
            cell = answer.replace("|", "\\|")  # |x - y| inside a table cell
            f.write(f"| [`{stem}.json`]({stem}.json) | {shows} | {cell} |\n")
        f.write(README_TAIL)


README_HEAD = """# Example jobs

The job specs (in the job language of `../docs/job-spec.md`), each a real model with its synthetic data
inline. `make_examples.py` (numpy only, fixed seeds) writes them, this table and
`expected.json` (the same answers, machine-readable); the generating parameters are in its
comments. Do not edit the JSON or this table by hand: change the script and rerun it.

```
python3 examples/make_examples.py
sviserve run examples/normal_normal_reparam.json
```

"Exact" means the analytic posterior, computed from the data as written. Params are reported
constrained (`scale_q` is the standard deviation). Tolerances are for a run with the file's own
seed and settings.

"""

README_TAIL = """
## The same programs in Pyro

`pyro/normal_normal.py`, `pyro/logreg.py` and `pyro/gmm.py` are the Pyro programs these jobs
translate, line by line, with comments naming the JSON keys. They read the job file for data
and settings (run from `examples/`):

```
python pyro/normal_normal.py normal_normal_reparam.json
python pyro/logreg.py logreg.json
python pyro/gmm.py gmm_score.json      # or gmm_relaxed_st.json, gmm_enum.json
```

They need `pyro-ppl` and `torch`. Pyro has no leave-one-out baseline; `normal_normal.py` says
so and runs the `loo` job with the decaying-average baseline instead. Pyro's random streams are
not the service's, so a Pyro run and a service run of the same file agree within the tolerances
above, not digit for digit.
"""

if __name__ == "__main__":
    main()
