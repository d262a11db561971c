#!/usr/bin/env python3
"""Generate Tests/DistributionsTests/LogProbReference.swift.

Usage (from the repository root):

    python3 Tests/DistributionsTests/Reference/make_logprob_reference.py \
        > Tests/DistributionsTests/LogProbReference.swift

Reference log-densities for sviserve's distributions, with exactly the semantics of
torch.distributions (and Pyro's Delta).  torch itself is not available here, so:

* every reference value is computed in mpmath at 50 significant digits from the closed-form
  density, with the parameters / values taken as the exact binary64 numbers written to the
  Swift file, and then rounded once to binary64;
* where torch's implementation deliberately departs from the exact density (probability
  clamps in `probs_to_logits` / `clamp_probs`, the `[tiny, 1-eps]` clamp in
  `SigmoidTransform._inverse`, `xlogy(0, 0) = 0` at support boundaries, Uniform's
  half-open `[low, high)` indicator) the torch behaviour is reproduced and the case's `note`
  says so (search for "torch clamp" / "torch semantics");
* every case is checked independently: against SciPy (scipy.stats / scipy.special in
  binary64) to 1e-13 relative (with an absolute floor only where SciPy's own binary64
  evaluation cancels large terms; the floor is stated per case), and the relaxed densities
  against a binary64 transcription of torch's formula *and* an mpmath transcription of it
  (the reference itself uses Maddison et al.'s closed form);
* every case's value is checked to pass a re-implementation of torch's `validate_args`
  support check, and every SupportViolationCase to fail it.

The script aborts (non-zero exit, nothing on stdout) if any check fails.

Sources for torch's formulas (read, not copied): torch/distributions/{utils,gamma,beta,
dirichlet,bernoulli,binomial,categorical,one_hot_categorical,poisson,uniform,half_normal,
half_cauchy,log_normal,studentT,multivariate_normal,relaxed_bernoulli,relaxed_categorical,
transforms,transformed_distribution,constraints}.py and pyro/distributions/delta.py.
"""

import math
import sys

import mpmath as mp
import numpy as np
from scipy import special, stats

mp.mp.dps = 50

EPS = 2.0 ** -52            # torch.finfo(torch.float64).eps  = 2.220446049250313e-16
TINY = 2.0 ** -1022         # torch.finfo(torch.float64).tiny = 2.2250738585072014e-308
assert EPS == 2.220446049250313e-16 and TINY == 2.2250738585072014e-308
ONE_M_EPS = 1.0 - EPS       # exactly representable: 0.9999999999999998
assert ONE_M_EPS == 0.9999999999999998

RTOL = 1e-13
INF = mp.inf
NINF = -mp.inf

# --------------------------------------------------------------------------------------------
# mpmath helpers (exact-from-binary64 inputs)
# --------------------------------------------------------------------------------------------


def M(x):
    return mp.mpf(x)


def xlogy(a, b):
    """torch.xlogy semantics: 0 if a == 0 (b not NaN), else a*log(b) (log 0 = -inf)."""
    a, b = M(a), M(b)
    if a == 0:
        return M(0)
    if b == 0:
        return -INF if a > 0 else INF
    return a * mp.log(b)


def lse(xs):
    xs = [M(x) for x in xs]
    m = max(xs)
    if m == NINF:
        return NINF
    return m + mp.log(mp.fsum(mp.exp(x - m) for x in xs if x != NINF))


def clamp_probs(p):
    """torch.distributions.utils.clamp_probs for float64: clamp to [eps, 1 - eps]."""
    return min(max(p, EPS), ONE_M_EPS)


def softplus(x):
    x = M(x)
    if x > 0:
        return x + mp.log1p(mp.exp(-x))
    return mp.log1p(mp.exp(x))


def log_binom(n, k):
    return mp.loggamma(M(n) + 1) - mp.loggamma(M(k) + 1) - mp.loggamma(M(n) - M(k) + 1)


def mat(rows_flat, d):
    return mp.matrix([[M(rows_flat[i * d + j]) for j in range(d)] for i in range(d)])


# --------------------------------------------------------------------------------------------
# Reference densities (mpmath, 50 digits)
# --------------------------------------------------------------------------------------------


def ref_normal(p, v):
    mu, s, x = M(p["loc"][0]), M(p["scale"][0]), M(v[0])
    return -((x - mu) ** 2) / (2 * s * s) - mp.log(s) - mp.log(2 * mp.pi) / 2


def ref_lognormal(p, v):
    x = M(v[0])
    ly = mp.log(x)
    mu, s = M(p["loc"][0]), M(p["scale"][0])
    return -((ly - mu) ** 2) / (2 * s * s) - mp.log(s) - mp.log(2 * mp.pi) / 2 - ly


def ref_halfnormal(p, v):
    s, x = M(p["scale"][0]), M(v[0])
    if x < 0:
        return NINF
    return -(x * x) / (2 * s * s) - mp.log(s) - mp.log(2 * mp.pi) / 2 + mp.log(2)


def ref_cauchy(p, v):
    mu, s, x = M(p["loc"][0]), M(p["scale"][0]), M(v[0])
    z = (x - mu) / s
    return -mp.log(mp.pi) - mp.log(s) - mp.log1p(z * z)


def ref_halfcauchy(p, v):
    s, x = M(p["scale"][0]), M(v[0])
    if x < 0:
        return NINF
    z = x / s
    return -mp.log(mp.pi) - mp.log(s) - mp.log1p(z * z) + mp.log(2)


def ref_studentt(p, v):
    nu, mu, s, x = M(p["df"][0]), M(p["loc"][0]), M(p["scale"][0]), M(v[0])
    z = (x - mu) / s
    return (mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2) - mp.log(nu * mp.pi) / 2 - mp.log(s)
            - (nu + 1) / 2 * mp.log1p(z * z / nu))


def ref_laplace(p, v):
    mu, s, x = M(p["loc"][0]), M(p["scale"][0]), M(v[0])
    return -mp.log(2 * s) - abs(x - mu) / s


def ref_exponential(p, v):
    r, x = M(p["rate"][0]), M(v[0])
    return mp.log(r) - r * x


def ref_gamma(p, v):
    a, b, x = M(p["concentration"][0]), M(p["rate"][0]), M(v[0])
    return a * mp.log(b) + xlogy(a - 1, x) - b * x - mp.loggamma(a)


def ref_beta(p, v):
    a, b, x = M(p["concentration1"][0]), M(p["concentration0"][0]), M(v[0])
    t = xlogy(a - 1, x) + xlogy(b - 1, 1 - x)   # torch: Dirichlet on [value, 1 - value]
    return t + mp.loggamma(a + b) - mp.loggamma(a) - mp.loggamma(b)


