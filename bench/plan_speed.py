"""`kiln plan dev` end to end vs the floor any Pulumi Python program pays (SDK imports).

Prints one table: median wall time of each over alternating runs, and the ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUNS = int(os.environ.get("KILN_BENCH_RUNS", "5"))

OURS = [str(BIN / "kiln"), "plan", "dev", "--json"]
FLOOR = [sys.executable, "-c", "import pulumi, pulumi_aws, pulumi_docker"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    timed(OURS)  # warm the file cache once for both
    ours, floor = [], []
    for _ in range(RUNS):
        ours.append(timed(OURS))
        floor.append(timed(FLOOR))
    a, b = statistics.median(ours), statistics.median(floor)
    print(f"{'what':<44} {'median s':>9} {'runs':>5}")
    print(f"{'kiln plan dev --json (whole process)':<44} {a:>9.3f} {RUNS:>5}")
    print(f"{'import pulumi + pulumi_aws + pulumi_docker':<44} {b:>9.3f} {RUNS:>5}")
    print(f"{'ratio (plan / SDK import floor)':<44} {a / b:>9.2f}")


if __name__ == "__main__":
    main()
