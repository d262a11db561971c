"""openapi.yaml against the running service: schemathesis with every check, once without API
keys and once with them, each against a fresh `sviserve serve` on a free loopback port.

Usage: api_conformance.py SVISERVE OPENAPI [--examples N] [--seed S] [--record FILE]
Exits non-zero on any failure or error. With --record, writes the figures (cases generated,
failures, seconds) as a Markdown page.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "conformance-key-0123456789abcdef"


def start(binary, data_dir, keys_file=None):
    """A service on a free port; returns (process, base URL). Its log goes to a file in
    `data_dir` (a pipe nobody reads would fill and stop the server)."""
    args = [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--in-memory", "--workers", "1", "--queue", "20"]
    if keys_file:
        args += ["--keys-file", keys_file]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SVISERVE_")}
    log_path = os.path.join(data_dir, f"server-{len(os.listdir(data_dir))}.log")
    log = open(log_path, "w")
    process = subprocess.Popen(args, stderr=log, stdout=subprocess.DEVNULL, env=env)
    deadline = time.time() + 30
    while time.time() < deadline and process.poll() is None:
        with open(log_path) as f:
            match = re.search(r'"event":"listening".*?"port":(\d+)', f.read())
        if match:
            return process, f"http://127.0.0.1:{match.group(1)}"
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the service did not start: {open(log_path).read()[:2000]}")


def run_schemathesis(openapi, base, examples, seed, headers, timeout):
    st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    args = [st, "--config-file", os.path.join(HERE, "schemathesis.toml"), "run", openapi, "--url", base,
            "--checks", "all", "--max-examples", str(examples), "--seed", str(seed), "--workers", "1",
            "--request-timeout", "20", "--no-color"]
    for h in headers:
        args += ["-H", h]
    started = time.time()
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    seconds = time.time() - started
    output = result.stdout + result.stderr
    cases = re.search(r"Test cases:\s*\n\s*(\d+) generated", output)
    failures = re.search(r"(\d+) found (\d+) unique failures", output)
    return {
        "ok": result.returncode == 0,
        "cases": int(cases.group(1)) if cases else None,
        "failures": int(failures.group(2)) if failures else 0,
        "seconds": seconds,
        "output": output,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sviserve")
    parser.add_argument("openapi")
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--record")
    options = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = os.path.join(tmp, "keys")
        with open(keys_file, "w") as f:
            f.write(f"# conformance run\n{KEY}\n")
        for label, keys, headers in [("without API keys", None, []), ("with API keys", keys_file, [f"Authorization: Bearer {KEY}"])]:
            process, base = start(options.sviserve, tmp, keys)
            try:
                run = run_schemathesis(options.openapi, base, options.examples, options.seed, headers, options.timeout)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            run["label"] = label
            runs.append(run)
            print(f"schemathesis {label}: {run['cases']} cases, {run['failures']} failures, {run['seconds']:.0f} s, {'ok' if run['ok'] else 'FAILED'}")
            if not run["ok"]:
                print(run["output"][-20000:])

    if options.record:
        with open(options.record, "w") as f:
            f.write(RECORD.format(
                examples=options.examples, seed=options.seed,
                rows="\n".join(f"| {r['label']} | {r['cases']} | {r['failures']} | {r['seconds']:.0f} |" for r in runs)))
    return 0 if all(r["ok"] for r in runs) else 1


RECORD = """# API conformance (schemathesis)

`make test` runs `tools/api_conformance.py`: schemathesis (PyPI, pinned in
`tools/requirements.txt`) with every check (`--checks all`: server errors, status codes,
content types, response schemas and headers, schema-violating requests rejected, schema-valid
requests accepted, missing headers, unsupported methods and `Allow`, ignored authentication,
use after free, resource availability) against `openapi.yaml`, on a fresh `sviserve serve`
(in memory, one worker) — once without API keys, once with a keys file and the key sent —
at most {examples} cases per operation and phase, seed {seed}. Any failure fails `make test`.
`tools/schemathesis.toml` holds the settings that differ from schemathesis' defaults, each with
its reason: a schema-valid spec may still be refused 422 by the compiler; an event stream is
read for at most 20 events; the coverage phase is off for the two spec operations (minutes over
the spec's schema, whose agreement with the decoder `JobSpecSchemaTests` checks on thousands of
mutated specs); draws are requested ten times per phase, as each computes draws.

Last recorded run (`.venv/bin/python tools/api_conformance.py .build/release/sviserve openapi.yaml --record docs/api-conformance.md`):

| run | test cases | failures | seconds |
|---|---|---|---|
{rows}
"""

if __name__ == "__main__":
    sys.exit(main())