def ref_uniform(p, v):
    lo, hi, x = M(p["low"][0]), M(p["high"][0]), M(v[0])
    if lo <= x < hi:                         # torch: low.le(value) * high.gt(value)
        return -mp.log(hi - lo)
    return NINF


def _mvn(loc, L, x):
    d = len(loc)
    diff = mp.matrix([M(x[i]) - M(loc[i]) for i in range(d)])
    # forward substitution L w = diff
    w = [M(0)] * d
    for i in range(d):
        w[i] = (diff[i] - mp.fsum(L[i, j] * w[j] for j in range(i))) / L[i, i]
    maha = mp.fsum(wi * wi for wi in w)
    half_log_det = mp.fsum(mp.log(L[i, i]) for i in range(d))
    return -(d * mp.log(2 * mp.pi) + maha) / 2 - half_log_det


def ref_mvn(p, v):
    d = len(p["loc"])
    if "scale_tril" in p:
        L = mat(p["scale_tril"], d)
    else:
        L = mp.cholesky(mat(p["covariance_matrix"], d))
    return _mvn(p["loc"], L, v)


def bernoulli_logit(p):
    """Effective logit torch uses: logits as given, or probs_to_logits(probs, is_binary=True)."""
    if "logits" in p:
        return M(p["logits"][0])
    pc = M(clamp_probs(p["probs"][0]))
    return mp.log(pc) - mp.log1p(-pc)


def ref_bernoulli(p, v):
    l, x = bernoulli_logit(p), M(v[0])
    return x * l - softplus(l)               # = -binary_cross_entropy_with_logits(l, x)


def categorical_logp(p):
    """Per-class log-probabilities torch's Categorical uses (its `logits` attribute)."""
    if "logits" in p:
        l = [M(a) for a in p["logits"]]
        z = lse(l)
        return [a - z for a in l]
    probs = p["probs"]
    s = mp.fsum(M(a) for a in probs)
    out = []
    for a in probs:
        q = M(a) / s
        qd = float(q)
        # torch normalises in binary64 and then clamps; the cases are chosen so that the
        # binary64 normalisation is exact, making the reference unambiguous.
        assert M(qd) == q and qd == a / math.fsum(probs), (probs, a)
        out.append(mp.log(M(clamp_probs(qd))))
    return out


def ref_categorical(p, v):
    return categorical_logp(p)[int(v[0])]


def ref_onehot(p, v):
    idx = max(range(len(v)), key=lambda i: (v[i], -i))   # value.max(-1)[1]: first maximum
    return categorical_logp(p)[idx]


def ref_binomial(p, v):
    n, k = M(p["total_count"][0]), M(v[0])
    l = bernoulli_logit(p)
    # k log p + (n-k) log(1-p) = k*l - n*softplus(l)
    return log_binom(n, k) + k * l - n * softplus(l)


def ref_poisson(p, v):
    r, k = M(p["rate"][0]), M(v[0])
    return xlogy(k, r) - r - mp.loggamma(k + 1)


def ref_dirichlet(p, v):
    a = [M(c) for c in p["concentration"]]
    terms = [xlogy(ai - 1, xi) for ai, xi in zip(a, v)]
    assert not (INF in terms and NINF in terms), "torch would return NaN here"
    return mp.fsum(terms) + mp.loggamma(mp.fsum(a)) - mp.fsum(mp.loggamma(ai) for ai in a)


def ref_delta(p, v):
    ld = M(p.get("log_density", [0.0])[0])
    return ld if v[0] == p["v"][0] else NINF          # log(value == v) + log_density


def ref_relaxed_bernoulli(p, v):
    """Binary Concrete density (Maddison et al. 2017, eq. 21) evaluated, as torch does, at
    y clamped to [tiny, 1 - eps] (SigmoidTransform._inverse), with alpha = exp(logit)."""
    tau = M(p["temperature"][0])
    y = M(min(max(v[0], TINY), ONE_M_EPS))
    log_alpha = bernoulli_logit(p)
    # p(y) = tau * alpha * y^(-tau-1) (1-y)^(-tau-1) / (alpha y^(-tau) + (1-y)^(-tau))^2
    a = log_alpha - tau * mp.log(y)
    b = -tau * mp.log1p(-y)
    return (mp.log(tau) + log_alpha - (tau + 1) * (mp.log(y) + mp.log1p(-y)) - 2 * lse([a, b]))


def ref_relaxed_onehot(p, v):
    """Concrete density (Maddison et al. 2017, eq. 10) with pi_k proportional to exp(logit_k)
    (torch's Categorical logits: normalised logits, or log(clamp_probs(probs)))."""
    tau = M(p["temperature"][0])
    logpi = categorical_logp(p)
    y = [M(t) for t in v]
    assert all(t > 0 for t in y), "torch returns NaN on the simplex boundary"
    k = len(y)
    # log p = lgamma(K) + (K-1) log tau + sum_k [log pi_k - (tau+1) log y_k]
    #         - K log sum_i pi_i y_i^(-tau)
    return (mp.loggamma(k) + (k - 1) * mp.log(tau)
            + mp.fsum(lp - (tau + 1) * mp.log(t) for lp, t in zip(logpi, y))
            - k * lse([lp - tau * mp.log(t) for lp, t in zip(logpi, y)]))


REF = {
    "Normal": ref_normal, "LogNormal": ref_lognormal, "HalfNormal": ref_halfnormal,
    "Cauchy": ref_cauchy, "HalfCauchy": ref_halfcauchy, "StudentT": ref_studentt,
    "Laplace": ref_laplace, "Exponential": ref_exponential, "Gamma": ref_gamma,
    "Beta": ref_beta, "Uniform": ref_uniform, "MultivariateNormal": ref_mvn,
    "Bernoulli": ref_bernoulli, "Categorical": ref_categorical,
    "OneHotCategorical": ref_onehot, "Binomial": ref_binomial, "Poisson": ref_poisson,
    "Dirichlet": ref_dirichlet, "Delta": ref_delta,
    "RelaxedOneHotCategorical": ref_relaxed_onehot, "RelaxedBernoulli": ref_relaxed_bernoulli,
}

# --------------------------------------------------------------------------------------------
# Independent checks in binary64 (SciPy), returning a float
# --------------------------------------------------------------------------------------------


def f_bern_logit(p):
    if "logits" in p:
        return p["logits"][0]
    pc = clamp_probs(p["probs"][0])
    return math.log(pc) - math.log1p(-pc)


def f_cat_logp(p):
    if "logits" in p:
        return special.log_softmax(np.array(p["logits"], dtype=float))
    q = np.array(p["probs"], dtype=float)
    q = q / q.sum()
    return np.log(np.clip(q, EPS, ONE_M_EPS))


