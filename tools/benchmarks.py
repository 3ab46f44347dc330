"""Run every speed benchmark of the book and print its figures.

Usage (from the repository root)::

    python tools/benchmarks.py            # every tools/bench_*.py script, then notebook timings
    python tools/benchmarks.py --build    # also time a clean build of the whole book

Budgets are checked by reading the printed ratios, not by timed tests (timings on shared CI
machines are too noisy to fail a build on). The budgets: each notebook <= 20 s (30 s for the
application chapters), a clean build <= 90 s, pathwise gradient <= 1.2x a bare rsample+backward,
catalog rows ours/torch median <= 1.0 and none above 1.5, ``import reparam`` <= 0.3 s on top
of ``import torch`` (tools/bench_import.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="also time a clean book build")
    args = parser.parse_args()
    failures = 0
    for script in sorted((ROOT / "tools").glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        failures += subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode != 0
    print("== notebooks (fresh kernel each)", flush=True)
    failures += (
        subprocess.run(
            # --no-write: time them only; a benchmark never rewrites the stored notebooks
            [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--no-write"],
            cwd=ROOT,
        ).returncode
        != 0
    )
    if args.build:
        jupyter_book = Path(sys.executable).with_name("jupyter-book")
        with tempfile.TemporaryDirectory() as output:
            start = time.perf_counter()
            result = subprocess.run(
                [
                    str(jupyter_book),
                    "build",
                    ".",
                    "-W",
                    "-n",
                    "--keep-going",
                    "--path-output",
                    output,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - start
        print(f"== clean build: {seconds:.1f} s (budget 90 s), exit code {result.returncode}")
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
