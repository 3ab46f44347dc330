"""Training throughput of the VAE of the chapter "A variational autoencoder".

Usage (from the repository root)::

    python tools/bench_vae.py                # 500 steps per encoder gradient, 1 thread
    python tools/bench_vae.py --steps 3000 --threads 2

Trains the chapter's configuration — 8×8 binarised digits, encoder 64 → 128 → 2 + 2, decoder
2 → 128 → 64, Bernoulli pixels, minibatches of 100 images, one draw per image, estimator B
(analytic KL), Adam, single precision — once with the pathwise encoder gradient and once with
the score-function one, without evaluation, and prints optimisation steps per second (the
median of ``--repeats`` runs, after a short warm-up). Timing depends on the machine and on
its load: it is printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

from reparam.book import data, vae


def steps_per_second(
    train_x: torch.Tensor, encoder_gradient: str, num_steps: int, repeats: int
) -> float:
    rates = []
    for repeat in range(repeats + 1):  # the first run warms up and is discarded
        model = vae.VAE(
            64, 2, (128,), generator=torch.Generator().manual_seed(1), dtype=torch.float32
        )
        history = vae.train_vae(
            model,
            train_x,
            num_steps=num_steps if repeat else 50,
            batch_size=100,
            num_samples=1,
            learning_rate=3e-3,
            encoder_gradient=encoder_gradient,  # type: ignore[arg-type]
            generator=torch.Generator().manual_seed(2),
            progress=False,
        )
        if repeat:
            rates.append(history.steps_per_second)
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per estimator")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    digits = data.load_digits(
        generator=torch.Generator().manual_seed(0), binarize=True, dtype=torch.float32
    )
    print(
        f"VAE training throughput: {digits.num_train} training images, batch 100, "
        f"{args.steps} steps, {args.threads} thread(s), torch {torch.__version__}"
    )
    rates = {}
    for mode in ("pathwise", "score_function"):
        rates[mode] = steps_per_second(digits.train_inputs, mode, args.steps, args.repeats)
        print(f"  {mode:>15}: {rates[mode]:7.0f} steps/s  ({rates[mode] * 100:,.0f} images/s)")
    print(f"  ratio score_function / pathwise: {rates['score_function'] / rates['pathwise']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