def chk_mvn(p, v):
    loc = np.array(p["loc"])
    d = len(loc)
    if "scale_tril" in p:
        L = np.array(p["scale_tril"]).reshape(d, d)
        cov = L @ L.T
    else:
        cov = np.array(p["covariance_matrix"]).reshape(d, d)
    return stats.multivariate_normal.logpdf(np.array(v), loc, cov)


def torch_softplus(x):
    """torch.nn.functional.softplus with its default threshold 20 (returns x for x > 20)."""
    return x if x > 20.0 else math.log1p(math.exp(x))


def chk_torch_relaxed_bernoulli(p, v):
    """Literal binary64 transcription of torch: LogitRelaxedBernoulli.log_prob(x) - LADJ(x),
    including its non-stabilised diff.exp().log1p() and softplus's threshold, so that a case
    where those binary64 artefacts would matter fails the check instead of entering the table."""
    tau = p["temperature"][0]
    y = min(max(v[0], TINY), ONE_M_EPS)               # SigmoidTransform._inverse clamp
    x = math.log(y) - math.log1p(-y)
    diff = f_bern_logit(p) - x * tau
    base = math.log(tau) + diff - 2 * math.log1p(math.exp(diff))
    ladj = -torch_softplus(-x) - torch_softplus(x)
    return base - ladj


def chk_torch_relaxed_onehot(p, v):
    """Binary64 transcription of torch: ExpRelaxedCategorical.log_prob(log y) - sum(log y)."""
    tau = p["temperature"][0]
    logits = f_cat_logp(p)
    x = np.log(np.array(v))
    k = len(v)
    score = logits - x * tau
    score = (score - special.logsumexp(score)).sum()
    return score + special.gammaln(k) + (k - 1) * math.log(tau) - x.sum()


def mp_torch_relaxed_onehot(p, v):
    """The same torch formula in mpmath (a second, algebraically different path)."""
    tau = M(p["temperature"][0])
    logits = categorical_logp(p)
    x = [mp.log(M(t)) for t in v]
    k = len(v)
    score = [l - t * tau for l, t in zip(logits, x)]
    z = lse(score)
    return mp.fsum(s - z for s in score) + mp.loggamma(k) + (k - 1) * mp.log(tau) - mp.fsum(x)


def mp_torch_relaxed_bernoulli(p, v):
    tau = M(p["temperature"][0])
    y = M(min(max(v[0], TINY), ONE_M_EPS))
    x = mp.log(y) - mp.log1p(-y)
    d = bernoulli_logit(p) - tau * x
    return mp.log(tau) + d - 2 * softplus(d) + softplus(-x) + softplus(x)


def s(x):
    return x[0]


CHECK = {
    "Normal": lambda p, v: stats.norm.logpdf(s(v), s(p["loc"]), s(p["scale"])),
    "LogNormal": lambda p, v: stats.lognorm.logpdf(s(v), s(p["scale"]), scale=math.exp(s(p["loc"]))),
    "HalfNormal": lambda p, v: stats.halfnorm.logpdf(s(v), scale=s(p["scale"])),
    "Cauchy": lambda p, v: stats.cauchy.logpdf(s(v), s(p["loc"]), s(p["scale"])),
    "HalfCauchy": lambda p, v: stats.halfcauchy.logpdf(s(v), scale=s(p["scale"])),
    "StudentT": lambda p, v: stats.t.logpdf(s(v), s(p["df"]), s(p["loc"]), s(p["scale"])),
    "Laplace": lambda p, v: stats.laplace.logpdf(s(v), s(p["loc"]), s(p["scale"])),
    "Exponential": lambda p, v: stats.expon.logpdf(s(v), scale=1.0 / s(p["rate"])),
    "Gamma": lambda p, v: (stats.gamma.logpdf(s(p["rate"]) * s(v), s(p["concentration"]))
                           + math.log(s(p["rate"]))),
    "Beta": lambda p, v: stats.beta.logpdf(s(v), s(p["concentration1"]), s(p["concentration0"])),
    # scipy.stats.uniform's support is the closed [low, high]; torch's indicator is [low, high)
    "Uniform": lambda p, v: (stats.uniform.logpdf(s(v), s(p["low"]), s(p["high"]) - s(p["low"]))
                             if s(v) < s(p["high"]) else -math.inf),
    "MultivariateNormal": chk_mvn,
    "Bernoulli": lambda p, v: (s(v) * special.log_expit(f_bern_logit(p))
                               + (1 - s(v)) * special.log_expit(-f_bern_logit(p))),
    "Categorical": lambda p, v: f_cat_logp(p)[int(s(v))],
    "OneHotCategorical": lambda p, v: f_cat_logp(p)[int(np.argmax(v))],
    "Binomial": lambda p, v: (special.gammaln(s(p["total_count"]) + 1) - special.gammaln(s(v) + 1)
                              - special.gammaln(s(p["total_count"]) - s(v) + 1)
                              + s(v) * special.log_expit(f_bern_logit(p))
                              + (s(p["total_count"]) - s(v)) * special.log_expit(-f_bern_logit(p))),
    "Poisson": lambda p, v: stats.poisson.logpmf(s(v), s(p["rate"])),
    "Dirichlet": lambda p, v: (special.xlogy(np.array(p["concentration"]) - 1, np.array(v)).sum()
                               + special.gammaln(sum(p["concentration"]))
                               - special.gammaln(np.array(p["concentration"])).sum()),
    "Delta": lambda p, v: (p.get("log_density", [0.0])[0] if v[0] == p["v"][0] else -math.inf),
    "RelaxedOneHotCategorical": chk_torch_relaxed_onehot,
    "RelaxedBernoulli": chk_torch_relaxed_bernoulli,
}

# --------------------------------------------------------------------------------------------
# torch's validate_args support checks (torch/distributions/constraints.py)
# --------------------------------------------------------------------------------------------


def support_ok(dist, p, v):
    x = v[0] if len(v) == 1 else None
    real = all(t == t for t in v)
    if dist in ("Normal", "Cauchy", "StudentT", "Laplace", "MultivariateNormal", "Delta"):
        return real                                    # constraints.real / real_vector
    if dist == "LogNormal":
        return 0.0 < x                                 # constraints.positive
    if dist in ("HalfNormal", "HalfCauchy", "Exponential", "Gamma"):
        return 0.0 <= x                                # constraints.nonnegative
    if dist in ("Beta", "RelaxedBernoulli"):
        return 0.0 <= x <= 1.0                         # constraints.unit_interval (closed)
    if dist == "Uniform":
        return p["low"][0] <= x <= p["high"][0]        # constraints.interval (closed!)
    if dist == "Bernoulli":
        return x == 0.0 or x == 1.0                    # constraints.boolean
    if dist == "Categorical":
        k = len(p.get("probs", p.get("logits")))
        return x % 1 == 0 and 0 <= x <= k - 1          # integer_interval(0, K-1)
    if dist == "OneHotCategorical":
        return all(t in (0.0, 1.0) for t in v) and sum(v) == 1.0   # constraints.one_hot
    if dist == "Binomial":
        return x % 1 == 0 and 0 <= x <= p["total_count"][0]   # integer_interval(0, n)
    if dist == "Poisson":
        return x % 1 == 0 and x >= 0                   # nonnegative_integer
    if dist in ("Dirichlet", "RelaxedOneHotCategorical"):
        # constraints.simplex: all(x >= 0) & |sum(x) - 1| < 1e-6 (sum in binary64)
        return all(t >= 0 for t in v) and abs(float(np.sum(np.array(v))) - 1) < 1e-6
    raise KeyError(dist)


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

