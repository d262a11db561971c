"""What a new user has: the repository alone (no ../shared beside it). In a copy of its tracked
files, the README's Python walkthrough runs, and a model written from docs/job-spec.md alone —
a hierarchical Normal model over nested plates, as a Pyro user would write it — reaches its
exact posterior through the copy's own client.

The copy uses the service binary `make test` built (building the copy again would only repeat
that build); everything else — README, docs, examples, client — is the copy's.
"""
import json
import os
import re
import shutil
import subprocess
import sys

from conftest import ROOT, _start, _stop


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def test_a_copy_of_the_repository_alone_is_enough(tmp_path):
    copy = tmp_path / "sviserve"
    for path in tracked_files():
        if os.path.isfile(os.path.join(ROOT, path)):
            os.makedirs(os.path.dirname(copy / path), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, path), copy / path)
    assert not (tmp_path / "shared").exists()

    # The documents a user reads point inside the repository.
    for doc in ["README.md", "docs/job-spec.md", "examples/README.md", "openapi.yaml", "clients/python/README.md", "deploy/README.md"]:
        text = (copy / doc).read_text(encoding="utf-8")
        assert "shared/docs" not in text and "../shared/docs" not in text, doc
    assert "docs/job-spec.md" in (copy / "README.md").read_text(encoding="utf-8")

    binary = copy / ".build" / "release" / "sviserve"
    binary.parent.mkdir(parents=True)
    shutil.copy2(os.environ.get("SVISERVE_BINARY") or os.path.join(ROOT, ".build", "release", "sviserve"), binary)
    process, url = _start_in(str(binary))
    try:
        env = dict(os.environ, SVISERVE_URL=url, PYTHONPATH=str(copy / "clients" / "python" / "src"))
        env.pop("SVISERVE_API_KEY", None)
        readme = (copy / "README.md").read_text(encoding="utf-8")
        block = re.search(r"<!-- python-walkthrough -->\n```python\n(.*?)```", readme, re.S).group(1)
        walk = subprocess.run([sys.executable, "-c", block], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
        assert walk.returncode == 0, walk.stderr
        assert walk.stdout.splitlines()[-1] == "cancelled"

        # A model written from docs/job-spec.md alone: y[g, m] ~ Normal(mu[g], 1), mu[g] ~ Normal(0, 10),
        # three groups of twenty members, the inner plate subsampled ten at a time, a Normal guide
        # per group. Exact posterior of mu[g]: precision 20 + 1/100, mean sum(y[g]) / (20 + 1/100).
        y = [[round(0.1 * ((7 * g + 3 * m) % 11) - 0.5 + 2 * g, 3) for m in range(20)] for g in range(3)]
        spec = {
            "name": "hierarchical-from-the-docs",
            "data": {"y": {"value": y, "plates": ["groups", "members"]}},
            "plates": {"groups": {"size": 3}, "members": {"size": 20, "subsample": 10}},
            "model": [
                {"sample": "mu", "dist": "Normal", "args": {"loc": 0, "scale": 10}, "plates": ["groups"]},
                {"sample": "y_obs", "dist": "Normal", "args": {"loc": "mu", "scale": 1}, "plates": ["groups", "members"], "obs": "y"},
            ],
            "guide": [
                {"param": "mu_loc", "init": "zeros(3)", "plates": ["groups"]},
                {"param": "mu_scale", "init": "ones(3)", "constraint": "positive", "plates": ["groups"]},
                {"sample": "mu", "dist": "Normal", "args": {"loc": "mu_loc", "scale": "mu_scale"}, "plates": ["groups"]},
            ],
            "inference": {"steps": 8000, "particles": 4, "seed": 1,
                          "optimizer": {"name": "clipped_adam", "lr": 0.05, "lr_decay": 0.9995}},
        }
        script = (
            "import json, sys, sviserve\n"
            "r = sviserve.Client().run(json.loads(sys.argv[1]), progress=False)\n"
            "print(json.dumps({'loc': r.params['mu_loc'], 'scale': r.params['mu_scale'], 'mean': r.posterior['mu']['mean']}))\n"
        )
        fit = subprocess.run([sys.executable, "-c", script, json.dumps(spec)], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        assert fit.returncode == 0, fit.stderr
        answer = json.loads(fit.stdout)
        precision = 20 + 1 / 100
        for g in range(3):
            exact_mean, exact_sd = sum(y[g]) / precision, precision ** -0.5
            assert abs(answer["loc"][g] - exact_mean) < 0.05, (g, answer["loc"][g], exact_mean)
            assert abs(answer["scale"][g] / exact_sd - 1) < 0.15, (g, answer["scale"][g], exact_sd)
            # The service's summary from ~1,000 guide draws: within 4 standard errors of the fit.
            assert abs(answer["mean"][g] - answer["loc"][g]) < 4 * answer["scale"][g] / 1000 ** 0.5
    finally:
        _stop(process)


def _start_in(binary):
    saved = os.environ.get("SVISERVE_BINARY")
    os.environ["SVISERVE_BINARY"] = binary
    try:
        return _start()
    finally:
        if saved is None:
            os.environ.pop("SVISERVE_BINARY")
        else:
            os.environ["SVISERVE_BINARY"] = saved
