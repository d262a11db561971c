"""The Python client against a live service: the README's walkthrough verbatim, each call,
errors as exceptions, API keys, the progress bar, and ArviZ on a result's draws."""
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

import sviserve
from conftest import KEY, ROOT


def test_the_readme_walkthrough_in_python_runs_verbatim(server):
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    block = re.search(r"<!-- python-walkthrough -->\n```python\n(.*?)```\n<!-- /python-walkthrough -->", readme, re.S).group(1)
    env = dict(os.environ, SVISERVE_URL=server, PYTHONPATH=os.path.join(ROOT, "clients", "python", "src"))
    env.pop("SVISERVE_API_KEY", None)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "result" in out.stdout and "succeeded" in lines
    assert lines[-1] == "cancelled"


def test_submit_wait_result_as_dicts(server, examples):
    client = sviserve.Client(server)
    job = client.submit(os.path.join(examples, "normal_normal_reparam.json"))
    assert job.status in ("queued", "running") and job.id
    finished = client.wait(job.id, progress=False)
    assert finished.status == "succeeded" and finished.done
    result = client.result(job.id)
    assert set(result.params) == {"loc_q", "scale_q"}
    assert len(result.params["loc_q"]) == 2
    summary = result.posterior["loc_latent"]
    assert summary["estimator"] == "reparam" and len(summary["mean"]) == 2
    # The exact posterior of the example (examples/README.md): loc (0.0498, 0.4752).
    assert abs(result.params["loc_q"][0] - 0.0498) < 0.03 and abs(result.params["loc_q"][1] - 0.4752) < 0.03
    assert len(result.elbo_trace) == 1000 and result.steps == 5000 and math.isfinite(result.final_elbo)
    assert abs(result.final_elbo - (-6.6037)) < 0.05


def test_events_stream_in_order_to_the_terminal_event(server, examples):
    client = sviserve.Client(server)
    job = client.submit(os.path.join(examples, "normal_normal_reparam.json"))
    events = list(client.events(job.id))
    kinds = [e.kind for e in events]
    assert kinds[-1] == "result" and "progress" in kinds and "params" in kinds
    assert [e.id for e in events] == sorted(e.id for e in events)
    params = next(e for e in events if e.kind == "params").data
    assert params["sites"][0]["site"] == "loc_latent" and params["sites"][0]["estimator"] == "reparam"
    # Resuming after an event gives only the later ones.
    later = list(client.events(job.id, after=events[-2].id))
    assert [e.id for e in later] == [events[-1].id]


def test_wait_draws_a_progress_bar_with_eta(server, examples):
    client = sviserve.Client(server)
    spec = json.load(open(os.path.join(examples, "normal_normal_reparam.json")))
    spec["inference"]["steps"] = 200000
    job = client.submit(spec)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    client.wait(job.id, stream=screen)
    text = screen.getvalue()
    assert "\r" in text and "█" in text and "ETA" in text and "steps/s" in text
    assert text.endswith("\n")


def test_list_filters_by_status_and_pages(server, examples):
    client = sviserve.Client(server)
    ids = [client.submit(os.path.join(examples, "normal_normal_reparam.json")).id for _ in range(3)]
    for i in ids:
        client.wait(i, progress=False)
    succeeded = client.list(status="succeeded", page_size=2)
    assert set(ids) <= {j.id for j in succeeded}
    assert all(j.status == "succeeded" for j in succeeded)
    assert all(j.status == "failed" for j in client.list(status="failed", page_size=2))
    with pytest.raises(sviserve.APIError) as bad:
        client._request("GET", "/v1/jobs?status=AAA")
    assert bad.value.status == 400 and bad.value.problem["errors"][0]["pointer"] == "/query/status"


def test_cancel_stops_a_running_job(server, examples):
    client = sviserve.Client(server)
    spec = json.load(open(os.path.join(examples, "logreg.json")))
    spec["inference"]["steps"] = 5_000_000
    job = client.submit(spec)
    for event in client.events(job.id):
        if event.kind == "progress":
            break
    client.cancel(job.id)
    finished = client.wait(job.id, progress=False)
    assert finished.status == "cancelled"
    with pytest.raises(sviserve.JobFailed):
        client.wait(job.id, progress=False, raise_on_failure=True)
    with pytest.raises(sviserve.Conflict):
        client.result(job.id)
    client.delete(job.id)
    with pytest.raises(sviserve.NotFound):
        client.job(job.id)


def test_an_invalid_spec_raises_with_every_problem(server):
    client = sviserve.Client(server)
    spec = {"model": [{"sample": "x", "dist": "Normal", "args": {"loc": "m", "scale": 1}}], "guide": [], "inference": {"steps": -1}}
    with pytest.raises(sviserve.SpecError) as e:
        client.submit(spec)
    assert e.value.status == 422
    assert any(p["pointer"] == "/inference/steps" for p in e.value.problems)
    with pytest.raises(sviserve.SpecError):
        client.validate("{not json")
    report = client.validate(os.path.join(ROOT, "examples", "logreg.json"))
    assert report["valid"] is True and report["sites"][0]["name"] == "w"


def test_discovery(server):
    client = sviserve.Client(server)
    assert "Normal" in client.capabilities()["distributions"]
    assert client.schema()["$defs"]["JobSpec"]["required"] == ["model", "guide"]


def test_api_keys(keyed_server, examples):
    with pytest.raises(sviserve.AuthError):
        sviserve.Client(keyed_server, key="wrong").list()
    with pytest.raises(sviserve.AuthError):
        sviserve.Client(keyed_server, key="").list()
    client = sviserve.Client(keyed_server, key=KEY)
    job = client.submit(os.path.join(examples, "normal_normal_reparam.json"))
    assert client.wait(job.id, progress=False).status == "succeeded"
    assert job.id in {j.id for j in client.list()}


def test_the_package_builds_and_installs_with_pip(tmp_path):
    # A copy, so the build's by-products stay out of the repository.
    source = tmp_path / "source"
    shutil.copytree(os.path.join(ROOT, "clients", "python"), source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    wheels = tmp_path / "wheels"
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    wheel = next(wheels.glob("sviserve-0.1.0-*.whl"))
    target = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    probe = subprocess.run([sys.executable, "-c", "import sviserve, sys; print(sviserve.__version__, sviserve.__file__)"],
                           env=dict(os.environ, PYTHONPATH=str(target)), capture_output=True, text=True, cwd=str(tmp_path))
    assert probe.stdout.startswith("0.1.0 " + str(target)), probe.stdout + probe.stderr