CASES = []
VIOLATIONS = []

CLAMP = "torch clamp: "


def case(dist, params, value, note, atol=0.0, check=True):
    params = {k: [float(t) for t in vals] for k, vals in params.items()}
    value = [float(t) for t in value]
    CASES.append(dict(dist=dist, params=params, value=value, note=note, atol=atol, check=check))


def bad(dist, params, value, note):
    params = {k: [float(t) for t in vals] for k, vals in params.items()}
    value = [float(t) for t in value]
    VIOLATIONS.append(dict(dist=dist, params=params, value=value, note=note))


# Normal(loc, scale) ---------------------------------------------------------------------------
case("Normal", {"loc": [0.0], "scale": [1.0]}, [0.0], "standard normal at its mode")
case("Normal", {"loc": [1.5], "scale": [2.0]}, [-0.7], "typical value")
case("Normal", {"loc": [0.0], "scale": [1.0]}, [30.0], "extreme upper tail z = 30")
case("Normal", {"loc": [-3.0], "scale": [0.25]}, [-10.5], "extreme lower tail z = -30")
case("Normal", {"loc": [2.0], "scale": [1e-3]}, [2.0005], "small scale")
case("Normal", {"loc": [0.0], "scale": [1e3]}, [1234.5], "large scale")
# (support is the real line: no finite value is rejected)

# LogNormal(loc, scale) ------------------------------------------------------------------------
case("LogNormal", {"loc": [0.0], "scale": [1.0]}, [1.0], "at exp(loc): log y = 0")
case("LogNormal", {"loc": [0.3], "scale": [0.8]}, [2.5], "typical value")
case("LogNormal", {"loc": [0.0], "scale": [1.0]}, [1e-10], "near 0 (support is y > 0)")
case("LogNormal", {"loc": [1.0], "scale": [0.5]}, [1e10], "far upper tail")
case("LogNormal", {"loc": [-2.0], "scale": [3.0]}, [1e-300], "value near the smallest normal double")
bad("LogNormal", {"loc": [0.0], "scale": [1.0]}, [0.0], "support is positive (0 < y): 0 rejected")
bad("LogNormal", {"loc": [0.0], "scale": [1.0]}, [-1.0], "negative value")

# HalfNormal(scale) ----------------------------------------------------------------------------
case("HalfNormal", {"scale": [1.0]}, [0.0], "support edge 0 (included): log 2 - log(scale) - log(2 pi)/2")
case("HalfNormal", {"scale": [2.0]}, [1.3], "typical value")
case("HalfNormal", {"scale": [1.0]}, [30.0], "extreme tail z = 30")
case("HalfNormal", {"scale": [0.1]}, [0.05], "small scale")
bad("HalfNormal", {"scale": [1.0]}, [-0.5], "negative value (support nonnegative)")
bad("HalfNormal", {"scale": [1.0]}, [-1e-300], "tiny negative value")

# Cauchy(loc, scale) ---------------------------------------------------------------------------
case("Cauchy", {"loc": [0.0], "scale": [1.0]}, [0.0], "at the mode: -log(pi)")
case("Cauchy", {"loc": [0.5], "scale": [2.0]}, [1.5], "typical value")
case("Cauchy", {"loc": [0.0], "scale": [1.0]}, [1e10], "far tail (z^2 = 1e20 still finite in binary64)")
case("Cauchy", {"loc": [-1.0], "scale": [1e-3]}, [-1.002], "small scale")
case("Cauchy", {"loc": [3.0], "scale": [0.5]}, [-47.0], "lower tail z = -100")

# HalfCauchy(scale) ----------------------------------------------------------------------------
case("HalfCauchy", {"scale": [1.0]}, [0.0], "support edge 0 (included): log 2 - log pi")
case("HalfCauchy", {"scale": [1.5]}, [3.0], "typical value")
case("HalfCauchy", {"scale": [1.0]}, [1e8], "far tail")
case("HalfCauchy", {"scale": [0.01]}, [0.003], "small scale")
bad("HalfCauchy", {"scale": [1.0]}, [-2.0], "negative value (support nonnegative)")

# StudentT(df, loc, scale) ---------------------------------------------------------------------
case("StudentT", {"df": [3.0], "loc": [0.0], "scale": [1.0]}, [0.5], "typical value")
case("StudentT", {"df": [1.0], "loc": [0.0], "scale": [1.0]}, [2.0], "df = 1 equals Cauchy(0, 1)")
case("StudentT", {"df": [0.5], "loc": [1.0], "scale": [2.0]}, [-3.0], "df < 1")
case("StudentT", {"df": [4.0], "loc": [0.0], "scale": [1.0]}, [1e4], "far tail z = 1e4")
case("StudentT", {"df": [1e6], "loc": [0.0], "scale": [1.0]}, [1.2],
     "large df (near Normal); torch's binary64 formula cancels lgamma(df/2) - lgamma((df+1)/2): "
     "transcribed in binary64 it is off by 4e-10 relative here; the reference is exact")
case("StudentT", {"df": [1e10], "loc": [-0.5], "scale": [1.5]}, [0.7],
     "very large df; torch's formula transcribed in binary64 is off by 1e-5 relative here "
     "(cancellation of lgamma); the reference is exact")
# (support is the real line: no finite value is rejected)

# Laplace(loc, scale) --------------------------------------------------------------------------
case("Laplace", {"loc": [0.0], "scale": [1.0]}, [0.0], "at loc: -log 2")
case("Laplace", {"loc": [1.0], "scale": [2.0]}, [7.0], "typical value, z = 3")
case("Laplace", {"loc": [0.0], "scale": [1.0]}, [-700.0], "far tail z = -700")
case("Laplace", {"loc": [0.25], "scale": [1e-4]}, [0.2501], "small scale")

