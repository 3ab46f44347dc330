"""What ``import reparam`` adds to ``import torch`` (budget: 0.3 s, issue #12).

Usage (from anywhere)::

    python tools/bench_import.py              # 15 pairs, prints the median added seconds
    python tools/bench_import.py --pairs 31   # more pairs, tighter median
    python tools/bench_import.py --breakdown  # also the slowest modules reparam imports

Every timing is a fresh interpreter, so nothing is cached in ``sys.modules``. The runs come in
back-to-back pairs, (``import torch``) and (``import torch; import reparam``), in alternating
order, so that a load burst from another process hits both sides of a pair; the figure is the
median over pairs of the difference. Each child times its own imports with ``perf_counter``,
so interpreter start-up and shutdown (the same on both sides) stay out of the figure.

On a busy machine the torch import alone varies by seconds and the paired figure drowns in
that noise. Two less noisy figures come from the same runs: the wall-clock seconds of
``import reparam`` right after ``import torch`` in the same interpreter, and the CPU seconds it
takes (``process_time``: this process's own CPU time, which other processes' load barely
changes, while it stretches every wall-clock figure). When the differences spread over more
than the budget (interquartile range), the script says so and judges the budget by the CPU
figure instead.

The script also checks that ``import reparam`` imports neither matplotlib nor scikit-learn
(they belong to ``reparam.book``) and exits non-zero if it does. The budget itself is read from
the printed figure, not enforced: timings on a shared machine are too noisy to fail a run on.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BUDGET_SECONDS = 0.3
BOOK_ONLY_MODULES = ("matplotlib", "sklearn")

# The child prints the wall-clock seconds ``import torch`` took, the wall-clock and CPU seconds
# the statements after it took, then the top-level names of the modules loaded, so one run
# gives the timings and the check.
_CHILD = """
import sys, time
start = time.perf_counter()
import torch
after_torch, cpu_after_torch = time.perf_counter(), time.process_time()
{after_torch}
end, cpu_end = time.perf_counter(), time.process_time()
print(after_torch - start, end - after_torch, cpu_end - cpu_after_torch)
print(" ".join(sorted({{name.partition(".")[0] for name in sys.modules}})))
"""


@dataclass
class ChildRun:
    """One fresh interpreter: seconds of ``import torch``, wall-clock and CPU seconds of what
    came after it, and the top-level modules it then held."""

    torch_seconds: float
    after_seconds: float
    after_cpu_seconds: float
    modules: set[str]


def timed_import(after_torch: str) -> ChildRun:
    """Run ``import torch`` then ``after_torch`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD.format(after_torch=after_torch)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path.home(),  # not the repository, so an installed reparam is what is timed
    )
    times_line, modules_line = result.stdout.splitlines()[-2:]
    torch_seconds, after_seconds, after_cpu_seconds = map(float, times_line.split())
    return ChildRun(torch_seconds, after_seconds, after_cpu_seconds, set(modules_line.split()))


@dataclass
class ImportTimings:
    """Seconds per run: torch alone, torch then reparam, and reparam right after torch."""

    torch_alone: list[float] = field(default_factory=list)
    torch_and_reparam: list[float] = field(default_factory=list)
    reparam_after_torch: list[float] = field(default_factory=list)
    reparam_cpu_after_torch: list[float] = field(default_factory=list)
    reparam_modules: set[str] = field(default_factory=set)

    def added(self) -> list[float]:
        """Per pair, what the reparam import added to the total."""
        return [
            both - alone
            for both, alone in zip(self.torch_and_reparam, self.torch_alone, strict=True)
        ]


def paired_runs(pairs: int) -> ImportTimings:
    """``pairs`` back-to-back pairs of fresh interpreters, in alternating order."""
    timings = ImportTimings()
    timed_import("import reparam")  # warm the file-system cache

    def with_reparam() -> None:
        run = timed_import("import reparam")
        timings.torch_and_reparam.append(run.torch_seconds + run.after_seconds)
        timings.reparam_after_torch.append(run.after_seconds)
        timings.reparam_cpu_after_torch.append(run.after_cpu_seconds)
        timings.reparam_modules = run.modules

    def torch_alone() -> None:
        timings.torch_alone.append(timed_import("pass").torch_seconds)

    for pair in range(pairs):
        for run in (with_reparam, torch_alone) if pair % 2 else (torch_alone, with_reparam):
            run()
    return timings


def slowest_modules(count: int) -> list[tuple[int, str]]:
    """The ``count`` modules with the largest self time (µs) that ``import reparam`` loads
    after torch, from ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import torch; import reparam"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path.home(),
    )
    lines = result.stderr.splitlines()
    # Everything after torch's own top-level entry is what reparam brought in.
    torch_done = max(i for i, line in enumerate(lines) if line.rstrip().endswith("| torch"))
    rows = []
    for line in lines[torch_done + 1 :]:
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(self_us), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15, help="number of paired runs")
    parser.add_argument("--breakdown", action="store_true", help="print the slowest modules")
    args = parser.parse_args()
    timings = paired_runs(args.pairs)
    added = timings.added()
    median_added = statistics.median(added)
    print(f"import torch: median {statistics.median(timings.torch_alone):.2f} s")
    print(
        f"import reparam adds: median {median_added:.3f} s over {args.pairs} pairs "
        f"(range {min(added):.3f} to {max(added):.3f} s)"
    )
    print(
        "import reparam right after import torch, same process: median "
        f"{statistics.median(timings.reparam_after_torch):.3f} s wall-clock, "
        f"{statistics.median(timings.reparam_cpu_after_torch):.3f} s CPU"
    )
    quartiles = statistics.quantiles(added, n=4)
    busy = quartiles[2] - quartiles[0] > BUDGET_SECONDS
    if busy:
        print(
            "the machine is busy: the pairs' differences spread over more than the budget, so "
            "the CPU figure decides"
        )
    figure = statistics.median(timings.reparam_cpu_after_torch) if busy else median_added
    verdict = "within budget" if figure <= BUDGET_SECONDS else "OVER BUDGET"
    print(f"budget {BUDGET_SECONDS} s: {figure:.3f} s, {verdict}")
    if args.breakdown:
        print("slowest modules after torch (self time, -X importtime):")
        for self_us, name in slowest_modules(10):
            print(f"  {self_us / 1e6:.3f} s  {name}")
    leaked = sorted(set(BOOK_ONLY_MODULES) & timings.reparam_modules)
    if leaked:
        print(f"import reparam imported {', '.join(leaked)}: these belong to reparam.book")
        return 1
    print(f"import reparam imports none of: {', '.join(BOOK_ONLY_MODULES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
