#!/usr/bin/env python3
"""Loads a finished job's /result.nc groups into ArviZ and compares az.summary with the
service's own posterior summaries (docs/outputs.md). Run by hand against a running service:

    python3 -m venv /tmp/arviz-venv && /tmp/arviz-venv/bin/pip install arviz xarray scipy
    /tmp/arviz-venv/bin/python docs/arviz_check.py http://127.0.0.1:8080 [API_KEY]

It submits examples/normal_normal_reparam.json with a `let` value added, waits for it, fetches
the three groups (posterior, posterior_predictive, observed_data) as NetCDF classic files,
opens each with xarray (SciPy's reader), builds an InferenceData, prints az.summary, and checks
each latent element's and let value's mean and sd against /result within 4 standard errors
of the draws.
Output recorded in docs/arviz_check.txt.
"""
import json
import sys
import tempfile
import time
import urllib.request

import arviz as az
import xarray as xr

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
KEY = sys.argv[2] if len(sys.argv) > 2 else None


def call(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method, data=body)
    if KEY:
        req.add_header("Authorization", f"Bearer {KEY}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return r.read()


def main():
    spec = json.load(open("examples/normal_normal_reparam.json"))
    spec.pop("expected", None)
    spec["model"].insert(1, {"let": "loc_sum", "value": "sum(loc_latent)"})
    spec["tags"] = ["arviz-check"]
    job = json.loads(call("POST", "/v1/jobs", json.dumps(spec).encode()))
    while json.loads(call("GET", f"/v1/jobs/{job['id']}"))["status"] in ("queued", "running"):
        time.sleep(0.2)
    result = json.loads(call("GET", f"/v1/jobs/{job['id']}/result"))
    groups = {}
    for group in ("posterior", "posterior_predictive", "observed_data"):
        data = call("GET", f"/v1/jobs/{job['id']}/result.nc?group={group}&n=4000&seed=1")
        path = tempfile.mktemp(suffix=".nc")
        open(path, "wb").write(data)
        groups[group] = xr.open_dataset(path, engine="scipy").load()
        print(f"{group}: {dict(groups[group].sizes)} variables {list(groups[group].data_vars)}")
    idata = az.InferenceData(**groups)
    print(idata)
    summary = az.summary(idata, kind="stats", stat_focus="mean", round_to="none")
    print(summary.to_string())
    failures = 0
    for site in result["posterior"] + result.get("derived", []):
        for j, (mean, sd) in enumerate(zip(site["mean"], site["sd"])):
            row = summary.loc[f"{site['site']}[{j}]"] if len(site["mean"]) > 1 else summary.loc[site["site"]]
            se = sd / (4000 ** 0.5) + sd / (site["draws"] ** 0.5)
            ok = abs(row["mean"] - mean) <= 4 * se and abs(row["sd"] / sd - 1) <= 4 * (2 / 4000) ** 0.5 + 4 * (2 / site["draws"]) ** 0.5
            failures += not ok
            print(f"{site['site']}[{j}]: arviz mean {row['mean']:.5f} sd {row['sd']:.5f}; service mean {mean:.5f} sd {sd:.5f}: {'ok' if ok else 'MISMATCH'}")
    print("arviz check:", "passed" if failures == 0 else f"{failures} mismatches")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
