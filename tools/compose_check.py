"""Checks the compose files' safety settings (no container daemon needed).

Every service runs read-only, as a non-root user, without capabilities or privilege escalation,
and publishes (if at all) on 127.0.0.1 unless told otherwise. Every sviserve service refuses to
start without the user's own API key. With a database URL (the PostgreSQL store):
its password comes from the user's environment, the database is a service of the file that
publishes no port and has a health check the replicas wait for, and when there are several
replicas only the proxy publishes — one port — and its configuration sends to every replica,
checked on /readyz. Without one (the SQLite store) a service is a single replica: one writer
per store.

Usage: compose_check.py deploy/docker-compose.yml [deploy/docker-compose.postgres.yml ...]
"""
import os
import re
import sys

import yaml

REQUIRED = r"\$\{[A-Z_]+:\?[^}]+\}"


def is_sviserve(service):
    return "build" in service or str(service.get("image", "")).startswith("${SVISERVE_IMAGE")


def security(name, service):
    problems = []
    for port in service.get("ports") or []:
        if not str(port).startswith("${SVISERVE_BIND:-127.0.0.1}:"):
            problems.append(f"{name}: port {port!r} must bind ${{SVISERVE_BIND:-127.0.0.1}}")
    if service.get("read_only") is not True:
        problems.append(f"{name}: read_only must be true")
    if "ALL" not in (service.get("cap_drop") or []):
        problems.append(f"{name}: cap_drop must include ALL")
    if "no-new-privileges:true" not in (service.get("security_opt") or []):
        problems.append(f"{name}: security_opt must include no-new-privileges:true")
    if str(service.get("user", "")).split(":")[0] in ("", "0", "root"):
        problems.append(f"{name}: user must be the image's non-root UID")
    return problems


def keys(name, env):
    problems = []
    key = str(env.get("SVISERVE_API_KEYS", ""))
    if not re.fullmatch(REQUIRED, key):
        problems.append(f"{name}: SVISERVE_API_KEYS must be required from the user's environment (${{VAR:?message}}), got {key!r}")
    if "SVISERVE_KEYS_FILE" in env:
        problems.append(f"{name}: keys come from the user's own variable, not a file shipped here")
    return problems


def database(name, service, services):
    """The replica's database: its password from the user's environment, a service of this
    file that publishes nothing and is waited for until healthy."""
    url = str((service.get("environment") or {}).get("SVISERVE_DATABASE_URL", ""))
    match = re.fullmatch(r"postgres(?:ql)?://[^:@/]+:(" + REQUIRED + r")@([a-z0-9-]+)(?::\d+)?/\w+", url)
    if not match:
        return None, [f"{name}: SVISERVE_DATABASE_URL must be postgres://user:${{PASSWORD:?message}}@service/db, got {url!r}"]
    host = match.group(2)
    problems = []
    db = services.get(host)
    if db is None:
        return host, [f"{name}: the database host {host!r} is no service of this file"]
    if db.get("ports"):
        problems.append(f"{host}: the database must publish no port")
    if not (db.get("healthcheck") or {}).get("test"):
        problems.append(f"{host}: the database needs a healthcheck the replicas wait for")
    depends = service.get("depends_on") or {}
    if not isinstance(depends, dict) or (depends.get(host) or {}).get("condition") != "service_healthy":
        problems.append(f"{name}: depends_on {host} must wait for condition service_healthy")
    password = str((db.get("environment") or {}).get("POSTGRES_PASSWORD", ""))
    if password.split(":?")[0] != match.group(1).split(":?")[0] or not re.fullmatch(REQUIRED, password):
        problems.append(f"{host}: POSTGRES_PASSWORD must be the replicas' password variable, required from the user's environment")
    return host, problems


def proxied(path, replicas, services):
    """Only one service publishes, a proxy whose haproxy.cfg sends to every replica and checks /readyz."""
    problems = []
    published = [n for n, s in services.items() if s.get("ports")]
    if len(published) != 1 or published[0] in replicas:
        return [f"replicas {sorted(replicas)}: exactly one service, a proxy in front of them, publishes a port (got {published})"]
    proxy = services[published[0]]
    configs = [str(v).split(":")[0] for v in proxy.get("volumes") or [] if str(v).split(":")[0].endswith(".cfg")]
    if len(configs) != 1:
        return [f"{published[0]}: mounts no haproxy .cfg"]
    with open(os.path.join(os.path.dirname(path), configs[0]), encoding="utf-8") as f:
        config = f.read()
    servers = set(re.findall(r"^\s*server\s+\S+\s+([a-z0-9-]+):8080\b", config, re.MULTILINE))
    if servers != set(replicas):
        problems.append(f"{configs[0]}: servers {sorted(servers)} must be exactly the replicas {sorted(replicas)}")
    if not re.search(r"^\s*option httpchk GET /readyz\s*$", config, re.MULTILINE) or not re.search(r"default-server[^\n]*\bcheck\b", config):
        problems.append(f"{configs[0]}: every server must be health-checked on /readyz")
    if set(proxy.get("depends_on") or []) != set(replicas):
        problems.append(f"{published[0]}: depends_on must name every replica")
    return problems


def check(path):
    with open(path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    services = compose["services"]
    problems = []
    replicas = []
    for name, service in services.items():
        problems += security(name, service)
        if not is_sviserve(service):
            continue
        env = service.get("environment") or {}
        problems += keys(name, env)
        if service.get("secrets"):
            problems.append(f"{name}: keys and the database password come from the user's own variables, not files shipped here")
        if "SVISERVE_DATABASE_URL" in env:
            _, found = database(name, service, services)
            problems += found
            replicas.append(name)
        elif int(((service.get("deploy") or {}).get("replicas")) or 1) != 1:
            problems.append(f"{name}: the SQLite store has one writer: one replica")
    if len(replicas) > 1:
        problems += proxied(path, replicas, services)
    problems = list(dict.fromkeys(problems))
    for p in problems:
        print(f"{path}: {p}")
    print(f"{path}: {len(services)} service(s), {len(replicas)} replica(s) on PostgreSQL, {len(problems)} problem(s)")
    return problems


def main(paths):
    return 1 if sum(len(check(p)) for p in paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
