"""Benchmark: sample + backward for every catalog row that torch.distributions also has.

Usage (from the repository root)::

    python tools/bench_catalog.py            # 100 000 draws, float32
    python tools/bench_catalog.py --num-samples 20000 --dtype float64

For each row, in one process, times ``rsample`` of ``num_samples`` draws plus the backward pass
of their sum, through the catalog (``entry.distribution.rsample``) and through the
``torch.distributions`` counterpart, and prints the ratio ours/torch (best of ``--repeats``
runs, after a warm-up). Then the median ratio and, separately, the implicit Gamma gradient
alone (``log_gamma_alpha_grad`` against ``torch._standard_gamma_grad``) at several shapes.
Goals (issue 4): median ratio ≤ 1.0, no row above 1.5, implicit Gamma within 3x of torch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reparam import catalog
from reparam.catalog.implicit import gamma_log_draw, log_gamma_alpha_grad


def best_time(function: Callable[[], object], repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    n = args.num_samples
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    print(f"{n} draws, {args.dtype}, best of {args.repeats}; times in ms (sample + backward)")
    print(f"{'row':26s} {'ours':>8} {'torch':>8} {'ratio':>6}")
    ratios = {}
    for key, entry in catalog.CATALOG.items():
        if entry.torch_distribution is None:
            continue
        params = {
            k: v.requires_grad_(entry.distribution.parameters[i].differentiable)
            for i, (k, v) in enumerate(entry.example_params(dtype).items())
        }
        make_torch = entry.torch_distribution

        def ours(entry: catalog.CatalogEntry = entry, params: dict = params) -> None:  # type: ignore[type-arg]
            z = entry.distribution.rsample(n, generator=generator, **params)
            z.sum().backward()

        def theirs(make: Callable = make_torch, params: dict = params) -> None:  # type: ignore[type-arg]
            z = make(params).rsample((n,))
            z.sum().backward()

        t_ours, t_torch = best_time(ours, args.repeats), best_time(theirs, args.repeats)
        ratios[key] = t_ours / t_torch
        print(f"{entry.name:26s} {1e3 * t_ours:8.2f} {1e3 * t_torch:8.2f} {ratios[key]:6.2f}")
    median = statistics.median(ratios.values())
    worst = max(ratios, key=ratios.__getitem__)
    print(f"median ratio {median:.2f}; largest {ratios[worst]:.2f} ({worst})")

    print("\nimplicit Gamma gradient alone (backward only), ms:")
    print(f"{'alpha':>8} {'ours':>8} {'torch':>8} {'ratio':>6}")
    for alpha in (0.1, 1.0, 2.5, 10.0, 100.0, 1000.0):
        a = torch.full((n,), alpha, dtype=dtype)
        log_x = gamma_log_draw(a, generator)
        x = log_x.exp()
        t_ours = best_time(lambda a=a, log_x=log_x: log_gamma_alpha_grad(a, log_x), args.repeats)
        t_torch = best_time(lambda a=a, x=x: torch._standard_gamma_grad(a, x), args.repeats)
        print(f"{alpha:8g} {1e3 * t_ours:8.2f} {1e3 * t_torch:8.2f} {t_ours / t_torch:6.1f}")


if __name__ == "__main__":
    main()
