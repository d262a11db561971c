#!/usr/bin/env python3
"""Replicas sharing one PostgreSQL job queue (issue 20), for docs/benchmarks.md.

A throwaway PostgreSQL cluster (Debian's server: initdb and postgres in a temporary directory,
on a free port, durable settings — fsync and synchronous commit on — and max_connections 300).

1. Jobs/s: for R = 1, 2, 3 replicas of `sviserve serve --workers 2` on a fresh database, J short
   jobs (normal_normal_reparam, 200 steps: each a worker process's start, compile, a few ms of
   SVI, the result stored) submitted round-robin to the replicas by 4 threads. Reported from the
   store's transitions table: jobs/s = J / (last job's end - first claim), and each job's wait
   in the queue (its submission to its claim) p50/p99.
2. Claim latency and claims/s: pgbench runs the replicas' claim transaction verbatim (the
   oldest queued job with FOR UPDATE SKIP LOCKED, claim counter, lease; its transition row;
   commit) with C = 6 (3 replicas x 2 workers), 32 and 200 (100 replicas x 2 workers)
   concurrent clients on a queue of queued rows; per-transaction latencies from pgbench's log
   give p50/p99, and its total gives claims/s — the claims one PostgreSQL serves here.
3. The per-owner scan every claim makes first (the owners with queued jobs, for the round
   robin between API keys): its time at queues of 1,000, 10,000 and 100,000 jobs.

Usage: swift build -c release --product sviserve && python3 bench/replicas.py [--jobs 300]
(make bench-replicas). Prints JSON.
"""
import argparse, glob, json, os, shutil, statistics, subprocess, sys, tempfile, threading, time

from service import free_port, http

CLAIM = """
BEGIN;
UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, 0), attempts = attempts + 1, claim = claim + 1,
    lease_owner = 'bench', lease_expires = EXTRACT(EPOCH FROM clock_timestamp())::float8 + 15
WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id \\gset
INSERT INTO transitions (job_id, status, at, step, attempt, claim, replica)
SELECT id, 'running', 0, step, attempts, claim, 'bench' FROM jobs WHERE id = :id;
COMMIT;
"""


def binaries():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        sys.exit("no PostgreSQL server under /usr/lib/postgresql (make deps installs Debian's postgresql)")
    return os.path.dirname(found[-1])


