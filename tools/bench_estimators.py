"""Benchmark: the pathwise estimator against a bare ``Normal.rsample`` + ``backward``.

Usage (from the repository root)::

    python tools/bench_estimators.py            # default sizes
    python tools/bench_estimators.py --repeats 51

Both sides draw N Gaussian samples of a scalar-parameter N(μ, σ²), evaluate the cost
cos(z), and backpropagate to μ and σ, in one process:

- bare: ``torch.distributions.Normal(loc, scale).rsample((N,))``, ``cost.mean().backward()``
  (one total gradient, the cheapest thing autograd can do);
- ours: ``reparam.estimators.pathwise_gradient`` (validation, explicit generator and the
  N per-sample gradients, shape ``(N,)`` each).

Each timing is the median of ``--repeats`` runs after warm-up. The runs come in back-to-back
pairs (bare, ours) in alternating order, and the reported ratio is the median of the pairs'
ratios, which is robust to load from other processes on a shared machine. The budget (book
issue 3) is ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paired_timing import bare_rsample_backward as _bare
from paired_timing import paired

import reparam
from reparam.estimators import pathwise_gradient

BUDGET = 1.2


def _ours(num_samples: int) -> Callable[[], None]:
    loc = torch.tensor(1.0)
    scale = torch.tensor(1.5)
    generator = torch.Generator().manual_seed(0)
    params = {"loc": loc, "scale": scale}

    def run() -> None:
        pathwise_gradient(torch.cos, reparam.NORMAL, params, num_samples, generator=generator)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100, 1_000, 10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float32, cost cos(z)")
    print(f"{'N':>9} {'bare (ms)':>11} {'pathwise (ms)':>14} {'ratio (median of pairs)':>24}")
    worst = 0.0
    for size in args.sizes:
        bare, ours = _bare(size), _ours(size)
        inner = max(1, 200_000 // size)
        t_bare, t_ours, ratio = paired(bare, ours, inner, args.repeats)
        worst = max(worst, ratio)
        print(f"{size:>9} {1e3 * t_bare:11.4f} {1e3 * t_ours:14.4f} {ratio:24.3f}")
    verdict = "within" if worst <= BUDGET else "OVER"
    print(f"worst ratio {worst:.3f}: {verdict} the budget of {BUDGET}")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
