"""Checks every pod template in Kubernetes manifests against the Pod Security Standards'
"restricted" profile (the rules of kubernetes.io/docs/concepts/security/pod-security-standards,
baseline included), offline, for `make deploy-check`.

Usage: pod_security.py MANIFEST.yaml...   Exits 1 listing each violation.
"""
import sys

import yaml

ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}


def pod_spec(doc):
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec", {})
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def violations(name, spec):
    out = []
    pod = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            out.append(f"{flag} is set")
    for v in spec.get("volumes") or []:
        kinds = set(v) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            out.append(f"volume {v.get('name')} is of type {sorted(kinds)}")
    if pod.get("runAsUser") == 0:
        out.append("the pod runs as UID 0")
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or []) + (spec.get("ephemeralContainers") or [])
    for c in containers:
        sc = c.get("securityContext") or {}
        where = f"container {c.get('name')}"
        if sc.get("privileged"):
            out.append(f"{where} is privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation must be false")
        if not (sc.get("runAsNonRoot") is True or (pod.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)):
            out.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            out.append(f"{where} runs as UID 0")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{where}: capabilities must drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"{where} adds capabilities {caps.get('add')}")
        seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost (pod or container)")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append(f"{where} uses hostPort {p['hostPort']}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{where}: procMount must be Default")
    return [f"{name}: {v}" for v in out]


def main(paths):
    found, pods = [], 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") not in WORKLOADS:
                    continue
                pods += 1
                found += violations(f"{path}: {doc['kind']}/{doc['metadata']['name']}", pod_spec(doc))
    for v in found:
        print(v)
    print(f"pod security (restricted): {pods} pod template(s), {len(found)} violation(s)")
    return 1 if found or pods == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
