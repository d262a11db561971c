"""A live `sviserve serve` for the client's tests: in memory, on a free loopback port.

The binary is $SVISERVE_BINARY, else the repository's .build/release/sviserve (`make test`
builds it first).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
KEY = "client-test-key-0123456789"


def _start(*extra):
    """A service on a free port: (process, base URL). Its log goes to a temporary file (a pipe
    nobody reads would fill and stop the server)."""
    binary = os.environ.get("SVISERVE_BINARY") or os.path.join(ROOT, ".build", "release", "sviserve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SVISERVE_")}
    log = tempfile.NamedTemporaryFile("w+", prefix="sviserve-", suffix=".log", delete=False)
    process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", "--in-memory", "--workers", "2", *extra],
                               stderr=log, stdout=subprocess.DEVNULL, env=env)
    process.log_path = log.name
    deadline = time.time() + 30
    while time.time() < deadline and process.poll() is None:
        with open(log.name) as f:
            match = re.search(r'"event":"listening".*?"port":(\d+)', f.read())
        if match:
            return process, f"http://127.0.0.1:{match.group(1)}"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("sviserve serve did not start: " + open(log.name).read()[:2000])


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    os.unlink(process.log_path)


@pytest.fixture(scope="session")
def server():
    """The base URL of a service without API keys."""
    process, url = _start()
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory):
    """The base URL of a service with one API key, KEY."""
    keys = tmp_path_factory.mktemp("keys") / "keys"
    keys.write_text(f"# test\n{KEY}\n")
    process, url = _start("--keys-file", str(keys))
    yield url
    _stop(process)


@pytest.fixture
def examples():
    return os.path.join(ROOT, "examples")