# Exponential(rate) ----------------------------------------------------------------------------
case("Exponential", {"rate": [2.0]}, [0.0], "support edge 0 (included): log rate")
case("Exponential", {"rate": [0.4]}, [2.5], "typical value")
case("Exponential", {"rate": [1e3]}, [1e-3], "large rate")
case("Exponential", {"rate": [1.0]}, [700.0], "far tail")
bad("Exponential", {"rate": [1.0]}, [-1.0], "negative value (support nonnegative)")
bad("Exponential", {"rate": [1.0]}, [-1e-300], "tiny negative value")

# Gamma(concentration, rate) -------------------------------------------------------------------
case("Gamma", {"concentration": [2.0], "rate": [3.0]}, [0.7], "typical value")
case("Gamma", {"concentration": [1.0], "rate": [2.5]}, [0.0],
     "torch semantics: value 0 with concentration 1 -> xlogy(0, 0) = 0, log p = log rate")
case("Gamma", {"concentration": [0.5], "rate": [1.0]}, [0.0],
     "torch semantics: concentration < 1 at 0 -> xlogy(-0.5, 0) = +inf")
case("Gamma", {"concentration": [3.0], "rate": [1.0]}, [0.0],
     "concentration > 1 at 0 -> xlogy(2, 0) = -inf")
case("Gamma", {"concentration": [0.1], "rate": [2.0]}, [1e-300], "small concentration near 0")
case("Gamma", {"concentration": [50.0], "rate": [0.5]}, [80.0], "large concentration")
bad("Gamma", {"concentration": [2.0], "rate": [1.0]}, [-0.5], "negative value (support nonnegative)")
bad("Gamma", {"concentration": [0.5], "rate": [1.0]}, [-1e-300], "tiny negative value")

# Beta(concentration1, concentration0) ---------------------------------------------------------
# (values chosen so that torch's binary64 `1.0 - value` is exact)
case("Beta", {"concentration1": [2.0], "concentration0": [3.0]}, [0.3125], "typical value")
case("Beta", {"concentration1": [0.5], "concentration0": [0.5]}, [0.0625], "U-shaped (arcsine)")
case("Beta", {"concentration1": [1.0], "concentration0": [3.0]}, [0.0],
     "torch semantics: value 0 with concentration1 = 1 -> xlogy(0, 0) = 0, log p = log 3")
case("Beta", {"concentration1": [2.0], "concentration0": [1.0]}, [1.0],
     "torch semantics: value 1 with concentration0 = 1 -> xlogy(0, 1 - 1) = 0, log p = log 2")
case("Beta", {"concentration1": [2.0], "concentration0": [3.0]}, [0.0],
     "value 0 with concentration1 > 1 -> -inf")
case("Beta", {"concentration1": [0.5], "concentration0": [2.0]}, [0.0],
     "torch semantics: value 0 with concentration1 < 1 -> xlogy(-0.5, 0) = +inf")
case("Beta", {"concentration1": [3.0], "concentration0": [0.5]}, [1.0],
     "torch semantics: value 1 with concentration0 < 1 -> +inf")
case("Beta", {"concentration1": [100.0], "concentration0": [200.0]}, [0.375], "large concentrations")
bad("Beta", {"concentration1": [2.0], "concentration0": [2.0]}, [-0.1], "below 0 (support [0, 1])")
bad("Beta", {"concentration1": [2.0], "concentration0": [2.0]}, [1.0000000000000002], "just above 1")

# Uniform(low, high) ---------------------------------------------------------------------------
case("Uniform", {"low": [0.0], "high": [5.0]}, [2.3], "interior: -log(high - low)")
case("Uniform", {"low": [0.0], "high": [5.0]}, [0.0], "value == low is included: -log(high - low)")
case("Uniform", {"low": [0.0], "high": [5.0]}, [5.0],
     "torch semantics: value == high -> -inf (log_prob indicator is low <= v < high), but "
     "validate_args does NOT reject it: Uniform.support is constraints.interval(low, high), closed")
case("Uniform", {"low": [-2.0], "high": [3.5]}, [0.0], "interval straddling 0")
case("Uniform", {"low": [1.0], "high": [1.0009765625]}, [1.0005], "narrow interval (width 2^-10)")
bad("Uniform", {"low": [0.0], "high": [5.0]}, [-0.1], "below low")
bad("Uniform", {"low": [0.0], "high": [5.0]}, [5.000000000000001], "just above high")

# MultivariateNormal(loc, scale_tril | covariance_matrix) --------------------------------------
L3 = [2.0, 0.0, 0.0,
      0.5, 1.5, 0.0,
      -0.3, 0.8, 0.7]
S3 = [4.0, 1.2, -0.6,
      1.2, 2.5, 0.3,
      -0.6, 0.3, 1.1]
case("MultivariateNormal", {"loc": [0.0, 0.0, 0.0], "scale_tril": [1, 0, 0, 0, 1, 0, 0, 0, 1]},
     [0.0, 0.0, 0.0], "standard, at the mean: -1.5 log(2 pi)")
case("MultivariateNormal", {"loc": [1.0, -2.0, 0.5], "scale_tril": L3}, [0.3, -1.1, 2.0],
     "scale_tril, typical value")
case("MultivariateNormal", {"loc": [1.0, -2.0, 0.5], "scale_tril": L3}, [40.0, -60.0, 25.0],
     "scale_tril, far from the mean")
case("MultivariateNormal", {"loc": [0.5], "scale_tril": [3.0]}, [-1.0], "D = 1 (scale_tril [[3]])")
case("MultivariateNormal", {"loc": [0.0, 1.0, -1.0], "covariance_matrix": S3}, [0.5, 0.5, 0.5],
     "covariance_matrix, typical value (torch takes its Cholesky factor)")
case("MultivariateNormal", {"loc": [0.0, 1.0, -1.0], "covariance_matrix": S3}, [0.0, 1.0, -1.0],
     "covariance_matrix, at the mean")
case("MultivariateNormal", {"loc": [0.0, 0.0, 0.0],
                            "covariance_matrix": [1.0, 0.99, 0.0, 0.99, 1.0, 0.0, 0.0, 0.0, 1e-2]},
     [0.1, -0.1, 0.05], "covariance_matrix, strongly correlated (condition number ~ 200)")
# (support is real_vector: no finite value is rejected)

# Bernoulli(probs | logits) --------------------------------------------------------------------
case("Bernoulli", {"probs": [0.3]}, [1.0], "typical, value 1")
case("Bernoulli", {"probs": [0.3]}, [0.0], "typical, value 0")
case("Bernoulli", {"probs": [0.0]}, [0.0],
     CLAMP + "probs 0 -> clamped to eps = 2^-52: log(1 - eps) = -2.22e-16 (exact density: 0)")
case("Bernoulli", {"probs": [0.0]}, [1.0],
     CLAMP + "probs 0 -> clamped to eps: log(eps) = -36.04 (exact density: -inf)")
