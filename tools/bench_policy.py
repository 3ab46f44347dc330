"""Benchmark: the cost of a policy gradient for a tanh-squashed Gaussian policy.

Usage (from the repository root)::

    python tools/bench_policy.py                # default sizes
    python tools/bench_policy.py --repeats 31

For the bandit of the chapter "Reparameterized policies" (cost f(a) = 4(a − 0.75)², temperature
0.2), the reference is the soft actor-critic policy loss written with ``torch.distributions``:
``TransformedDistribution(Normal, TanhTransform(cache_size=1))``, ``rsample``, the mean of
f(a) + τ log π(a), and one ``torch.autograd.grad`` (the mean gradient only). Timed against it
in back-to-back pairs (tools/paired_timing.py; the printed ratio is the median of the pairs'
ratios): the same loss through ``reparam.policy.squashed_normal_rsample`` (what a training loop
uses), and the two estimators, which return one estimate per draw (for standard errors and
variances) and so differentiate per-draw copies of the parameters. No budget: the ratios are
the cost side of the chapter's variance comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributions as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paired_timing import paired

from reparam import policy

TEMPERATURE = 0.2


def cost(action: torch.Tensor) -> torch.Tensor:
    return 4 * (action - 0.75) ** 2


def _call(name: str, policies: int, dim: int, num_samples: int) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(0)
    loc = torch.zeros(policies, dim, dtype=torch.float64, requires_grad=True)
    scale = torch.ones(policies, dim, dtype=torch.float64, requires_grad=True)

    def total_cost(action: torch.Tensor) -> torch.Tensor:
        return cost(action).sum(-1)

    def torch_loss() -> None:
        squashed = dist.TransformedDistribution(
            dist.Normal(loc, scale), [dist.TanhTransform(cache_size=1)]
        )
        action = squashed.rsample((num_samples,))
        soft = total_cost(action) + TEMPERATURE * squashed.log_prob(action).sum(-1)
        torch.autograd.grad(soft.mean(0).sum(), (loc, scale))

    def reparam_loss() -> None:
        draws = policy.squashed_normal_rsample(loc, scale, num_samples, generator=gen)
        soft = total_cost(draws.action) + TEMPERATURE * draws.log_prob.sum(-1)
        torch.autograd.grad(soft.mean(0).sum(), (loc, scale))

    def estimator(
        gradient: Callable[..., dict[str, torch.Tensor]],
    ) -> Callable[[], None]:
        def run() -> None:
            gradient(total_cost, loc, scale, TEMPERATURE, num_samples, event_dims=1, generator=gen)

        return run

    calls: dict[str, Callable[[], None]] = {
        "torch loss": torch_loss,
        "reparam loss": reparam_loss,
        "pathwise": estimator(policy.soft_pathwise_gradient),
        "score": estimator(policy.soft_score_function_gradient),
    }
    return calls[name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = [(1, 1, 1_000), (32, 16, 8), (64, 64, 64)]
    header = f"{'policies x D, N':>16}  {'candidate':>12}  {'torch ms':>8}  {'cand. ms':>8}  ratio"
    print(header)
    for policies, dim, num_samples in sizes:
        work = policies * dim * num_samples
        inner = max(1, 200_000 // work)
        reference = _call("torch loss", policies, dim, num_samples)
        for name in ("reparam loss", "pathwise", "score"):
            candidate = _call(name, policies, dim, num_samples)
            ref, cand, ratio = paired(reference, candidate, inner, args.repeats)
            label = f"{policies}x{dim}, {num_samples}"
            print(
                f"{label:>16}  {name:>12}  {1e3 * ref:8.3f}  {1e3 * cand:8.3f}  {ratio:5.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
