"""Checks deploy/docker-compose.yml's safety settings (no container daemon needed): it refuses
to start without the user's own API key, publishes on 127.0.0.1 unless told otherwise, and
runs read-only, as the image's non-root user, without capabilities or privilege escalation.

Usage: compose_check.py deploy/docker-compose.yml
"""
import re
import sys

import yaml


def main(path):
    with open(path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    problems = []
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        key = str(env.get("SVISERVE_API_KEYS", ""))
        if not re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", key):
            problems.append(f"{name}: SVISERVE_API_KEYS must be required from the user's environment (${{VAR:?message}}), got {key!r}")
        if "SVISERVE_KEYS_FILE" in env or service.get("secrets"):
            problems.append(f"{name}: keys come from the user's own variable, not a file shipped here")
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
    for p in problems:
        print(p)
    print(f"compose: {len(compose['services'])} service(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