class Cluster:
    """initdb + postgres in a temporary directory; as root, run as nobody (PostgreSQL refuses root)."""

    def __init__(self):
        self.bin = binaries()
        self.dir = tempfile.mkdtemp(prefix="sviserve-bench-pg-")
        self.drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.getuid() == 0 else []
        if self.drop:
            shutil.chown(self.dir, "nobody", "nogroup")
        subprocess.run(self.drop + [f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"],
                       check=True, stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.server = subprocess.Popen(self.drop + [f"{self.bin}/postgres", "-D", f"{self.dir}/data", "-p", str(self.port), "-k", self.dir,
                                                    "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"],
                                       stdout=subprocess.DEVNULL, stderr=open(f"{self.dir}/server.log", "w"))
        for _ in range(300):
            if subprocess.run([f"{self.bin}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode == 0:
                break
            time.sleep(0.1)

    def url(self, db="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def sql(self, db, text):
        out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(db), "-c", text], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def database(self, name):
        self.sql("postgres", f"DROP DATABASE IF EXISTS {name}")
        self.sql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self):
        self.server.terminate()
        self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def replicas(binary, url, count):
    procs, bases = [], []
    for _ in range(count):
        port = free_port()
        procs.append(subprocess.Popen([binary, "serve", "--port", str(port), "--workers", "2", "--database-url", url],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        bases.append(f"http://127.0.0.1:{port}")
    for base in bases:
        for _ in range(400):
            try:
                http("GET", base + "/readyz"); break
            except Exception:
                time.sleep(0.05)
    return procs, bases


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def throughput(cluster, binary, count, jobs):
    url = cluster.database(f"r{count}")
    procs, bases = replicas(binary, url, count)
    spec = json.load(open("examples/normal_normal_reparam.json"))
    spec["inference"]["steps"] = 200
    body = json.dumps(spec).encode()
    try:
        def submit(k):
            for i in range(k, jobs, 4):
                http("POST", bases[i % count] + "/v1/jobs", body)
        threads = [threading.Thread(target=submit, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        deadline = time.time() + 600
        while int(cluster.sql(f"r{count}", "SELECT count(*) FROM jobs WHERE status = 'succeeded'")) < jobs:
            if time.time() > deadline:
                sys.exit(f"{count} replicas: the jobs did not finish")
            time.sleep(0.2)
        first, last = map(float, cluster.sql(f"r{count}", "SELECT min(at) FILTER (WHERE status = 'running'), max(at) FROM transitions").split("|"))
        waits = [float(x) for x in cluster.sql(f"r{count}", """
            SELECT r.at - q.at FROM transitions q JOIN transitions r ON r.job_id = q.job_id AND r.status = 'running' AND r.claim = 1
            WHERE q.status = 'queued' AND q.replica IS NULL""").split()]
        failed = int(cluster.sql(f"r{count}", "SELECT count(*) FROM jobs WHERE status <> 'succeeded'"))
        return {"replicas": count, "workers": 2 * count, "jobs": jobs, "seconds": round(last - first, 2), "jobs_per_second": round(jobs / (last - first), 1),
                "queue_wait_ms_p50": round(1000 * percentile(waits, 0.5), 1), "queue_wait_ms_p99": round(1000 * percentile(waits, 0.99), 1),
                "not_succeeded": failed}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def fill(cluster, db, rows, owners=1):
    cluster.sql(db, "TRUNCATE jobs CASCADE")
    cluster.sql(db, f"""
        INSERT INTO jobs (id, owner, name, status, created_at, progress, step, spec_digest, spec, tags)
        SELECT 'j' || g, 'owner' || (g % {owners}), 'bench', 'queued', 0, '{{}}', 0, '', '\\x00', '' FROM generate_series(1, {rows}) g""")
    cluster.sql(db, "VACUUM ANALYZE jobs")


def claims(cluster, db, clients, per_client):
    fill(cluster, db, clients * per_client + 1000)
    work = tempfile.mkdtemp(prefix="sviserve-pgbench-")
    script = os.path.join(work, "claim.sql")
    open(script, "w").write(CLAIM)
    # -M extended: parameters bound as the service's libpq calls bind them (PQexecParams).
    run = subprocess.run([f"{cluster.bin}/pgbench", "-n", "-M", "extended", "-f", script, "-c", str(clients), "-j", "2", "-t", str(per_client), "-l",
                          "--log-prefix", os.path.join(work, "log"), cluster.url(db)], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"pgbench: {run.stderr}")
    out = run.stdout
    latencies = []
    for path in glob.glob(os.path.join(work, "log*")):
        latencies += [int(line.split()[2]) / 1000 for line in open(path)]
    tps = next(float(line.split("=")[1].split()[0]) for line in out.splitlines() if line.startswith("tps"))
    shutil.rmtree(work, ignore_errors=True)
    return {"clients": clients, "claims": len(latencies), "claims_per_second": round(tps), "claim_ms_p50": round(percentile(latencies, 0.5), 2),
            "claim_ms_p99": round(percentile(latencies, 0.99), 2)}


# The scheduler's question before each claim: the next owner, after the last one served, with
# queued jobs. The service asks it with NEXT_OWNER (one probe of the (owner, seq) index of
# queued jobs, and one more to wrap around); GROUP_BY is how it asked before (every queued row).
NEXT_OWNER = "SELECT owner FROM jobs WHERE status = 'queued' AND owner > 'owner5' ORDER BY owner LIMIT 1;"
GROUP_BY = "SELECT owner, count(*) FROM jobs WHERE status = 'queued' GROUP BY owner;"


def owner_scan(cluster, db, rows, owners):
    fill(cluster, db, rows, owners)
    out = {"queued": rows, "owners": owners}
    for name, query in (("next_owner_ms_p50", NEXT_OWNER), ("group_by_ms_p50", GROUP_BY)):
        times = []
        for _ in range(20):
            text = subprocess.run(["psql", "-X", "-q", "-d", cluster.url(db)], input="\\timing on\n" + query.replace("\n", " ") + "\n",
                                  check=True, capture_output=True, text=True).stdout
            times += [float(line.split()[1]) for line in text.splitlines() if line.startswith("Time:")]
        out[name] = round(percentile(times, 0.5), 3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/sviserve")
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--owner-scan-only", action="store_true", help="only the scheduler's owner query, on a database one replica migrated")
    args = ap.parse_args()
    cluster = Cluster()
    try:
        if args.owner_scan_only:
            procs, _ = replicas(args.binary, cluster.database("scan"), 1)
            for p in procs:
                p.terminate(); p.wait()
            print(json.dumps([owner_scan(cluster, "scan", q, o) for q in (1000, 10000, 100000) for o in (10, 1000)], indent=1))
            return
        out = {"postgres": cluster.sql("postgres", "SHOW server_version"), "cores": os.cpu_count(), "load_before": os.getloadavg()[0]}
        out["jobs"] = []
        for r in (1, 2, 3):
            out["jobs"].append(throughput(cluster, args.binary, r, args.jobs))
            print(json.dumps(out["jobs"][-1]), file=sys.stderr)
        # The schema of the last run's database serves the claim measurements.
        out["claims"] = [claims(cluster, "r3", c, n) for c, n in ((6, 5000), (32, 1000), (200, 200))]
        out["owner_scan"] = [owner_scan(cluster, "r3", q, o) for q in (1000, 10000, 100000) for o in (10, 1000)]
        out["load_after"] = os.getloadavg()[0]
        print(json.dumps(out, indent=1))
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
