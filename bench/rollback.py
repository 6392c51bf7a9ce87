"""`kiln rollback` and `kiln traffic` (whole processes) vs the bare flip with
`aws elbv2 modify-listener`.

One moto server on 127.0.0.1 with the staging stack stood up from the program's own
resource graph (hot standby, so the standby colour is healthy). Runs alternate in one
process: kiln rolls back to the other colour (`--to`, since a plain second rollback changes
nothing), the AWS CLI (its own virtualenv, installed on first use) makes the same single
ModifyListener call, and `kiln traffic` moves the weights to 50 % and back to 100 %.
Prints medians, the ratios, and the AWS calls kiln made per operation (mutating ones
counted apart).
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
import venv
from pathlib import Path

from moto.server import ThreadedMotoServer

from kiln.aws import traffic
from kiln.project import stackfiles

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUNS = int(os.environ.get("KILN_BENCH_RUNS", "7"))
AWSCLI = "awscli==1.44.8"  # same botocore line as kiln's pin
TOOLS = Path(os.environ.get("KILN_BENCH_TOOLS", Path.home() / ".cache" / "kiln-bench"))
KILN = Path(sys.executable).parent / "kiln"
MUTATING = ("Create", "Modify", "Put", "Update", "Delete", "Register", "Set", "Start", "Stop")


def aws_cli() -> Path:
    env = TOOLS / "awscli"
    exe = env / "bin" / "aws"
    if not exe.exists():
        venv.create(env, with_pip=True)
        subprocess.run([env / "bin" / "python", "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", AWSCLI], check=True)
    return exe


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    aws = aws_cli()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    try:
        root = work / "project"
        root.mkdir()
        shutil.copy(ROOT / "Pulumi.yaml", root)
        shutil.copytree(ROOT / "stacks", root / "stacks")
        (root / "infra").symlink_to(ROOT / "infra")
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://{host}:{port}",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "eu-west-1", "KILN_PROJECT_DIR": str(root)}
        os.environ.update(env)
        # The test suite's scenario builder: importable once ROOT is on sys.path (above).
        from tests.scenario import stand_up  # noqa: PLC0415

        stackfiles.update_config(stackfiles.load_project(root), "staging",
                                 {"kiln:standby": "hot"})
        stand_up(root, "staging")
        deployment = traffic.discover("eu-west-1", "web", "staging")
        groups = deployment.target_groups

        def flip_command(to: str) -> list[str]:
            weights = ",".join(f"{{TargetGroupArn={groups[c]},Weight={100 if c == to else 0}}}"
                               for c in ("blue", "green"))
            return [str(aws), "elbv2", "modify-listener", "--listener-arn",
                    deployment.listener_arn, "--default-actions",
                    f"Type=forward,ForwardConfig={{TargetGroups=[{weights}]}}"]

        calls_log = work / "calls.log"
        kiln_env = {**env, "KILN_AWS_CALL_LOG": str(calls_log)}
        ours, bare, moves = [], [], []
        calls: dict[str, list[str]] = {}

        def kiln(name: str, *args: str) -> float:
            calls_log.unlink(missing_ok=True)
            took = timed([str(KILN), *args], kiln_env)
            calls[name] = [c.split()[1] for c in calls_log.read_text().split("\n") if c]
            return took

        for _ in range(RUNS):
            live = stackfiles.load_settings(stackfiles.load_project(root), "staging").live
            idle = "green" if live == "blue" else "blue"
            ours.append(kiln("rollback", "rollback", "staging", "--to", idle))
            # the bare flip sends traffic back where kiln just took it from, and back again
            bare.append(timed(flip_command(live), env))
            subprocess.run(flip_command(idle), env=env, check=True, stdout=subprocess.DEVNULL)
            moves.append(kiln("traffic", "traffic", "staging", "50"))
            moves.append(kiln("traffic", "traffic", "staging", "100"))
        a, b, t = statistics.median(ours), statistics.median(bare), statistics.median(moves)
        print(f"{'what':<52} {'median s':>9} {'runs':>5}")
        print(f"{'kiln rollback staging (check, flip, verify, write, ledger)':<52} "
              f"{a:>9.3f} {RUNS:>5}")
        print(f"{'kiln traffic staging 50|100 (same gates, one call)':<52} "
              f"{t:>9.3f} {2 * RUNS:>5}")
        print(f"{'aws elbv2 modify-listener (bare flip)':<52} {b:>9.3f} {RUNS:>5}")
        print(f"{'ratio rollback (kiln / bare)':<52} {a / b:>9.2f}")
        print(f"{'ratio traffic (kiln / bare)':<52} {t / b:>9.2f}")
        for name, made in calls.items():
            mutating = [c for c in made if c.startswith(MUTATING)]
            print(f"{f'AWS calls per kiln {name} (mutating)':<52} {len(made):>9} "
                  f"({len(mutating)}: {', '.join(mutating)})")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