case("Bernoulli", {"probs": [1.0]}, [1.0],
     CLAMP + "probs 1 -> clamped to 1 - eps: log(1 - eps) (exact density: 0)")
case("Bernoulli", {"probs": [1.0]}, [0.0],
     CLAMP + "probs 1 -> clamped to 1 - eps: log(eps) (exact density: -inf)")
case("Bernoulli", {"probs": [1e-20]}, [1.0],
     CLAMP + "probs 1e-20 < eps is clamped up to eps: log(eps) = -36.04 (exact: log(1e-20) = -46.05)")
case("Bernoulli", {"logits": [0.7]}, [1.0], "logits, value 1: -softplus(-0.7)")
case("Bernoulli", {"logits": [-3.0]}, [0.0], "logits, value 0: -softplus(-3)")
case("Bernoulli", {"logits": [800.0]}, [0.0], "huge logit, value 0: -800 (no clamp on logits)")
case("Bernoulli", {"logits": [40.0]}, [1.0], "large logit, value 1: -log1p(exp(-40)) = -4.2e-18")
bad("Bernoulli", {"probs": [0.3]}, [0.5], "non-integer value (support boolean {0, 1})")
bad("Bernoulli", {"probs": [0.3]}, [2.0], "value 2")
bad("Bernoulli", {"logits": [0.0]}, [-1.0], "value -1")

# Categorical(probs | logits) ------------------------------------------------------------------
case("Categorical", {"probs": [0.2, 0.3, 0.5]}, [0.0], "K = 3, class 0")
case("Categorical", {"probs": [1.0, 2.0, 1.0]}, [2.0],
     "unnormalised probs are normalised (to [0.25, 0.5, 0.25]) before use: log 0.25")
case("Categorical", {"probs": [0.5, 0.0, 0.5]}, [1.0],
     CLAMP + "zero probability: torch's logits are log(clamp_probs(p)) = log(eps) = -36.04 "
     "(exact: -inf); logits are not renormalised after the clamp")
case("Categorical", {"probs": [0.5, 0.0, 0.5]}, [0.0],
     "zero probability elsewhere does not change the other classes: log 0.5")
case("Categorical", {"probs": [0.0, 1.0, 0.0, 0.0]}, [1.0],
     CLAMP + "probability 1 is clamped to 1 - eps: log(1 - eps) = -2.22e-16 (exact: 0)")
case("Categorical", {"logits": [1.0, -0.5, 2.0]}, [2.0], "logits, K = 3")
case("Categorical", {"logits": [0.0, 0.0, 0.0, 0.0]}, [3.0], "uniform logits, K = 4: -log 4")
case("Categorical", {"logits": [1000.0, 0.0, -1000.0]}, [1.0], "extreme logits: -1000")
case("Categorical", {"logits": [0.0, -math.inf, 0.0]}, [1.0],
     "logit -inf (allowed by real_vector) -> -inf, no clamp on logits")
bad("Categorical", {"probs": [0.2, 0.3, 0.5]}, [3.0], "class index out of range (K = 3)")
bad("Categorical", {"probs": [0.2, 0.3, 0.5]}, [1.5], "non-integer class index")
bad("Categorical", {"logits": [0.0, 0.0, 0.0, 0.0]}, [-1.0], "negative class index")

# OneHotCategorical(probs | logits) ------------------------------------------------------------
case("OneHotCategorical", {"probs": [0.2, 0.3, 0.5]}, [0.0, 0.0, 1.0], "K = 3, class 2")
case("OneHotCategorical", {"logits": [1.0, -0.5, 2.0, 0.25]}, [1.0, 0.0, 0.0, 0.0], "logits, K = 4")
case("OneHotCategorical", {"logits": [1.0, -0.5, 2.0, 0.25]}, [0.0, 0.0, 0.0, 1.0], "logits, K = 4, last class")
case("OneHotCategorical", {"probs": [0.5, 0.0, 0.5]}, [0.0, 1.0, 0.0],
     CLAMP + "zero probability -> log(eps) = -36.04 (exact: -inf), as Categorical")
case("OneHotCategorical", {"probs": [0.25, 0.25, 0.125, 0.375]}, [0.0, 0.0, 1.0, 0.0], "probs, K = 4")
bad("OneHotCategorical", {"probs": [0.2, 0.3, 0.5]}, [0.5, 0.5, 0.0], "entries not in {0, 1}")
bad("OneHotCategorical", {"probs": [0.2, 0.3, 0.5]}, [1.0, 1.0, 0.0], "two hot entries (sum 2)")
bad("OneHotCategorical", {"logits": [0.0, 0.0, 0.0, 0.0]}, [0.0, 0.0, 0.0, 0.0], "all zeros (sum 0)")

# Binomial(total_count, probs | logits) --------------------------------------------------------
case("Binomial", {"total_count": [10.0], "probs": [0.3]}, [3.0], "typical value")
case("Binomial", {"total_count": [10.0], "probs": [0.3]}, [0.0], "k = 0: 10 log 0.7")
case("Binomial", {"total_count": [10.0], "probs": [0.3]}, [10.0], "k = n: 10 log 0.3")
case("Binomial", {"total_count": [10.0], "probs": [0.0]}, [0.0],
     CLAMP + "probs 0 -> eps: k = 0 gives 10 log(1 - eps) = -2.22e-15 (exact: 0)")
case("Binomial", {"total_count": [10.0], "probs": [0.0]}, [2.0],
     CLAMP + "probs 0 -> eps: k = 2 gives log C(10,2) + 2 log eps + 8 log(1 - eps) = -68.3 (exact: -inf)")
case("Binomial", {"total_count": [10.0], "probs": [1.0]}, [10.0],
     CLAMP + "probs 1 -> 1 - eps: k = n gives 10 log(1 - eps) (exact: 0)")
case("Binomial", {"total_count": [0.0], "probs": [0.4]}, [0.0], "total_count 0, k = 0: log p = 0")
case("Binomial", {"total_count": [20.0], "logits": [-1.2]}, [5.0], "logits, typical value")
case("Binomial", {"total_count": [20.0], "logits": [50.0]}, [20.0], "large logit, k = n: -20 log1p(exp(-50))")
case("Binomial", {"total_count": [1000.0], "logits": [0.1]}, [520.0], "large n",
     atol=2e-12)   # the binary64 SciPy check cancels lgamma(1001) ~ 5912
bad("Binomial", {"total_count": [10.0], "probs": [0.3]}, [11.0], "k > n")
bad("Binomial", {"total_count": [10.0], "probs": [0.3]}, [2.5], "non-integer k")
bad("Binomial", {"total_count": [10.0], "logits": [0.0]}, [-1.0], "negative k")

