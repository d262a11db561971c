#!/usr/bin/env python3
"""The cost of running jobs in worker processes, for docs/benchmarks.md.

1. Start-up: `sviserve serve --in-memory --workers 1` runs N one-step jobs one after the
   other; the service logs, per job, its worker's start-up (spawn until the compiled job,
   less the compiling, which an in-process run does too) and tear-down (last message until
   the process is reaped). Reported: median and 90th percentile of each, and of their sum.
2. Steps/s: each spec runs R times alternately in process (`sviserve run`, the result's
   steps_per_second) and in the service's worker (the job's result's steps_per_second; the
   same training clock, from the first step to the last). Reported: each side's median and
   the ratio; and, less sensitive to other load on the machine, each process's CPU seconds
   (user + system: `sviserve run`'s from getrusage, the worker's as the service logs it).
Usage: swift build -c release && python3 bench/workers.py [--binary .build/release/sviserve]
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time

from service import free_port, http

def spec(example, steps):
    s = json.load(open(f"examples/{example}.json"))
    s["inference"]["steps"] = steps
    return s

def run_job(base, body, timeout=600, poll=0.2):
    job = http("POST", base + "/v1/jobs", json.dumps(body).encode())
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = http("GET", f"{base}/v1/jobs/{job['id']}")
        if j["status"] in ("succeeded", "failed", "cancelled"):
            if j["status"] != "succeeded":
                sys.exit(f"job {job['id']} {j['status']}: {j.get('error')}")
            return job["id"], http("GET", f"{base}/v1/jobs/{job['id']}/result")
        time.sleep(poll)
    sys.exit("job did not finish")

def percentile(xs, q):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(q * len(xs)))]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/sviserve")
    ap.add_argument("--startups", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", delete=False)
    server = subprocess.Popen([args.binary, "serve", "--in-memory", "--workers", "1", "--port", str(port)],
                              stderr=log, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try: http("GET", base + "/healthz"); break
            except Exception: time.sleep(0.05)
        ids = [run_job(base, spec("normal_normal_reparam", 1), poll=0.005)[0] for _ in range(args.startups)]
        time.sleep(0.2)
        lines = [json.loads(l) for l in open(log.name) if '"event":"worker"' in l]
        start = [l["start_ms"] for l in lines if l["id"] in ids]
        exit_ = [l["exit_ms"] for l in lines if l["id"] in ids]
        total = [a + b for a, b in zip(start, exit_)]
        out = {"startup_jobs": len(start),
               "worker_start_ms": {"median": statistics.median(start), "p90": percentile(start, 0.9)},
               "worker_exit_ms": {"median": statistics.median(exit_), "p90": percentile(exit_, 0.9)},
               "per_job_ms": {"median": statistics.median(total), "p90": percentile(total, 0.9)}}
        rates = {}
        for example, steps in [("normal_normal_reparam", 3_000_000), ("logreg", 600_000), ("eight_schools", 1_000_000), ("gmm_enum", 60_000)]:
            body = spec(example, steps)
            path = os.path.join(tempfile.gettempdir(), f"workers-bench-{example}.json")
            json.dump(body, open(path, "w"))
            inproc, worker, inproc_cpu, worker_cpu = [], [], [], []
            for _ in range(args.repeats):
                result = os.path.join(tempfile.gettempdir(), f"workers-bench-{example}-result.json")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([args.binary, "run", path, "--quiet", "--out", result], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                inproc_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                inproc.append(json.load(open(result))["steps_per_second"])
                job_id, job_result = run_job(base, body)
                worker.append(job_result["steps_per_second"])
                time.sleep(0.1)
                worker_cpu.append(next(json.loads(l)["cpu_seconds"] for l in open(log.name) if '"event":"worker"' in l and job_id in l))
            a, b = statistics.median(inproc), statistics.median(worker)
            c, d = statistics.median(inproc_cpu), statistics.median(worker_cpu)
            rates[example] = {"steps": steps, "in_process": round(a), "worker": round(b), "worker_over_in_process": round(b / a, 3),
                              "in_process_runs": [round(x) for x in inproc], "worker_runs": [round(x) for x in worker],
                              "cpu_seconds_in_process": round(c, 3), "cpu_seconds_worker": round(d, 3), "cpu_worker_over_in_process": round(d / c, 3)}
        out["steps_per_second"] = rates
        print(json.dumps(out, indent=2))
    finally:
        server.terminate(); server.wait(timeout=30); os.unlink(log.name)

if __name__ == "__main__":
    main()
