"""Python client for sviserve, the stochastic variational inference job service.

Submit a job spec (docs/job-spec.md), wait for it with a progress bar, stream its events,
fetch its result as Python values or as an ArviZ InferenceData, cancel it, list jobs.
Standard library only; ``Result.to_arviz()`` needs ``arviz`` and ``numpy``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Union

__all__ = [
    "Client", "Job", "Result", "Event", "APIError", "SpecError", "AuthError", "NotFound", "Conflict", "JobFailed",
]
__version__ = "0.1.0"

TERMINAL = {"succeeded", "failed", "cancelled"}


class APIError(Exception):
    """The service refused a request: its status and RFC 9457 problem document."""

    def __init__(self, status: int, problem: Dict[str, Any]):
        self.status = status
        self.problem = problem
        self.detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        super().__init__(f"{status}: {self.detail}")


class SpecError(APIError):
    """The spec is invalid (400 or 422); ``problems`` lists each with its JSON pointer."""

    @property
    def problems(self) -> List[Dict[str, str]]:
        return list(self.problem.get("errors") or [])

    def __str__(self) -> str:
        lines = [f"{p.get('pointer') or '/'}: {p.get('message')}" for p in self.problems]
        return self.detail + ("\n  " + "\n  ".join(lines) if lines else "")


class AuthError(APIError):
    """401: the service has API keys and the request had none, or an unknown one."""


class NotFound(APIError):
    """404: no such job (another key's job is not found either)."""


class Conflict(APIError):
    """409: the job is not in a state that allows this (a result before it has succeeded...)."""


class JobFailed(Exception):
    """``wait(..., raise_on_failure=True)`` for a job that failed or was cancelled."""

    def __init__(self, job: "Job"):
        self.job = job
        super().__init__(f"job {job.id} {job.status}" + (f": {job.error}" if job.error else ""))


@dataclass
class Job:
    """The job resource: id, name, status, progress, times, error."""

    id: str
    name: str
    status: str
    progress: Dict[str, Any]
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    error: Optional[str] = None
    spec_digest: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Job":
        return cls(id=d["id"], name=d.get("name", ""), status=d["status"], progress=d.get("progress", {}),
                   created_at=d.get("created_at"), started_at=d.get("started_at"), finished_at=d.get("finished_at"),
                   error=d.get("error"), spec_digest=d.get("spec_digest"), raw=d)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass
class Event:
    """One event of a job's stream: ``kind`` is status, progress, params, result or error."""

    id: int
    kind: str
    data: Dict[str, Any]


def _number(x: Any) -> float:
    """A number of a result; the service writes non-finite ones as strings."""
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(x, math.nan)
    return float(x)


def _nest(values: List[float], shape: List[int]) -> Any:
    """Row-major values as nested lists of ``shape`` (a scalar for shape [])."""
    if not shape:
        return values[0] if values else math.nan
    if len(shape) == 1:
        return list(values)
    step = len(values) // shape[0] if shape[0] else 0
    return [_nest(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


class Result:
    """A finished job's result.

    ``params``: name → constrained value (nested lists, a float for a scalar).
    ``posterior``: site → the service's summary (``mean``, ``sd``, ``q5``, ``q50``, ``q95`` as
    nested lists of the site's shape, ``estimator``, ``draws``, ...).
    ``elbo_trace``: [(step, elbo)], ``final_elbo``, ``steps``, ``seconds``, ``steps_per_second``;
    ``raw``: the JSON document as the service sent it.
    """

    def __init__(self, raw: Dict[str, Any], client: Optional["Client"] = None, job_id: Optional[str] = None):
        self.raw = raw
        self._client = client
        self.job_id = job_id
        self.final_elbo = _number(raw["final_elbo"])
        self.steps = raw["steps"]
        self.seconds = _number(raw["seconds"])
        self.steps_per_second = _number(raw["steps_per_second"])
        self.elbo_trace = [(p["step"], _number(p["elbo"])) for p in raw.get("elbo_trace", [])]
        self.params = {p["name"]: _nest([_number(v) for v in p["values"]], p["shape"]) for p in raw.get("params", [])}
        self.posterior: Dict[str, Dict[str, Any]] = {}
        for s in raw.get("posterior", []):
            summary = dict(s)
            for key in ("mean", "sd", "q5", "q50", "q95"):
                if key in s:
                    summary[key] = _nest([_number(v) for v in s[key]], s["shape"])
            self.posterior[s["site"]] = summary

    def __repr__(self) -> str:
        return f"Result(final_elbo={self.final_elbo:.6g}, params={sorted(self.params)}, sites={sorted(self.posterior)})"

    def draws(self, n: int = 1000, seed: Optional[int] = None) -> Dict[str, Any]:
        """Posterior draws from the service (``GET /v1/jobs/{id}/draws``): its JSON document."""
        if self._client is None or self.job_id is None:
            raise ValueError("this result has no job to draw from")
        return self._client.draws(self.job_id, n=n, seed=seed)

    def to_arviz(self, n: int = 1000, seed: Optional[int] = None):
        """The job's posterior as an ArviZ ``InferenceData``: ``n`` draws (one chain) of every
        latent site and derived value in the ``posterior`` group, and the posterior predictive
        draws of observed sites in ``posterior_predictive``, as the service draws them."""
        import arviz as az
        import numpy as np

        doc = self.draws(n=n, seed=seed)
        groups: Dict[str, Dict[str, Any]] = {"posterior": {}, "posterior_predictive": {}}
        for v in doc["variables"]:
            values = np.array([_number(x) for x in v["values"]], dtype=float)
            array = values.reshape([1, doc["n"]] + list(v["shape"]))
            group = "posterior_predictive" if v.get("kind") == "predictive" else "posterior"
            groups[group][v["name"]] = array
        return az.from_dict(posterior=groups["posterior"], posterior_predictive=groups["posterior_predictive"] or None)


class _ProgressBar:
    """Progress on stderr: a bar redrawn in place with the rate and the time left on a terminal,
    else one line per update at most every 2 seconds."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        self.drawn = False

    def update(self, p: Dict[str, Any]) -> None:
        step, steps = p.get("step", 0), p.get("steps", 0)
        rate = p.get("steps_per_second") or 0
        eta = (steps - step) / rate if rate else math.inf
        fraction = step / steps if steps else 1.0
        elbo = p.get("elbo")
        text = (f"{100 * fraction:3.0f}% {step}/{steps}  ELBO {elbo:.6g}  " if isinstance(elbo, (int, float)) else f"{100 * fraction:3.0f}% {step}/{steps}  ") \
            + (f"{rate:,.0f} steps/s  " if rate else "") + f"ETA {_duration(eta)}"
        if self.tty:
            width = 30
            filled = int(width * fraction)
            self.stream.write("\r" + "█" * filled + "░" * (width - filled) + " " + text + "\x1b[K")
            self.drawn = True
        elif time.monotonic() - self.last >= 2 or step >= steps:
            self.stream.write(text + "\n")
            self.last = time.monotonic()
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = int(math.ceil(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Client:
    """The job API of one service.

    ``url`` defaults to ``$SVISERVE_URL`` or http://127.0.0.1:8080; ``key`` (a bearer API key)
    to ``$SVISERVE_API_KEY``. ``timeout`` bounds each request (the event stream's reads too).
    """

    def __init__(self, url: Optional[str] = None, key: Optional[str] = None, timeout: float = 60):
        self.url = (url or os.environ.get("SVISERVE_URL") or "http://127.0.0.1:8080").rstrip("/")
        self.key = key if key is not None else os.environ.get("SVISERVE_API_KEY") or None
        self.timeout = timeout

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None,
                 accept: str = "application/json", stream: bool = False):
        h = {"Accept": accept, "User-Agent": f"sviserve-python/{__version__}"}
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                problem = json.loads(raw.decode("utf-8"))
            except ValueError:
                problem = {"detail": raw.decode("utf-8", "replace")[:300]}
            cls = {400: SpecError, 401: AuthError, 404: NotFound,
                   409: Conflict, 422: SpecError}.get(e.code, APIError)
            raise cls(e.code, problem) from None
        if stream:
            return response
        with response:
            data = response.read()
            if response.headers.get_content_type() in ("application/json", "application/schema+json", "application/problem+json"):
                return json.loads(data.decode("utf-8")) if data else None
            return data

    @staticmethod
    def _spec_bytes(spec: Union[str, os.PathLike, Dict[str, Any], bytes]) -> bytes:
        if isinstance(spec, bytes):
            return spec
        if isinstance(spec, dict):
            return json.dumps(spec).encode("utf-8")
        text = os.fspath(spec)
        if text.lstrip().startswith("{"):
            return text.encode("utf-8")
        with open(text, "rb") as f:
            return f.read()

    # -- jobs -------------------------------------------------------------------------------

    def submit(self, spec: Union[str, os.PathLike, Dict[str, Any], bytes], idempotency_key: Optional[str] = None) -> Job:
        """Submits a spec (a path, a dict, JSON text or bytes); returns the queued job."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return Job.from_json(self._request("POST", "/v1/jobs", self._spec_bytes(spec), headers))

    def validate(self, spec: Union[str, os.PathLike, Dict[str, Any], bytes]) -> Dict[str, Any]:
        """Compiles a spec without running it: its sites, param count and warnings (or SpecError)."""
        return self._request("POST", "/v1/validate", self._spec_bytes(spec))

    def job(self, job_id: str) -> Job:
        """The job resource now."""
        return Job.from_json(self._request("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}"))

    get = job

    def list(self, status: Optional[str] = None, page_size: int = 50, limit: Optional[int] = None) -> List[Job]:
        """The caller's jobs, newest first (every page, or the first ``limit``)."""
        jobs: List[Job] = []
        token = ""
        while True:
            query = {"page_size": str(page_size)}
            if status:
                query["status"] = status
            if token:
                query["page_token"] = token
            page = self._request("GET", "/v1/jobs?" + urllib.parse.urlencode(query))
            jobs += [Job.from_json(j) for j in page["jobs"]]
            token = page.get("next_page_token") or ""
            if not token or (limit is not None and len(jobs) >= limit):
                return jobs[:limit] if limit is not None else jobs

    def cancel(self, job_id: str) -> Job:
        """Asks a queued or running job to stop; returns the job as it is now."""
        return Job.from_json(self._request("POST", f"/v1/jobs/{urllib.parse.quote(job_id)}/cancel"))

    def delete(self, job_id: str) -> None:
        """Forgets a finished job and its result."""
        self._request("DELETE", f"/v1/jobs/{urllib.parse.quote(job_id)}")

    def events(self, job_id: str, after: int = 0) -> Iterator[Event]:
        """The job's events (NDJSON) as they happen, after event id ``after``, until the terminal one."""
        response = self._request("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}/events?after={int(after)}",
                                 accept="application/x-ndjson", stream=True)
        with response:
            for line in response:
                line = line.strip()
                if not line:
                    continue
                e = json.loads(line.decode("utf-8"))
                yield Event(id=int(e.get("id", 0)), kind=e["event"], data=e.get("data") or {})

    def wait(self, job_id: str, progress: bool = True, raise_on_failure: bool = False, stream=None) -> Job:
        """Follows the job's events to its end, drawing a progress bar (``progress=False``: none),
        and returns the finished job; reconnects after the last event seen if the stream breaks."""
        bar = _ProgressBar(stream) if progress else None
        last = 0
        try:
            while True:
                try:
                    for e in self.events(job_id, after=last):
                        last = e.id
                        if bar and e.kind == "progress":
                            bar.update(e.data)
                except (OSError, urllib.error.URLError):
                    time.sleep(0.5)
                job = self.job(job_id)
                if job.done:
                    break
        finally:
            if bar:
                bar.close()
        if raise_on_failure and job.status != "succeeded":
            raise JobFailed(job)
        return job

    def result(self, job_id: str) -> Result:
        """A succeeded job's result (Conflict before it has succeeded)."""
        return Result(self._request("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}/result"), self, job_id)

    def run(self, spec: Union[str, os.PathLike, Dict[str, Any], bytes], progress: bool = True) -> Result:
        """Submits, waits with a progress bar, returns the result (JobFailed if it does not succeed)."""
        job = self.submit(spec)
        self.wait(job.id, progress=progress, raise_on_failure=True)
        return self.result(job.id)

    # -- outputs and discovery ----------------------------------------------------------------

    def draws(self, job_id: str, n: int = 1000, seed: Optional[int] = None) -> Dict[str, Any]:
        """Posterior draws of a succeeded job (``GET /v1/jobs/{id}/draws``)."""
        query = {"n": str(n)}
        if seed is not None:
            query["seed"] = str(seed)
        return self._request("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}/draws?" + urllib.parse.urlencode(query))

    def spec(self, job_id: str) -> Dict[str, Any]:
        """The spec a job was submitted with (``GET /v1/jobs/{id}/spec``)."""
        return self._request("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}/spec")

    def capabilities(self) -> Dict[str, Any]:
        """Distributions, estimators, ELBOs, optimisers, functions and autoguides the service offers."""
        return self._request("GET", "/v1/capabilities")

    def schema(self) -> Dict[str, Any]:
        """The job spec's JSON Schema."""
        return self._request("GET", "/v1/schema")