# Poisson(rate) --------------------------------------------------------------------------------
case("Poisson", {"rate": [3.5]}, [2.0], "typical value")
case("Poisson", {"rate": [2.0]}, [0.0], "k = 0: -rate")
case("Poisson", {"rate": [0.0]}, [0.0], "torch semantics: rate 0 (allowed, nonnegative), k = 0: xlogy(0, 0) = 0")
case("Poisson", {"rate": [0.0]}, [3.0], "rate 0, k = 3: -inf")
case("Poisson", {"rate": [1e-3]}, [0.0], "small rate, k = 0")
case("Poisson", {"rate": [1000.0]}, [1000.0], "large rate at the mode",
     atol=1e-11)   # the binary64 SciPy check cancels 1000 log 1000 - lgamma(1001) - 1000
case("Poisson", {"rate": [1e-300]}, [2.0], "tiny rate, k = 2")
bad("Poisson", {"rate": [2.0]}, [-1.0], "negative count")
bad("Poisson", {"rate": [2.0]}, [2.5], "non-integer count")

# Dirichlet(concentration) ---------------------------------------------------------------------
case("Dirichlet", {"concentration": [2.0, 3.0, 4.0]}, [0.2, 0.3, 0.5], "K = 3 interior")
case("Dirichlet", {"concentration": [0.5, 0.5, 0.5, 0.5]}, [0.1, 0.2, 0.3, 0.4], "K = 4 sparse prior")
case("Dirichlet", {"concentration": [1.0, 2.0, 3.0]}, [0.0, 0.5, 0.5],
     "torch semantics: boundary component 0 with concentration 1 -> xlogy(0, 0) = 0, finite")
case("Dirichlet", {"concentration": [2.0, 2.0, 2.0]}, [0.0, 0.5, 0.5],
     "boundary component 0 with concentration > 1 -> -inf")
case("Dirichlet", {"concentration": [0.5, 2.0, 2.0]}, [0.0, 0.5, 0.5],
     "torch semantics: boundary component 0 with concentration < 1 -> +inf")
case("Dirichlet", {"concentration": [1.0, 1.0, 1.0]}, [0.0, 0.0, 1.0],
     "flat Dirichlet at a vertex: log Gamma(3) = log 2 (xlogy(0, 0) = 0)")
case("Dirichlet", {"concentration": [30.0, 0.2, 5.0, 1.5]}, [0.7, 0.0625, 0.125, 0.1125],
     "K = 4 mixed concentrations")
bad("Dirichlet", {"concentration": [2.0, 3.0, 4.0]}, [0.2, 0.3, 0.6], "sums to 1.1 (simplex tol 1e-6)")
bad("Dirichlet", {"concentration": [2.0, 3.0, 4.0]}, [-0.1, 0.6, 0.5], "negative component, sums to 1")
bad("Dirichlet", {"concentration": [1.0, 1.0, 1.0, 1.0]}, [0.25, 0.25, 0.25, 0.2499], "sum off by 1e-4")

# Delta(v, log_density) (Pyro) -----------------------------------------------------------------
case("Delta", {"v": [1.5]}, [1.5], "value == v: log 1 = 0 (log_density defaults to 0)")
case("Delta", {"v": [1.5]}, [1.5000000000000002], "value one ulp from v: log 0 = -inf")
case("Delta", {"v": [-2.0], "log_density": [0.7]}, [-2.0], "value == v: log_density")
case("Delta", {"v": [-2.0], "log_density": [-3.0]}, [2.0], "value != v: -inf whatever log_density")
case("Delta", {"v": [0.0]}, [-0.0], "-0.0 == 0.0 in IEEE comparison: 0")
# (support is the real line: no finite value is rejected)

# RelaxedBernoulli(temperature, probs | logits) ------------------------------------------------
case("RelaxedBernoulli", {"temperature": [0.5], "logits": [0.3]}, [0.7], "typical value")
case("RelaxedBernoulli", {"temperature": [2.0], "probs": [0.25]}, [0.1], "probs, high temperature")
case("RelaxedBernoulli", {"temperature": [0.1], "logits": [-1.0]}, [0.999], "low temperature near 1")
case("RelaxedBernoulli", {"temperature": [1.0], "probs": [0.6]}, [0.5], "tau = 1 at 1/2")
case("RelaxedBernoulli", {"temperature": [0.5], "logits": [0.0]}, [0.0],
     CLAMP + "y = 0 is clamped to tiny = 2^-1022 (SigmoidTransform._inverse); "
     "exact density diverges (+inf) for tau < 1")
case("RelaxedBernoulli", {"temperature": [0.5], "logits": [0.2]}, [1.0],
     CLAMP + "y = 1 is clamped to 1 - eps (SigmoidTransform._inverse); exact density diverges for tau < 1")
case("RelaxedBernoulli", {"temperature": [0.5], "probs": [0.0]}, [0.3],
     CLAMP + "probs 0 -> clamp_probs -> eps, logit = log(eps/(1-eps)) (exact: alpha = 0, density 0, -inf)")
case("RelaxedBernoulli", {"temperature": [0.5], "probs": [1.0]}, [0.3],
     CLAMP + "probs 1 -> 1 - eps, logit = log((1-eps)/eps) (exact: -inf)")
bad("RelaxedBernoulli", {"temperature": [0.5], "logits": [0.0]}, [1.5], "above 1 (support unit_interval)")
bad("RelaxedBernoulli", {"temperature": [0.5], "probs": [0.3]}, [-0.2], "below 0")

# RelaxedOneHotCategorical(temperature, probs | logits) ----------------------------------------
case("RelaxedOneHotCategorical", {"temperature": [0.5], "probs": [0.2, 0.3, 0.5]}, [0.1, 0.6, 0.3],
     "K = 3, probs")
case("RelaxedOneHotCategorical", {"temperature": [1.0], "logits": [1.0, -0.5, 2.0, 0.25]},
     [0.25, 0.25, 0.25, 0.25], "K = 4, logits, at the barycentre")
case("RelaxedOneHotCategorical", {"temperature": [2.0], "logits": [0.0, 0.0, 0.0]}, [0.7, 0.2, 0.1],
     "uniform logits, high temperature (value sums to 1 - 1.1e-16 in binary64; torch's formula uses "
     "all K coordinates as given)")
case("RelaxedOneHotCategorical", {"temperature": [0.1], "probs": [0.25, 0.25, 0.5]},
     [0.998, 0.001, 0.001], "low temperature near a vertex")
case("RelaxedOneHotCategorical", {"temperature": [0.3], "logits": [3.0, -2.0, 0.5, 1.0]},
     [1e-5, 0.49999, 0.25, 0.25], "a tiny coordinate")
case("RelaxedOneHotCategorical", {"temperature": [0.5], "probs": [0.5, 0.0, 0.5]}, [0.3, 0.3, 0.4],
     CLAMP + "zero probability -> log(eps) via Categorical's probs_to_logits (exact: pi_k = 0, -inf)")
