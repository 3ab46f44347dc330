"""Benchmark: the pathwise surrogate loss against a bare ``Normal.rsample`` + ``backward``.

Usage (from the repository root)::

    python tools/bench_surrogate.py            # default sizes
    python tools/bench_surrogate.py --repeats 51

Both sides draw N Gaussian samples of a scalar-parameter N(μ, σ²), evaluate the cost
cos(z), average, and backpropagate to μ and σ, in one process:

- bare: ``torch.distributions.Normal(loc, scale).rsample((N,))``, ``cos(z).mean().backward()``;
- ours: ``reparam.surrogate.pathwise_surrogate(cos, reparam.NORMAL, params, N,
  generator=...)``, ``.backward()`` (validation and an explicit generator included), and
  the same with the ``torch.distributions.Normal`` passed in (built, and validated by torch,
  in every call as on the bare side). A torch ``Normal``'s draws are ``loc + scale * ε`` with
  ε drawn from the generator directly: the numbers its ``rsample`` draws under the state
  swap that other torch distributions get (reparam.distributions._DrawingFrom, about 5 µs
  on a CPU), without the swap.

Medians of ``--repeats`` paired runs after warm-up (tools/paired_timing.py). The budget
(book issue 12): ratio <= 1.05.
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
from reparam.surrogate import pathwise_surrogate

BUDGET = 1.05


def _ours(num_samples: int, torch_input: bool) -> Callable[[], None]:
    loc = torch.tensor(1.0, requires_grad=True)
    scale = torch.tensor(1.5, requires_grad=True)
    generator = torch.Generator().manual_seed(0)

    def run() -> None:
        loc.grad = None
        scale.grad = None
        if torch_input:
            q = torch.distributions.Normal(loc, scale)
            loss = pathwise_surrogate(torch.cos, q, None, num_samples, generator=generator)
        else:
            params = {"loc": loc, "scale": scale}
            loss = pathwise_surrogate(
                torch.cos, reparam.NORMAL, params, num_samples, generator=generator
            )
        loss.backward()

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    print(f"torch {torch.__version__}, 1 thread, float32, cost cos(z)")
    print(f"{'N':>9} {'input':>20} {'bare (ms)':>10} {'ours (ms)':>10} {'ratio':>7}")
    worst = 0.0
    for size in args.sizes:
        inner = max(1, 200_000 // size)
        for label, torch_input in (("reparam.NORMAL", False), ("torch Normal", True)):
            t_bare, t_ours, ratio = paired(
                _bare(size), _ours(size, torch_input), inner, args.repeats
            )
            worst = max(worst, ratio)
            print(f"{size:>9} {label:>20} {1e3 * t_bare:10.4f} {1e3 * t_ours:10.4f} {ratio:7.3f}")
    verdict = "within" if worst <= BUDGET else "OVER"
    print(f"worst ratio {worst:.3f}: {verdict} the budget of {BUDGET}")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
