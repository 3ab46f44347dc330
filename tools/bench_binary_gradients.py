"""Benchmark: the cost of one estimate of the unbiased binary-gradient estimators.

Usage (from the repository root)::

    python tools/bench_binary_gradients.py                # default sizes
    python tools/bench_binary_gradients.py --repeats 31

For D independent bits and the coupled quadratic cost of the chapter "Unbiased gradients for
discrete variables", one call draws N estimates of the gradient in the D logits. The
reference is the leave-one-out score function (two evaluations of the cost per estimate, no
backward pass); ARM, DisARM (the same two evaluations), REBAR and RELAX (one discrete and two
relaxed evaluations, and a backward pass through the control) are timed against it in
back-to-back pairs, and the printed ratio is the median of the pairs' ratios
(tools/paired_timing.py). No budget: the ratios are the cost side of the chapter's
variance-against-cost comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paired_timing import paired

from reparam import binary_gradients as bg


def _call(name: str, num_bits: int, num_estimates: int) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(0)
    weights = 0.5 * torch.randn(num_bits, generator=gen)
    logits = torch.randn(num_bits, generator=gen)

    def cost(b: torch.Tensor) -> torch.Tensor:
        return (b @ weights - 0.5) ** 2

    def control(z: torch.Tensor) -> torch.Tensor:
        return cost(torch.sigmoid(z / 0.3)) + torch.tanh(z).sum(-1)

    calls: dict[str, Callable[[], object]] = {
        "loo": lambda: bg.reinforce_loo_gradient(cost, logits, num_estimates, generator=gen),
        "arm": lambda: bg.arm_gradient(cost, logits, num_estimates, generator=gen),
        "disarm": lambda: bg.disarm_gradient(cost, logits, num_estimates, generator=gen),
        "rebar": lambda: bg.rebar_gradient(
            cost, logits, num_estimates, temperature=0.3, generator=gen
        ),
        "relax": lambda: bg.relax_gradient(
            cost, logits, num_estimates, control=control, generator=gen
        ),
    }
    run = calls[name]

    def timed() -> None:
        run()

    return timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = [(12, 1_000), (12, 20_000), (200, 1_000)]
    print(f"{'D x N':>12}  {'estimator':>9}  {'LOO ms':>8}  {'est. ms':>8}  ratio")
    for num_bits, num_estimates in sizes:
        inner = max(1, 2_000_000 // (num_bits * num_estimates))
        reference = _call("loo", num_bits, num_estimates)
        for name in ("arm", "disarm", "rebar", "relax"):
            candidate = _call(name, num_bits, num_estimates)
            ref, cand, ratio = paired(reference, candidate, inner, args.repeats)
            label = f"{num_bits} x {num_estimates}"
            print(
                f"{label:>12}  {name:>9}  {1e3 * ref:8.3f}  {1e3 * cand:8.3f}  {ratio:5.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
