"""Simulate other machines on this one: strict nbval over every notebook under other back ends.

A stored output is only worth committing if a reader's machine reproduces it. Readers' CPUs
differ in which BLAS kernels MKL picks, which SIMD width PyTorch's own kernels use, which
OpenBLAS kernels NumPy gets, and how many threads reduce a sum. Each of those can change the
last bits of a result, and a number printed at more digits than the computation supports then
differs. This script re-runs the strict nbval check of every notebook (exactly as the test
suite does) under settings that force other code paths::

    python tools/portability.py                       # every setting, every notebook
    python tools/portability.py --setting portable    # one setting (the one CI runs)
    python tools/portability.py --list                # what each setting changes
    python tools/portability.py book/foo.ipynb        # just these notebooks
    eval "$(python tools/portability.py --export portable)"   # a setting, for a shell

It exits non-zero if any setting fails to reproduce any stored output. The settings are
environment variables read when the libraries load, so each setting runs in its own pytest
process (and each notebook in its own fresh kernel, which inherits them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
TWO_THREADS = {
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2",
}

# name -> (environment, what it stands for)
SETTINGS: dict[str, tuple[dict[str, str], str]] = {
    "native": ({}, "this machine as it is"),
    "mkl-compatible": (
        {"MKL_CBWR": "COMPATIBLE"},
        "MKL's conditional-numerical-reproducibility mode: generic kernels",
    ),
    "mkl-sse4_2": ({"MKL_CBWR": "SSE4_2"}, "MKL as on a CPU with SSE4.2 but no AVX"),
    "mkl-avx2": ({"MKL_CBWR": "AVX2"}, "MKL as on an AVX2 CPU without AVX-512"),
    "aten-default": (
        {"ATEN_CPU_CAPABILITY": "default"},
        "PyTorch's own kernels without SIMD dispatch (as on a CPU it does not recognise)",
    ),
    "aten-avx2": ({"ATEN_CPU_CAPABILITY": "avx2"}, "PyTorch's kernels as on an AVX2 CPU"),
    "onednn-sse41": (
        {"ONEDNN_MAX_CPU_ISA": "SSE41"},
        "PyTorch's oneDNN kernels as on a CPU with SSE4.1 only",
    ),
    "openblas-haswell": (
        {"OPENBLAS_CORETYPE": "Haswell"},
        "NumPy's OpenBLAS as on an AVX2 CPU",
    ),
    "one-thread": (ONE_THREAD, "a single thread: reductions summed in another order"),
    "two-threads": (TWO_THREADS, "two threads"),
    # Everything non-native at once: the setting CI runs, farthest from this machine.
    "portable": (
        {
            "MKL_CBWR": "COMPATIBLE",
            "ATEN_CPU_CAPABILITY": "default",
            "OPENBLAS_CORETYPE": "Prescott",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            **ONE_THREAD,
        },
        "all of the above at their most generic, one thread",
    ),
}


def run_setting(name: str, notebooks: list[str], workers: int) -> tuple[bool, float]:
    env = dict(os.environ)
    env.update(SETTINGS[name][0])
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--nbval",
    ]
    if workers > 1:
        command += ["-n", str(workers), "--dist", "loadfile"]
    command += notebooks
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    return result.returncode == 0, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to check (default: book/*.ipynb)")
    parser.add_argument(
        "--setting",
        action="append",
        choices=sorted(SETTINGS),
        help="run only this setting (repeatable; default: every setting)",
    )
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--list", action="store_true", help="list the settings and exit")
    parser.add_argument(
        "--export",
        choices=sorted(SETTINGS),
        help="print a setting as shell `export` lines (for `eval`) and exit",
    )
    args = parser.parse_args(argv)

    if args.export:
        for key, value in SETTINGS[args.export][0].items():
            print(f"export {key}={value}")
        return 0

    if args.list:
        for name, (env, meaning) in SETTINGS.items():
            assignments = " ".join(f"{k}={v}" for k, v in env.items()) or "(nothing changed)"
            print(f"{name:17} {meaning}\n{'':17} {assignments}")
        return 0

    notebooks = args.notebooks or sorted(
        str(p.relative_to(ROOT)) for p in ROOT.glob("book/*.ipynb")
    )
    failed = []
    for name in args.setting or list(SETTINGS):
        print(f"== {name}: {SETTINGS[name][1]}", flush=True)
        ok, seconds = run_setting(name, notebooks, args.workers)
        print(f"== {name}: {'reproduced' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print(f"stored outputs not reproduced under: {', '.join(failed)}")
        return 1
    print("every setting reproduced every stored output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