bad("RelaxedOneHotCategorical", {"temperature": [0.5], "probs": [0.2, 0.3, 0.5]}, [0.5, 0.6, 0.1],
    "sums to 1.2")
bad("RelaxedOneHotCategorical", {"temperature": [0.5], "logits": [0.0, 0.0, 0.0]}, [-0.1, 0.6, 0.5],
    "negative coordinate")
bad("RelaxedOneHotCategorical", {"temperature": [0.5], "logits": [0.0, 0.0, 0.0]}, [0.2, 0.2, 0.2],
    "sums to 0.6")

# --------------------------------------------------------------------------------------------
# Evaluation and checks
# --------------------------------------------------------------------------------------------

FAILURES = []


def agree(ref, got, atol):
    if mp.isinf(ref) or math.isinf(got):
        return mp.isinf(ref) and math.isinf(got) and (ref > 0) == (got > 0)
    if math.isnan(got):
        return False
    return abs(M(got) - ref) <= max(RTOL * abs(ref), M(atol))


for c in CASES:
    dist, p, v = c["dist"], c["params"], c["value"]
    if not support_ok(dist, p, v):
        FAILURES.append(f"{dist} {p} {v}: value fails torch's support check")
    ref = REF[dist](p, v)
    c["ref"] = ref
    got = float(CHECK[dist](p, v))
    if not agree(ref, got, c["atol"]):
        FAILURES.append(f"{dist} {p} {v}: mpmath {mp.nstr(ref, 20)} vs SciPy/binary64 {got!r}")
    if dist == "RelaxedOneHotCategorical":
        alt = mp_torch_relaxed_onehot(p, v)
        if abs(alt - ref) > mp.mpf(10) ** -40 * max(1, abs(ref)):
            FAILURES.append(f"{dist} {p} {v}: Maddison {ref} vs torch formula {alt}")
    if dist == "RelaxedBernoulli":
        alt = mp_torch_relaxed_bernoulli(p, v)
        if abs(alt - ref) > mp.mpf(10) ** -40 * max(1, abs(ref)):
            FAILURES.append(f"{dist} {p} {v}: Maddison {ref} vs torch formula {alt}")
    if mp.isnan(ref):
        FAILURES.append(f"{dist} {p} {v}: NaN")

for b in VIOLATIONS:
    if support_ok(b["dist"], b["params"], b["value"]):
        FAILURES.append(f"violation {b['dist']} {b['params']} {b['value']} passes the support check")

if FAILURES:
    sys.stderr.write("REFERENCE CHECKS FAILED:\n" + "\n".join(FAILURES) + "\n")
    sys.exit(1)

# --------------------------------------------------------------------------------------------
# Swift output
# --------------------------------------------------------------------------------------------


def sw_param(x):
    """A parameter / value literal: Python's repr (shortest exact round-trip)."""
    if math.isinf(x):
        return "Double.infinity" if x > 0 else "-Double.infinity"
    assert not math.isnan(x)
    r = repr(x)
    return r


def sw_ref(m):
    """The reference log-density: rounded once from 50 digits, printed with 17 digits."""
    if mp.isinf(m):
        return "Double.infinity" if m > 0 else "-Double.infinity"
    x = float(m)
    r = "%.17g" % x
    if not any(ch in r for ch in ".en"):
        r += ".0"
    assert float(r) == x
    return r


def sw_str(t):
    assert all(32 <= ord(ch) < 127 for ch in t), t
    return '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sw_params(p):
    return "[" + ", ".join(f"{sw_str(k)}: [" + ", ".join(sw_param(x) for x in vals) + "]"
                           for k, vals in p.items()) + "]"


def sw_list(v):
    return "[" + ", ".join(sw_param(x) for x in v) + "]"


out = []
w = out.append
w("// GENERATED FILE - do not edit by hand. Regenerate with:")
w("//     python3 Tests/DistributionsTests/Reference/make_logprob_reference.py > Tests/DistributionsTests/LogProbReference.swift")
w("//")
w("// Reference log-densities with torch.distributions' semantics (Pyro's for Delta), computed in")
w("// mpmath at 50 digits and rounded once to Double (printed with 17 significant digits; inputs")
w("// are printed as shortest round-trip literals, and are the exact binary64 inputs used).")
w("// Every value was cross-checked against SciPy in binary64 to 1e-13 relative (relaxed")
w("// densities: against torch's formula in binary64 and in mpmath).")
w("// Where torch deliberately departs from the exact density (probability clamps to")
w("// [eps, 1 - eps] with eps = 2^-52, the [tiny, 1 - eps] clamp of SigmoidTransform._inverse,")
w("// xlogy(0, 0) = 0 at support edges, Uniform's [low, high) indicator) the reference follows")
w("// torch and the case's note says so (\"torch clamp:\" / \"torch semantics:\").")
w("// Parameters use torch's names; matrices are row-major; Categorical values are class indices;")
w("// Delta's log_density is omitted where it takes its default 0.")
w("")
w("/// One reference log-density: distribution name (torch's), parameters by torch's names")
w("/// (matrices row-major), the value (flattened; event shape given by the distribution), and log p.")
w("struct LogProbCase: Sendable { let dist: String; let params: [String: [Double]]; let value: [Double]; let logProb: Double; let note: String }")
w("/// Values outside the support that torch (validate_args=True) rejects.")
w("struct SupportViolationCase: Sendable { let dist: String; let params: [String: [Double]]; let value: [Double]; let note: String }")
w("")
w("let logProbReference: [LogProbCase] = [")
for c in CASES:
    w(f"    LogProbCase(dist: {sw_str(c['dist'])}, params: {sw_params(c['params'])}, "
      f"value: {sw_list(c['value'])}, logProb: {sw_ref(c['ref'])},")
    w(f"                note: {sw_str(c['note'])}),")
w("]")
w("")
w("let supportViolationReference: [SupportViolationCase] = [")
for b in VIOLATIONS:
    w(f"    SupportViolationCase(dist: {sw_str(b['dist'])}, params: {sw_params(b['params'])}, "
      f"value: {sw_list(b['value'])},")
    w(f"                         note: {sw_str(b['note'])}),")
w("]")
sys.stdout.write("\n".join(out) + "\n")

counts = {}
for c in CASES:
    counts[c["dist"]] = counts.get(c["dist"], 0) + 1
vcounts = {}
for b in VIOLATIONS:
    vcounts[b["dist"]] = vcounts.get(b["dist"], 0) + 1
sys.stderr.write(f"{len(CASES)} log-prob cases, {len(VIOLATIONS)} support violations\n")
for d in counts:
    sys.stderr.write(f"  {d}: {counts[d]} cases, {vcounts.get(d, 0)} violations\n")
