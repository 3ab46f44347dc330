"""Paired timings for the benchmarks: medians and the median ratio of back-to-back pairs.

Each side runs ``inner`` times per timing; the runs come in back-to-back pairs (reference,
candidate) in alternating order, so that load bursts from other processes hit both sides of
a pair, and the ratio reported is the median of the pairs' ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def time_per_call(run: Callable[[], object], inner: int) -> float:
    """Seconds per call of ``run``, averaged over ``inner`` calls."""
    start = time.perf_counter()
    for _ in range(inner):
        run()
    return (time.perf_counter() - start) / inner


def paired(
    reference: Callable[[], object], candidate: Callable[[], object], inner: int, repeats: int
) -> tuple[float, float, float]:
    """(median reference s, median candidate s, median of candidate/reference ratios)."""
    for run in (reference, candidate):  # warm-up
        time_per_call(run, inner)
    ref_times, cand_times, ratios = [], [], []
    for repeat in range(repeats):
        if repeat % 2:
            t_cand = time_per_call(candidate, inner)
            t_ref = time_per_call(reference, inner)
        else:
            t_ref = time_per_call(reference, inner)
            t_cand = time_per_call(candidate, inner)
        ref_times.append(t_ref)
        cand_times.append(t_cand)
        ratios.append(t_cand / t_ref)
    return statistics.median(ref_times), statistics.median(cand_times), statistics.median(ratios)


def bare_rsample_backward(num_samples: int) -> Callable[[], None]:
    """The reference of the estimator benchmarks: the cheapest pathwise gradient torch offers.

    ``torch.distributions.Normal(loc, scale).rsample((N,))``, the cost cos(z), its mean, and
    ``backward()`` to the scalars μ and σ.
    """
    loc = torch.tensor(1.0, requires_grad=True)
    scale = torch.tensor(1.5, requires_grad=True)

    def run() -> None:
        loc.grad = None
        scale.grad = None
        z = torch.distributions.Normal(loc, scale).rsample((num_samples,))
        torch.cos(z).mean().backward()

    return run
