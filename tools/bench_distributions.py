"""Benchmark: catalog rows as ``torch.distributions`` objects against torch's own classes.

Usage (from the repository root)::

    python tools/bench_distributions.py                    # 100 000 draws, float32, 1 thread
    python tools/bench_distributions.py --num-samples 1000 --repeats 15
    python tools/bench_distributions.py --rows gamma,f --repeats 41   # some rows only

For every catalog row with a ``torch.distributions`` counterpart (the primary rows; the two
alternative constructions of tools/bench_catalog.py are left out), in one process, two
units of work are timed in paired, alternating runs (tools/paired_timing.py) against the
same unit written with torch's class:

- rsample: build the distribution (``reparam.distributions.from_catalog(key, **params)``
  against ``torch.distributions.X(...)``, each validating its arguments), draw
  ``rsample((N,))``, and backpropagate the sum of the draws to the parameters;
- log_prob: build the distribution, evaluate ``log_prob`` at N fixed draws, and
  backpropagate its sum.

Each row prints the medians and the median of the paired ratios ours/torch, and, to tell the
wrapper's cost from the row's, the ratio of the rsample unit to the same draws taken from
the row itself (``entry.distribution.rsample(N, **params)``, validated, no wrapper): the
"wrapper" column. The budget (book issues 4 and 12), for rsample: median ratio ours/torch
over the rows <= 1.0 and no row above 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_catalog import ALTERNATIVES
from paired_timing import paired

from reparam import catalog
from reparam.distributions import from_catalog

MEDIAN_BUDGET = 1.0
ROW_BUDGET = 1.5


def _units(
    entry: catalog.CatalogEntry, num_samples: int, dtype: torch.dtype
) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """unit name -> (torch's, ours) for one catalog row."""
    differentiable = {p.name for p in entry.distribution.parameters if p.differentiable}
    params: dict[str, Any] = {
        name: value.requires_grad_(name in differentiable)
        for name, value in entry.example_params(dtype).items()
    }
    make_torch = entry.torch_distribution
    assert make_torch is not None
    with torch.no_grad():
        draws = make_torch(params).sample((num_samples,))

    def torch_rsample() -> None:
        make_torch(params).rsample((num_samples,)).sum().backward()

    def ours_rsample() -> None:
        from_catalog(entry.key, **params).rsample((num_samples,)).sum().backward()

    def row_rsample() -> None:
        entry.distribution.rsample(num_samples, **params).sum().backward()

    def torch_log_prob() -> None:
        make_torch(params).log_prob(draws).sum().backward()

    def ours_log_prob() -> None:
        from_catalog(entry.key, **params).log_prob(draws).sum().backward()

    return {
        "rsample": (torch_rsample, ours_rsample),
        "log_prob": (torch_log_prob, ours_log_prob),
        "wrapper": (row_rsample, ours_rsample),
    }


def calls_per_timing(run: Callable[[], None], seconds: float = 0.03) -> int:
    """How many calls of ``run`` take about ``seconds``: one timing of a millisecond call is
    at the mercy of the scheduler on a shared machine; of thirty, much less."""
    run()  # warm-up
    start = time.perf_counter()
    run()
    return max(1, round(seconds / (time.perf_counter() - start)))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument(
        "--rows", default="", help="comma-separated catalog keys to time (default: every row)"
    )
    args = parser.parse_args()
    chosen = [key for key in args.rows.split(",") if key]
    for key in chosen:
        catalog.get(key)  # KeyError naming the known keys
    torch.set_num_threads(1)
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    n = args.num_samples
    print(
        f"torch {torch.__version__}, 1 thread, {args.dtype}, N = {n}; medians of "
        f"{args.repeats} paired timings (each of about 30 ms of calls); times in ms per call"
    )
    print(
        f"{'row':22s} {'rsample: torch':>14} {'ours':>8} {'ratio':>6}   "
        f"{'log_prob: torch':>15} {'ours':>8} {'ratio':>6}   {'wrapper':>7}"
    )
    ratios: dict[str, dict[str, float]] = {"rsample": {}, "log_prob": {}, "wrapper": {}}
    for key, entry in catalog.CATALOG.items():
        if entry.torch_distribution is None or key in ALTERNATIVES:
            continue
        if chosen and key not in chosen:
            continue
        cells = []
        for unit, (theirs, ours) in _units(entry, n, dtype).items():
            inner = calls_per_timing(theirs)
            t_theirs, t_ours, ratio = paired(theirs, ours, inner, args.repeats)
            ratios[unit][key] = ratio
            cells.append(f"{1e3 * t_theirs:14.3f} {1e3 * t_ours:8.3f} {ratio:6.2f}")
        wrapper = ratios["wrapper"][key]
        print(f"{entry.name:22s} {cells[0]}   {cells[1]:>31}   {wrapper:7.2f}")
    ok = True
    for unit, by_row in ratios.items():
        median = statistics.median(by_row.values())
        worst = max(by_row, key=by_row.__getitem__)
        line = (
            f"{unit}: {len(by_row)} rows, median ratio {median:.2f}, largest "
            f"{by_row[worst]:.2f} ({catalog.get(worst).name})"
        )
        if unit == "rsample":
            met = median <= MEDIAN_BUDGET and by_row[worst] <= ROW_BUDGET
            ok = ok and met
            line += f"; budget median <= {MEDIAN_BUDGET}, none > {ROW_BUDGET}: {verdict(met)}"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
