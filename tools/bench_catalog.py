"""Benchmark: sample + backward for every catalog row that torch.distributions also has.

Usage (from the repository root)::

    python tools/bench_catalog.py                 # 100 000 draws, float32, 15 pairs, 1 thread
    python tools/bench_catalog.py --num-samples 20000 --dtype float64 --pairs 25

For each row, in one process, times ``rsample`` of ``num_samples`` draws plus the backward pass
of their sum, through the catalog (``entry.distribution.rsample``) and through the
``torch.distributions`` counterpart. The two are timed in interleaved pairs (alternating which
goes first) after a warm-up, and the row's ratio is the median of the per-pair ratios ours/torch:
a burst of load from other processes slows both members of a pair and cancels in their ratio.
The implicit Gamma gradient alone (``log_gamma_alpha_grad`` against
``torch._standard_gamma_grad``, backward only) is timed the same way at α ∈ {0.1, 1, 10, 100,
1000}.

Budgets (issue 4): median ratio ≤ 1.0 and no row above 1.5, over the rows that are the
catalog's primary implementation of a distribution; the implicit Gamma gradient within 3x of
torch's at every α. The Box–Muller Gaussian and the Laplace log-ratio rows are alternative
constructions of the Gaussian and Laplace rows, kept in the book for teaching and doing more
arithmetic than torch's samplers by design: they are timed and printed, marked "alternative
construction", but not compared against the budget.
Timings use ``--threads`` intra-op threads (default 1: on a shared machine, multi-threaded
kernels mostly measure contention).
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

MEDIAN_BUDGET = 1.0
ROW_BUDGET = 1.5
IMPLICIT_BUDGET = 3.0
IMPLICIT_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
#: Rows that are a second, pedagogical construction of a distribution the catalog already has
#: (key -> the primary row). They do more arithmetic than torch's samplers by design (two
#: uniforms and a logarithm, a cosine and a square root, for one draw).
ALTERNATIVES = {"box_muller": "normal", "laplace_log_ratio": "laplace"}


def paired_times(
    ours: Callable[[], object], theirs: Callable[[], object], pairs: int
) -> tuple[float, float, float]:
    """Median time of each (seconds) and the median of the per-pair ratios ours/theirs."""
    for _ in range(2):  # warm-up
        ours()
        theirs()
    t_ours, t_theirs, ratios = [], [], []
    for i in range(pairs):
        order = (ours, theirs) if i % 2 == 0 else (theirs, ours)
        elapsed = []
        for function in order:
            start = time.perf_counter()
            function()
            elapsed.append(time.perf_counter() - start)
        a, b = elapsed if i % 2 == 0 else elapsed[::-1]
        t_ours.append(a)
        t_theirs.append(b)
        ratios.append(a / b)
    return statistics.median(t_ours), statistics.median(t_theirs), statistics.median(ratios)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    n = args.num_samples
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    print(
        f"{n} draws, {args.dtype}, {args.threads} thread(s); median of {args.pairs} interleaved "
        "pairs; times in ms (sample + backward)"
    )
    print(f"{'row':26s} {'ours':>8} {'torch':>8} {'ratio':>6}")
    primary: dict[str, float] = {}
    for key, entry in catalog.CATALOG.items():
        if entry.torch_distribution is None:
            continue
        params = {
            q.name: v.requires_grad_(q.differentiable)
            for q, v in zip(
                entry.distribution.parameters, entry.example_params(dtype).values(), strict=True
            )
        }
        make_torch = entry.torch_distribution

        def ours(entry: catalog.CatalogEntry = entry, params: dict = params) -> None:  # type: ignore[type-arg]
            z = entry.distribution.rsample(n, generator=generator, **params)
            z.sum().backward()

        def theirs(make: Callable = make_torch, params: dict = params) -> None:  # type: ignore[type-arg]
            z = make(params).rsample((n,))
            z.sum().backward()

        t_ours, t_torch, ratio = paired_times(ours, theirs, args.pairs)
        note = ""
        if key in ALTERNATIVES:
            primary_name = catalog.get(ALTERNATIVES[key]).name
            note = f"  alternative construction ({primary_name}), not compared with the budget"
        else:
            primary[key] = ratio
        print(f"{entry.name:26s} {1e3 * t_ours:8.2f} {1e3 * t_torch:8.2f} {ratio:6.2f}{note}")
    median = statistics.median(primary.values())
    worst = max(primary, key=primary.__getitem__)
    print(
        f"\nprimary rows ({len(primary)}): median ratio {median:.2f} "
        f"(budget ≤ {MEDIAN_BUDGET}: {verdict(median <= MEDIAN_BUDGET)}); largest "
        f"{primary[worst]:.2f}, {catalog.get(worst).name} "
        f"(budget ≤ {ROW_BUDGET}: {verdict(primary[worst] <= ROW_BUDGET)})"
    )

    print("\nimplicit Gamma gradient alone (backward only), ms:")
    print(f"{'alpha':>8} {'ours':>8} {'torch':>8} {'ratio':>6}")
    worst_implicit = 0.0
    for alpha in IMPLICIT_ALPHAS:
        a = torch.full((n,), alpha, dtype=dtype)
        log_x = gamma_log_draw(a, generator)
        x = log_x.exp()

        def ours_grad(a: torch.Tensor = a, log_x: torch.Tensor = log_x) -> None:
            log_gamma_alpha_grad(a, log_x)

        def torch_grad(a: torch.Tensor = a, x: torch.Tensor = x) -> None:
            torch._standard_gamma_grad(a, x)

        t_ours, t_torch, ratio = paired_times(ours_grad, torch_grad, args.pairs)
        worst_implicit = max(worst_implicit, ratio)
        print(f"{alpha:8g} {1e3 * t_ours:8.2f} {1e3 * t_torch:8.2f} {ratio:6.2f}")
    print(
        f"largest implicit-gradient ratio {worst_implicit:.2f} "
        f"(budget ≤ {IMPLICIT_BUDGET}: {verdict(worst_implicit <= IMPLICIT_BUDGET)})"
    )


if __name__ == "__main__":
    main()
