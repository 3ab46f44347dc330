"""Training throughput of the VAE of the chapter "A variational autoencoder".

Usage (from the repository root)::

    python tools/bench_vae.py                # 500 steps per configuration, 1 thread
    python tools/bench_vae.py --steps 3000 --threads 2

Trains the chapter's configuration — 8×8 binarised digits, encoder 64 → 128 → 2 + 2, decoder
2 → 128 → 64, Bernoulli pixels, minibatches of 100 images, one draw per image, estimator B
(analytic KL), Adam, single precision — without evaluation, in four ways: one run with the
pathwise encoder gradient, one with the score-function one, the chapter's three runs
(pathwise, score function, score function with a moving-average baseline) one after the
other, and the same three runs trained together by ``reparam.book.vae.train_vaes``. It prints
the median over ``--repeats`` timed runs (after a warm-up) of the optimisation steps per
second and of the process CPU time per step of a single run (the three runs together count as
one step), so a shared machine's load shows up as a gap between the two. Timing depends on the
machine and on its load: it is printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch

from reparam.book import data, vae

#: The chapter's three runs: encoder gradient and moving-average baseline decay.
RUNS: list[tuple[vae.EncoderGradient, float | None]] = [
    ("pathwise", None),
    ("score_function", None),
    ("score_function", 0.9),
]


def _model() -> vae.VAE:
    return vae.VAE(64, 2, (128,), generator=torch.Generator().manual_seed(1), dtype=torch.float32)


def _train(
    train_x: torch.Tensor,
    runs: list[tuple[vae.EncoderGradient, float | None]],
    num_steps: int,
    together: bool,
) -> None:
    options = dict(
        num_steps=num_steps, batch_size=100, num_samples=1, learning_rate=3e-3, progress=False
    )
    if together:
        vae.train_vaes(
            [_model() for _ in runs],
            train_x,
            encoder_gradients=[mode for mode, _ in runs],
            baseline_decays=[decay for _, decay in runs],
            generator=torch.Generator().manual_seed(2),
            **options,  # type: ignore[arg-type]
        )
        return
    for mode, decay in runs:
        vae.train_vae(
            _model(),
            train_x,
            encoder_gradient=mode,
            baseline_decay=decay,
            generator=torch.Generator().manual_seed(2),
            **options,  # type: ignore[arg-type]
        )


def measure(run: Callable[[int], None], num_steps: int, repeats: int) -> tuple[float, float]:
    """Median steps per second (wall clock) and CPU milliseconds per step of ``run``."""
    run(50)  # warm-up
    rates, cpu = [], []
    for _ in range(repeats):
        wall, process = time.perf_counter(), time.process_time()
        run(num_steps)
        rates.append(num_steps / (time.perf_counter() - wall))
        cpu.append(1e3 * (time.process_time() - process) / num_steps)
    return statistics.median(rates), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    digits = data.load_digits(
        generator=torch.Generator().manual_seed(0), binarize=True, dtype=torch.float32
    )
    x = digits.train_inputs
    print(
        f"VAE training throughput: {digits.num_train} training images, batch 100, "
        f"{args.steps} steps, {args.threads} thread(s), torch {torch.__version__}"
    )
    configurations: dict[str, Callable[[int], None]] = {
        "pathwise": lambda n: _train(x, RUNS[:1], n, together=False),
        "score function": lambda n: _train(x, RUNS[1:2], n, together=False),
        "3 runs, one by one": lambda n: _train(x, RUNS, n, together=False),
        "3 runs, together": lambda n: _train(x, RUNS, n, together=True),
    }
    results = {}
    for name, run in configurations.items():
        results[name] = measure(run, args.steps, args.repeats)
        rate, cpu = results[name]
        print(f"  {name:>19}: {rate:7.0f} steps/s  {cpu:5.2f} ms CPU per step")
    ratio = results["3 runs, one by one"][1] / results["3 runs, together"][1]
    print(f"  CPU time, 3 runs one by one / together: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
