"""Benchmark: the cost of a Bayesian layer's training step for the four ways of drawing weights.

Usage (from the repository root)::

    python tools/bench_weights.py                # default sizes
    python tools/bench_weights.py --repeats 31

For each size (minibatch B, input and output width) one step is the forward pass of
``reparam.weights.linear`` and the backward pass to the layer's mean and scale (a sum of
squares as the loss, float32 as a network would train). The reference is ``"shared"`` (one
weight matrix for the minibatch, the naive choice); per-example weights, local
reparameterization and Flipout are timed against it in back-to-back pairs, and the printed
ratio is the median of the pairs' ratios (tools/paired_timing.py). The chapter "Gaussians at
scale" quotes the same comparison for its network. No budget: the ratios are what the
chapter's trade-off (variance against cost) is about.
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

from reparam import weights


def _step(method: weights.Method, batch: int, fan_in: int, fan_out: int) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, fan_in, generator=gen)
    loc = (torch.randn(fan_out, fan_in, generator=gen) / fan_in**0.5).requires_grad_()
    scale = torch.full((fan_out, fan_in), 0.1, requires_grad=True)

    def run() -> None:
        y = weights.linear(x, loc, scale, method=method, generator=gen)
        torch.autograd.grad(y.square().sum(), [loc, scale])

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    sizes = [(128, 64, 32), (128, 256, 256), (512, 256, 256)]
    print(f"{'B x in x out':>16}  {'method':>12}  {'shared ms':>9}  {'method ms':>9}  ratio")
    for batch, fan_in, fan_out in sizes:
        inner = max(1, 2_000_000 // (batch * fan_in * fan_out))
        reference = _step("shared", batch, fan_in, fan_out)
        methods: tuple[weights.Method, ...] = ("per_example", "local", "flipout")
        for method in methods:
            candidate = _step(method, batch, fan_in, fan_out)
            ref, cand, ratio = paired(reference, candidate, inner, args.repeats)
            label = f"{batch} x {fan_in} x {fan_out}"
            print(
                f"{label:>16}  {method:>12}  {1e3 * ref:9.3f}  {1e3 * cand:9.3f}  {ratio:5.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
