#!/usr/bin/env python3
"""Reference values for Tests/NumericsTests/GaussianTransportReferenceTests.swift.

Run by hand (CI reads the committed JSON and never needs SciPy):

    python3 Tests/NumericsTests/Reference/make_transport_reference.py \
        > Tests/NumericsTests/Reference/transport_reference.json

Each case is a pair of normals q = N(mean_q, cov_q), p = N(mean_p, cov_p) drawn from a fixed
NumPy seed, written with repr so the JSON numbers are the exact doubles used. For every case:

- "scipy": W2^2, its mean and covariance parts, and the map's linear part
  A = cov_q^{-1/2} (cov_q^{1/2} cov_p cov_q^{1/2})^{1/2} cov_q^{-1/2}, computed with
  scipy.linalg.sqrtm (Schur method) and scipy.linalg.inv: an independent route to the
  Swift code's Cholesky-and-eigendecomposition form.
- "exact": the same quantities with mpmath at 60 significant digits (eigendecompositions
  by mpmath.eigsy), rounded once to binary64: the oracle for the ill-conditioned cases, where
  SciPy's float64 route itself loses digits.

Kinds: well-conditioned random covariances (B B^T + ridge I), commuting pairs (shared
eigenvectors), diagonal pairs, and ill-conditioned covariances whose eigenvalues span
10^-k .. 1 (k in 4, 6, 8) around random orthogonal bases.
"""
import json
import sys

import mpmath as mp
import numpy as np
import scipy
import scipy.linalg as la

mp.mp.dps = 60


def spd(rng, d, ridge):
    b = rng.uniform(-1, 1, size=(d, d))
    s = b @ b.T + ridge * np.eye(d)
    return (s + s.T) / 2


def orthogonal(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def ill(rng, d, decades):
    v = orthogonal(rng, d)
    lam = np.logspace(-decades, 0, d)
    s = v @ np.diag(lam) @ v.T
    return (s + s.T) / 2


def scipy_route(mq, cq, mp_, cp):
    rq = np.real(la.sqrtm(cq))
    middle = rq @ cp @ rq
    rm = np.real(la.sqrtm((middle + middle.T) / 2))
    irq = la.inv(rq)
    a = irq @ rm @ irq
    a = (a + a.T) / 2
    mean2 = float(np.sum((mq - mp_) ** 2))
    cov2 = float(np.trace(cq) + np.trace(cp) - 2 * np.trace(rm))
    return {"w2_squared": mean2 + cov2, "mean_squared": mean2, "covariance_squared": cov2,
            "a": a.tolist()}


def msqrt(m):
    """Symmetric square root of a symmetric positive semi-definite mpmath matrix."""
    e, q = mp.eigsy(m)
    n = m.rows
    root = mp.matrix(n, n)
    for i in range(n):
        for j in range(n):
            root[i, j] = mp.fsum(q[i, k] * mp.sqrt(max(e[k], 0)) * q[j, k] for k in range(n))
    return root


def exact_route(mq, cq, mp_, cp):
    cq_m, cp_m = mp.matrix(cq.tolist()), mp.matrix(cp.tolist())
    rq = msqrt(cq_m)
    rm = msqrt(rq * cp_m * rq)
    irq = rq ** -1
    a = irq * rm * irq
    n = cq_m.rows
    mean2 = mp.fsum((mp.mpf(x) - mp.mpf(y)) ** 2 for x, y in zip(mq, mp_))
    cov2 = mp.fsum(cq_m[i, i] + cp_m[i, i] - 2 * rm[i, i] for i in range(n))
    return {"w2_squared": float(mean2 + cov2), "mean_squared": float(mean2),
            "covariance_squared": float(cov2),
            "a": [[float((a[i, j] + a[j, i]) / 2) for j in range(n)] for i in range(n)]}


def case(name, kind, mq, cq, mp_, cp):
    return {"name": name, "kind": kind,
            "mean_q": mq.tolist(), "cov_q": cq.tolist(), "mean_p": mp_.tolist(), "cov_p": cp.tolist(),
            "scipy": scipy_route(mq, cq, mp_, cp), "exact": exact_route(mq, cq, mp_, cp)}


def main():
    rng = np.random.default_rng(20260522)
    cases = []
    for d in (1, 2, 3, 5, 8):
        for r in range(2):
            mq, mp_ = rng.uniform(-1, 1, d), 3 * rng.uniform(-1, 1, d)
            cases.append(case(f"random-d{d}-{r}", "random", mq, spd(rng, d, 0.5), mp_, spd(rng, d, 0.2)))
    for d in (2, 4):
        v = orthogonal(rng, d)
        lq, lp = rng.uniform(0.2, 3, d), rng.uniform(0.2, 3, d)
        cq, cp = v @ np.diag(lq) @ v.T, v @ np.diag(lp) @ v.T
        cases.append(case(f"commuting-d{d}", "commuting", rng.uniform(-1, 1, d), (cq + cq.T) / 2,
                          rng.uniform(-1, 1, d), (cp + cp.T) / 2))
    d = 4
    cases.append(case("diagonal-d4", "diagonal", rng.uniform(-1, 1, d), np.diag(rng.uniform(0.1, 2, d)),
                      rng.uniform(-1, 1, d), np.diag(rng.uniform(0.1, 2, d))))
    for decades in (4, 6, 8):
        d = 5
        cases.append(case(f"ill-conditioned-1e{decades}", "ill-conditioned", rng.uniform(-1, 1, d),
                          ill(rng, d, decades), rng.uniform(-1, 1, d), ill(rng, d, decades)))
    json.dump({"generator": "make_transport_reference.py", "numpy": np.__version__,
               "scipy": scipy.__version__, "mpmath": mp.__version__, "cases": cases},
              sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
