"""Benchmark: the cost of one estimate of the Gamma shape gradient, per estimator.

Usage (from the repository root)::

    python tools/bench_rejection.py                # default sizes
    python tools/bench_rejection.py --repeats 31

For z ~ Gamma(α, 1) and the cost f(z) = log z of the chapter "Rejection samplers and
generalized reparameterization", one call draws N per-sample estimates of ∂/∂α E[f(z)]. The
reference is PyTorch's implicit gradient (``Gamma.rsample``, a compiled sampler and backward,
through :func:`reparam.estimators.pathwise_gradient`); ``reparam``'s implicit gradient (the
catalog's Gamma row), RSVI without and with one boost, G-REP and the score function are
timed against it in back-to-back pairs, and the printed ratio is the median of the pairs'
ratios (tools/paired_timing.py). No budget: the ratios are the cost side of the chapter's
variance comparison.
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

from reparam import catalog, rejection
from reparam.estimators import pathwise_gradient, score_function_gradient


def _call(name: str, alpha: float, num_estimates: int) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(0)
    shape = torch.tensor(alpha, dtype=torch.float64)
    rate = torch.tensor(1.0, dtype=torch.float64)
    gamma = torch.distributions.Gamma(shape, rate)
    params = {"concentration": shape, "rate": rate}

    def cost(z: torch.Tensor) -> torch.Tensor:
        return z.log()

    calls: dict[str, Callable[[], object]] = {
        "torch": lambda: pathwise_gradient(cost, gamma, None, num_estimates, generator=gen),
        "implicit": lambda: pathwise_gradient(
            cost, catalog.get("gamma").distribution, params, num_estimates, generator=gen
        ),
        "rsvi B=0": lambda: rejection.rsvi_gradient(
            cost, shape, rate, num_estimates, boost=0, generator=gen
        ),
        "rsvi B=1": lambda: rejection.rsvi_gradient(
            cost, shape, rate, num_estimates, boost=1, generator=gen
        ),
        "grep": lambda: rejection.grep_gradient(cost, shape, rate, num_estimates, generator=gen),
        "score": lambda: score_function_gradient(cost, gamma, None, num_estimates, generator=gen),
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
    sizes = [(2.0, 1_000), (2.0, 100_000), (20.0, 10_000)]
    print(f"{'alpha, N':>12}  {'estimator':>9}  {'torch ms':>8}  {'est. ms':>8}  ratio")
    for alpha, num_estimates in sizes:
        inner = max(1, 200_000 // num_estimates)
        reference = _call("torch", alpha, num_estimates)
        for name in ("implicit", "rsvi B=0", "rsvi B=1", "grep", "score"):
            candidate = _call(name, alpha, num_estimates)
            ref, cand, ratio = paired(reference, candidate, inner, args.repeats)
            label = f"{alpha:g}, {num_estimates}"
            print(
                f"{label:>12}  {name:>9}  {1e3 * ref:8.3f}  {1e3 * cand:8.3f}  {ratio:5.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
