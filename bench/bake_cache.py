"""The same golden bake twice: Packer against the emulator, then the cache hit.

Starts a moto server on 127.0.0.1, bakes `golden` in a temporary copy of the project
(real `packer build`), then bakes it again with unchanged inputs, and prints one table:
wall time of each (median over runs, each run on fresh emulator state), the ratio, how
many Packer processes each started (a `packer` on PATH that logs, then runs the real one),
and the cache hit as a whole `kiln bake` process for comparison. The Packer column is
the median for the first bake (the very first run also asks `packer version` once; kiln
caches it) and the maximum for the cache hits. Goal: the cache hit
decides in ≤ 0.5 s with no Packer process.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from moto.server import ThreadedMotoServer

from kiln.bake import runner
from kiln.local import standins
from kiln.records import keys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "infra"))
RUNS = int(os.environ.get("KILN_BENCH_RUNS", "3"))


def project(workdir: Path) -> Path:
    root = workdir / "project"
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "images", root / "images")
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.email=bench@kiln.invalid", "-c", "user.name=bench", "commit",
                  "-qm", "bench"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


def packer_probe(workdir: Path) -> Path:
    real = shutil.which("packer")
    if real is None:
        sys.exit("packer not installed (apt-get install packer)")
    probe = workdir / "probe"
    probe.mkdir()
    log = workdir / "packer-calls.log"
    log.touch()
    (probe / "packer").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (probe / "packer").chmod(0o755)
    os.environ["PATH"] = f"{probe}{os.pathsep}{os.environ['PATH']}"
    return log


def calls(log: Path) -> int:
    return len(log.read_text().splitlines())


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's request log
    standins.fix_moto_fidelity()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
                       "XDG_CACHE_HOME": str(workdir / "cache"), "KILN_ACTOR": "bench"})
    os.environ.pop("AWS_PROFILE", None)
    try:
        log = packer_probe(workdir)
        key = workdir / "keys" / "bench.pem"
        keys.generate(key)
        os.environ["KILN_SIGNING_KEY"] = str(key)
        first, second, cli = [], [], []
        first_calls, second_calls, cli_calls = [], [], []
        for run in range(RUNS):
            urllib.request.urlopen(urllib.request.Request(  # noqa: S310 (loopback)
                f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
            root = project(workdir / f"run{run}")
            before = calls(log)
            start = time.perf_counter()
            baked = runner.bake("golden", root)
            first.append(time.perf_counter() - start)
            first_calls.append(calls(log) - before)
            assert not baked.cached
            before = calls(log)
            start = time.perf_counter()
            hit = runner.bake("golden", root)
            second.append(time.perf_counter() - start)
            second_calls.append(calls(log) - before)
            assert hit.cached and hit.image == baked.image
            before = calls(log)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kiln.cli", "bake", "golden", "--json"],
                           check=True, capture_output=True,
                           env={**os.environ, "KILN_PROJECT_DIR": str(root)})
            cli.append(time.perf_counter() - start)
            cli_calls.append(calls(log) - before)
        a, b, c = statistics.median(first), statistics.median(second), statistics.median(cli)
        print(f"{'kiln bake golden (moto server, packer ' + packer_version() + ')':<46} "
              f"{'median s':>9} {'packer procs':>12} {'runs':>5}")
        print(f"{'first bake: packer build + sign + tag':<46} {a:>9.3f} "
              f"{statistics.median(first_calls):>12.0f} {RUNS:>5}")
        print(f"{'second bake: cache hit (same process)':<46} {b:>9.3f} "
              f"{max(second_calls):>12} {RUNS:>5}")
        print(f"{'second bake: cache hit (whole kiln process)':<46} {c:>9.3f} "
              f"{max(cli_calls):>12} {RUNS:>5}")
        print(f"{'ratio (first / cache hit, same process)':<46} {a / b:>9.1f}")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def packer_version() -> str:
    out = subprocess.run(["packer", "version"], capture_output=True, text=True, check=False)
    return out.stdout.split()[1] if out.returncode == 0 and out.stdout.split() else "?"


if __name__ == "__main__":
    main()
